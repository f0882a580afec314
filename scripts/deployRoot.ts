// Deploys a CocoonRoot owned by the sending wallet. Its genesis (in the StateInit, visible before anyone
// stakes) may whitelist a measurement and trust a verifier key; later additions are timelocked.
// npx blueprint run deployRoot --testnet --tonconnect networkId=2 minStake=10 governanceDelay=172800 measurement=0x.. model=llama-3-8b verifierKey=0x..
import { NetworkProvider } from '@ton/blueprint';
import {
    scriptContext, defaultParams, parseInteger, parseTon, parseUint256, requireUint, formatKeyValues, paramRows, formatDuration,
    formatHex256, type Params,
} from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['networkId'], false);
    const networkId = Number(requireUint('networkId', await a.integer('networkId', 'Network id (uint32; e.g. 1 mainnet, 2 testnet):', 1n), 32));
    const d = defaultParams();
    const params: Params = {
        ...d,
        minStake: a.has('minStake') ? parseTon('minStake', a.optional('minStake')) : d.minStake,
        maxPrice: a.has('maxPrice') ? parseTon('maxPrice', a.optional('maxPrice')) : d.maxPrice,
        unbondingPeriod: a.has('unbondingPeriod') ? parseInteger('unbondingPeriod', a.optional('unbondingPeriod')) : d.unbondingPeriod,
        maxAttestationTtl: a.has('maxAttestationTtl') ? parseInteger('maxAttestationTtl', a.optional('maxAttestationTtl')) : d.maxAttestationTtl,
        disputeWindow: a.has('disputeWindow') ? parseInteger('disputeWindow', a.optional('disputeWindow')) : d.disputeWindow,
        protocolFeeBps: a.has('protocolFeeBps') ? parseInteger('protocolFeeBps', a.optional('protocolFeeBps')) : d.protocolFeeBps,
        stakerShareBps: a.has('stakerShareBps') ? parseInteger('stakerShareBps', a.optional('stakerShareBps')) : d.stakerShareBps,
        slashBps: a.has('slashBps') ? parseInteger('slashBps', a.optional('slashBps')) : d.slashBps,
        reporterBountyBps: a.has('reporterBountyBps') ? parseInteger('reporterBountyBps', a.optional('reporterBountyBps')) : d.reporterBountyBps,
    };
    const value = a.has('value') ? parseTon('value', a.optional('value')) : undefined;
    const governanceDelay = a.has('governanceDelay') ? Number(parseInteger('governanceDelay', a.optional('governanceDelay'))) : undefined;
    const measurements: [bigint, string][] = [];
    if (a.has('measurement')) measurements.push([parseUint256('measurement', a.optional('measurement')), await a.text('model', 'Model name for this measurement:')]);
    const verifierKeys = a.has('verifierKey') ? [parseUint256('verifierKey', a.optional('verifierKey'))] : [];
    const res = await ops.deployRoot({ networkId, params, value, governanceDelay, measurements, verifierKeys });
    write(`Deployed CocoonRoot ${addr(res.root)}`);
    write(formatKeyValues('root', [['owner', addr(res.owner, false)], ['networkId', String(res.networkId)], ['governanceDelay', formatDuration(res.governanceDelay)]]));
    write(formatKeyValues('parameter', paramRows(res.params)));
    for (const [m, model] of measurements) write(`Whitelisted measurement ${formatHex256(m)} = ${model}`);
    for (const k of verifierKeys) write(`Trusted verifier key ${formatHex256(k)}`);
    write(`export COCOON_ROOT=${res.root.toString({ testOnly: provider.network() !== 'mainnet' })}`);
}

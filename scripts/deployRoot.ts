// Deploys a CocoonRoot owned by the sending wallet, optionally whitelisting a measurement and a verifier key.
// npx blueprint run deployRoot --testnet --tonconnect networkId=2 minStake=10 measurement=0x.. model=llama-3-8b verifierKey=0x..
import { NetworkProvider } from '@ton/blueprint';
import {
    scriptContext, defaultParams, parseInteger, parseTon, parseUint256, requireUint, formatKeyValues, paramRows, type Params,
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
    const res = await ops.deployRoot({ networkId, params, value });
    write(`Deployed CocoonRoot ${addr(res.root)}`);
    write(formatKeyValues('root', [['owner', addr(res.owner, false)], ['networkId', String(res.networkId)]]));
    write(formatKeyValues('parameter', paramRows(res.params)));
    const withRoot = ops.withRoot(res.root);
    if (a.has('measurement')) {
        const m = parseUint256('measurement', a.optional('measurement'));
        const model = await a.text('model', 'Model name for this measurement:');
        await withRoot.addMeasurement(m, model);
        write(`Whitelisted measurement 0x${m.toString(16).padStart(64, '0')} = ${model}`);
    }
    if (a.has('verifierKey')) {
        const k = parseUint256('verifierKey', a.optional('verifierKey'));
        await withRoot.addVerifierKey(k);
        write(`Trusted verifier key 0x${k.toString(16).padStart(64, '0')}`);
    }
    write(`export COCOON_ROOT=${res.root.toString({ testOnly: provider.network() !== 'mainnet' })}`);
}

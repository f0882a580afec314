// Changes network parameters (owner only); parameters not given keep their current value.
// npx blueprint run setParams --testnet --tonconnect minStake=20 protocolFeeBps=300
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, parseInteger, parseTon, formatTable, paramRows, type Params } from '../src/sdk';

const TON_FIELDS = ['minStake', 'maxPrice'] as const;
const INT_FIELDS = ['unbondingPeriod', 'maxAttestationTtl', 'disputeWindow', 'protocolFeeBps', 'stakerShareBps', 'slashBps', 'reporterBountyBps'] as const;

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args);
    const current = await ops.root.getParams();
    const next: Params = { ...current };
    for (const k of TON_FIELDS) if (a.has(k)) next[k] = parseTon(k, a.optional(k));
    for (const k of INT_FIELDS) if (a.has(k)) next[k] = parseInteger(k, a.optional(k));
    const known = new Set<string>(['root', ...TON_FIELDS, ...INT_FIELDS]);
    const unknown = Object.keys(a.named).filter((k) => !known.has(k));
    if (unknown.length) throw new Error(`unknown parameter(s): ${unknown.join(', ')}`);
    const { before, after } = await ops.setParams(next);
    const b = paramRows(before), n = paramRows(after);
    write('Parameters updated:');
    write(formatTable(['parameter', 'before', 'after'], b.map(([k, v], i) => [k, v, n[i][1] === v ? '(same)' : n[i][1]])));
}

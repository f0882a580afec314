// Changes network parameters (owner only); parameters not given keep their current value. A change
// that only removes power (lower fees, price cap or attestation lifetime, a higher stakers' share)
// acts at once; anything else is proposed and acts after the governance delay (`execute`).
// npx blueprint run setParams --testnet --tonconnect protocolFeeBps=300
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, parseInteger, parseTon, formatTable, paramRows, paramsAddingPower, type Params, type ArgReader, reportProposed } from '../src/sdk';

const TON_FIELDS = ['minStake', 'maxPrice'] as const;
const INT_FIELDS = ['unbondingPeriod', 'maxAttestationTtl', 'disputeWindow', 'protocolFeeBps', 'stakerShareBps', 'slashBps', 'reporterBountyBps'] as const;
export const PARAM_FIELDS = [...TON_FIELDS, ...INT_FIELDS] as const;

/** `current` with the parameters given as name=value arguments. */
export function paramsFromArgs(a: ArgReader, current: Params): Params {
    const next: Params = { ...current };
    for (const k of TON_FIELDS) if (a.has(k)) next[k] = parseTon(k, a.optional(k));
    for (const k of INT_FIELDS) if (a.has(k)) next[k] = parseInteger(k, a.optional(k));
    return next;
}

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args);
    const { ops, args: a, write } = ctx;
    const current = await ops.root.getParams();
    const known = new Set<string>(['root', ...PARAM_FIELDS]);
    const unknown = Object.keys(a.named).filter((k) => !known.has(k));
    if (unknown.length) throw new Error(`unknown parameter(s): ${unknown.join(', ')}`);
    const next = paramsFromArgs(a, current);
    const adding = paramsAddingPower(current, next);
    if (adding.length) {
        write(`Changing ${adding.join(', ')} adds power: the change is proposed and acts after the governance delay.`);
        reportProposed(ctx, await ops.proposeParams(next));
        return;
    }
    const { before, after } = await ops.setParams(next);
    const b = paramRows(before), n = paramRows(after);
    write('Parameters updated:');
    write(formatTable(['parameter', 'before', 'after'], b.map(([k, v], i) => [k, v, n[i][1] === v ? '(same)' : n[i][1]])));
}

// Announces a change that adds power (owner only); anyone executes it after the governance delay.
// npx blueprint run propose --testnet --tonconnect change=addMeasurement measurement=0x<64 hex> model=qwen-2.5-72b
//   change=addVerifierKey key=0x<64 hex>
//   change=setParams <any parameter>=<value> (the others keep their current value)
//   change=setVerifierQuorum quorum=<1..16>
//   change=setGovernanceDelay delay=<seconds, 3600..2592000>
//   change=upgradeRoot version=<n> code=<file: a .boc, or Blueprint's build/NAME.compiled.json>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, CHANGE_KINDS, codeFromFile, reportProposed, type GovernanceChange, type ScriptContext } from '../src/sdk';
import { paramsFromArgs, PARAM_FIELDS } from './setParams';

export async function changeFromArgs(ctx: ScriptContext, kind: string): Promise<GovernanceChange> {
    const a = ctx.args;
    const allowed = (names: string[]) => {
        const known = new Set(['root', 'change', ...names]);
        const unknown = Object.keys(a.named).filter((k) => !known.has(k));
        if (unknown.length) throw new Error(`unknown argument(s) for change=${kind}: ${unknown.join(', ')}`);
    };
    switch (kind) {
        case 'addMeasurement': {
            allowed(['measurement', 'model']);
            return { kind, measurement: await a.uint256('measurement', 'Measurement (0x + 64 hex):'), model: await a.text('model', 'Model name:') };
        }
        case 'addVerifierKey':
            allowed(['key']);
            return { kind, key: await a.uint256('key', 'Verifier public key (0x + 64 hex):') };
        case 'setParams':
            allowed([...PARAM_FIELDS]);
            return { kind, params: paramsFromArgs(a, await ctx.ops.root.getParams()) };
        case 'setVerifierQuorum':
            allowed(['quorum']);
            return { kind, quorum: await a.integer('quorum', 'Verifier quorum (1..16):') };
        case 'setGovernanceDelay':
            allowed(['delay']);
            return { kind, delay: await a.integer('delay', 'Governance delay (seconds, 3600..2592000):') };
        case 'upgradeRoot':
            allowed(['version', 'code']);
            return { kind, version: await a.integer('version', 'New root version:'), code: codeFromFile(await a.text('code', 'Root code file (.boc or .compiled.json):')) };
        default:
            throw new Error(`change: "${kind}" is not a change that is proposed; one of ${CHANGE_KINDS.join(', ')}`);
    }
}

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['change']);
    const kind = await ctx.args.text('change', `Change (${CHANGE_KINDS.join(', ')}):`);
    const change = await changeFromArgs(ctx, kind);
    reportProposed(ctx, await ctx.ops.propose(change));
}

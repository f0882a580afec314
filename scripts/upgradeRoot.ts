// Proposes a root upgrade (owner only): new code that reads this root's snapshot (docs/ARCHITECTURE.md,
// Upgrades). It acts when executed after the governance delay, and only if the new code reports the
// announced version and carries the ledger over unchanged.
// npx blueprint run upgradeRoot --testnet --tonconnect version=2 code=build/CocoonRoot/tact_CocoonRoot.code.boc
// (Tact's own output: Blueprint's build/CocoonRoot.compiled.json holds the last contract the file compiles)
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, reportProposed, codeFromFile } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['version', 'code']);
    const version = Number(await ctx.args.integer('version', 'New root version:'));
    const code = codeFromFile(await ctx.args.text('code', 'Root code file (.boc or .compiled.json):'));
    reportProposed(ctx, await ctx.ops.proposeUpgrade(version, code));
}

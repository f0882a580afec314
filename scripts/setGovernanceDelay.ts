// Proposes a new governance delay (owner only; the change itself waits for the current delay).
// npx blueprint run setGovernanceDelay --testnet --tonconnect delay=172800
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, reportProposed } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['delay']);
    const delay = Number(await ctx.args.integer('delay', 'Governance delay (seconds, 3600..2592000):'));
    reportProposed(ctx, await ctx.ops.proposeGovernanceDelay(delay));
}

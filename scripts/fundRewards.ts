// Adds TON to the stakers' reward pool (anyone).
// npx blueprint run fundRewards --testnet --tonconnect amount=10
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon, attachFor } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['amount']);
    const amount = await a.ton('amount', 'Amount to add to the reward pool (TON):');
    write(`Attaching ${formatTon(amount + attachFor('fundRewards'))} (amount + fees; the unused part comes back)`);
    const r = await ops.fundRewards(amount);
    write(`Reward pool: ${formatTon(r.pool.before)} -> ${formatTon(r.pool.after)}`);
}

// Adds stake to the sender's active Worker.
// npx blueprint run topUpStake --testnet --tonconnect amount=50
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['amount']);
    const amount = await a.ton('amount', 'Stake to add (TON):');
    const r = await ops.topUpStake(amount);
    write(`Worker ${addr(r.worker)} stake: ${formatTon(r.stake.before)} -> ${formatTon(r.stake.after)}`);
}

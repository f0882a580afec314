// Withdraws protocol fees from the treasury to the owner's wallet (owner only).
// npx blueprint run withdrawTreasury --testnet --tonconnect amount=1.5
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['amount']);
    const amount = await a.ton('amount', 'Amount to withdraw (TON):');
    const r = await ops.withdrawTreasury(amount);
    write(`Treasury: ${formatTon(r.before)} -> ${formatTon(r.after)} (${formatTon(amount)} sent to the owner)`);
}

// Pays the sender's accrued staking rewards to its wallet.
// npx blueprint run claimRewards --testnet --tonconnect
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr } = await scriptContext(provider, args);
    const r = await ops.claimRewards();
    write(`Worker ${addr(r.worker)}: claimed ${formatTon(r.amount)} of rewards`);
}

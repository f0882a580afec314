// Withdraws the unbonded stake to the operator's wallet after the unbonding period.
// npx blueprint run withdrawStake --testnet --tonconnect
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr } = await scriptContext(provider, args);
    const r = await ops.withdrawStake();
    write(`Worker ${addr(r.worker)}: withdrew ${formatTon(r.amount)} to the operator`);
}

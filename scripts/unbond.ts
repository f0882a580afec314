// Starts unbonding all of the sender's active stake; the worker stops serving.
// npx blueprint run unbond --testnet --tonconnect
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon, formatTime } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr } = await scriptContext(provider, args);
    const r = await ops.unbond();
    write(`Worker ${addr(r.worker)}: ${formatTon(r.unbonding)} unbonding, withdrawable at ${formatTime(r.withdrawableAt)}`);
}

// Anyone: makes a worker that can no longer serve (attestation expired, no key, stake below the
// minimum) unbond, so its stake stops taking a share of reward funding. The change comes back.
// npx blueprint run dropInactive --testnet --tonconnect worker=<address> (or operator=<address>)
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, parseAddress, formatTon, formatTime } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['worker']);
    const worker = a.has('operator')
        ? await ops.workerOf(parseAddress('operator', a.optional('operator')))
        : await a.address('worker', 'Worker contract address:');
    const r = await ops.dropInactive(worker);
    write(`Worker ${addr(r.worker)}: ${formatTon(r.unbonding)} unbonding, withdrawable at ${formatTime(r.withdrawableAt)}`);
}

// Proves equivocation with two contradicting receipts signed by the worker's TEE key (anyone;
// the reporter gets the bounty). a=/b=: receipt files (cocoon_receipt JSON or SignedReceipt BOC).
// npx blueprint run slash --testnet --tonconnect worker=<address> a=receipt1.json b=receipt2.json
import { readFileSync } from 'node:fs';
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, readSignedReceipt, formatTon, formatWorkerStatus } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['worker', 'a', 'b'], false);
    const worker = await a.address('worker', 'Worker contract address:');
    const ra = readSignedReceipt(readFileSync(await a.text('a', 'First receipt file:'), 'utf8'));
    const rb = readSignedReceipt(readFileSync(await a.text('b', 'Second receipt file:'), 'utf8'));
    const r = await ops.slash(worker, ra, rb);
    write(`Worker ${addr(r.worker)}: ${formatWorkerStatus(r.status.before)} -> ${formatWorkerStatus(r.status.after)}, ${formatTon(r.slashed)} slashed`);
}

// Stops a worker whose measurement was removed from the whitelist (owner only); its stake unbonds.
// npx blueprint run deactivateWorker --testnet --tonconnect operator=<address> measurement=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatWorkerStatus, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['operator', 'measurement']);
    const operator = await a.address('operator', 'Operator wallet address:');
    const measurement = await a.uint256('measurement', 'Revoked measurement (0x + 64 hex):');
    const r = await ops.deactivateWorker(operator, measurement);
    write(`Worker ${addr(r.worker)}: ${formatWorkerStatus(r.status.before)} -> ${formatWorkerStatus(r.status.after)}, unbonding ${formatTon(r.unbonding)}`);
}

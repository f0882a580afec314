// Closes the sender's escrow: the worker may still claim during the dispute window.
// npx blueprint run closeEscrow --testnet --tonconnect escrow=<address>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTime } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr, escrowArg } = await scriptContext(provider, args, ['escrow'], false);
    const escrow = await escrowArg();
    const r = await ops.closeEscrow(escrow);
    write(`Escrow ${addr(r.escrow)} closing; withdraw after ${formatTime(r.closeAt)}`);
}

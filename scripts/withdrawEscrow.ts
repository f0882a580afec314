// After the dispute window: returns what is left of the deposit to the client; the escrow is destroyed.
// npx blueprint run withdrawEscrow --testnet --tonconnect escrow=<address>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr, escrowArg } = await scriptContext(provider, args, ['escrow'], false);
    const escrow = await escrowArg();
    const r = await ops.withdrawEscrow(escrow);
    write(`Escrow ${addr(r.escrow)}: ${formatTon(r.amount)} returned to the client; ${formatTon(r.feesFlushed)} of fees forwarded to the root`);
}

// Makes an escrow read its worker's current TEE key again (after a re-attestation); client or operator.
// npx blueprint run refreshWorker --testnet --tonconnect escrow=<address>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256 } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr, escrowArg } = await scriptContext(provider, args, ['escrow'], false);
    const escrow = await escrowArg();
    const r = await ops.refreshWorker(escrow);
    write(`Escrow ${addr(r.escrow)} teeKey: ${formatHex256(r.teeKey.before)} -> ${formatHex256(r.teeKey.after)}`);
}

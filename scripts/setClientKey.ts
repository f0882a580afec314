// Replaces the client key of the sender's escrow (SetClientKey): API keys signed by the old key stop
// working as soon as worker nodes re-read the escrow. Use it when an API key or the key itself leaked.
// npx blueprint run setClientKey --testnet --tonconnect escrow=<address> clientKey=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256 } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr, escrowArg } = await scriptContext(provider, args, ['escrow', 'clientKey'], false);
    const escrow = await escrowArg();
    const clientKey = await a.uint256('clientKey', 'The new client public key (0x + 64 hex digits; `cocoon rotate-key` makes one):');
    const r = await ops.setClientKey(escrow, clientKey);
    write(`Escrow ${addr(r.escrow)}: client key ${formatHex256(r.clientKey.before)} -> ${formatHex256(r.clientKey.after)}`);
}

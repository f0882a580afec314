// Withdraws a pending proposal (owner only).
// npx blueprint run cancel --testnet --tonconnect id=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256, describeChange } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['id']);
    const id = await a.uint256('id', 'Proposal id (0x + 64 hex):');
    const r = await ops.cancel(id);
    write(`Cancelled ${formatHex256(r.id)}: ${describeChange(r.change)}`);
}

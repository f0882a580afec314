// Executes a pending proposal whose delay is over (anyone may); the change acts exactly as proposed.
// npx blueprint run execute --testnet --tonconnect id=0x<64 hex>   (`status` lists the pending ones)
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256, describeChange } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['id']);
    const id = await a.uint256('id', 'Proposal id (0x + 64 hex):');
    const r = await ops.execute(id);
    write(`Executed ${formatHex256(r.id)}: ${describeChange(r.change)}`);
}

// Stops trusting an attestation verifier key (owner only).
// npx blueprint run removeVerifierKey --testnet --tonconnect key=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatHex256 } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write } = await scriptContext(provider, args, ['key']);
    const key = await a.uint256('key', 'Verifier public key (0x + 64 hex):');
    const r = await ops.removeVerifierKey(key);
    write(`Verifier key ${formatHex256(key)}: trusted ${r.before} -> ${r.after}`);
}

// Proposes trusting an attestation verifier's ed25519 public key (owner only); anyone executes it
// after the governance delay.
// npx blueprint run addVerifierKey --testnet --tonconnect key=0x<64 hex>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, reportProposed } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const ctx = await scriptContext(provider, args, ['key']);
    const key = await ctx.args.uint256('key', 'Verifier public key (0x + 64 hex):');
    reportProposed(ctx, await ctx.ops.proposeAddVerifierKey(key));
}

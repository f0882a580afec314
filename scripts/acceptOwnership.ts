// Completes an ownership transfer; send from the proposed owner's wallet.
// npx blueprint run acceptOwnership --testnet --tonconnect
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write, addr } = await scriptContext(provider, args);
    const r = await ops.acceptOwnership();
    write(`Owner: ${addr(r.before, false)} -> ${addr(r.after, false)}`);
}

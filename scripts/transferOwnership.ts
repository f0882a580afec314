// Proposes a new owner (owner only); the new owner completes it with acceptOwnership.
// npx blueprint run transferOwnership --testnet --tonconnect newOwner=<address>
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['newOwner']);
    const newOwner = await a.address('newOwner', 'New owner wallet address:');
    const r = await ops.proposeOwner(newOwner);
    write(`Pending owner: ${addr(r.before, false)} -> ${addr(r.after, false)}`);
    write('The new owner must now run acceptOwnership from its wallet.');
}

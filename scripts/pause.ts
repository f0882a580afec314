// Emergency stop of registrations and attestations (owner only).
// npx blueprint run pause --testnet --tonconnect
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, write } = await scriptContext(provider, args);
    const r = await ops.setPaused(true);
    write(`Network paused: ${r.before} -> ${r.after}`);
}

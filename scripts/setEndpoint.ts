// Publishes the URL of the operator's node on its Worker (clients read it from the chain).
// npx blueprint run setEndpoint --testnet --tonconnect endpoint=https://worker.example.com:8443
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['endpoint']);
    const endpoint = await a.text('endpoint', 'Endpoint URL (https://host:port):');
    const r = await ops.setEndpoint(endpoint);
    write(`Worker ${addr(r.worker)} endpoint: ${r.endpoint.before ?? '-'} -> ${r.endpoint.after}`);
}

// `cocoon dashboard`: the dashboard against testnet/mainnet (toncenter through the SDK's RemoteChain;
// wallets connect with TonConnect), or against a fresh local sandbox network with the development wallet.
// Runs until SIGINT/SIGTERM.
import { toNano } from '@ton/core';
import { keepRunning, type Service } from '../demo/serve';
import { parseAddressArg } from '../client/remote';
import { RemoteSource } from './source';
import { startDashboard } from './server';

export interface DashboardCommandOptions {
    network: 'sandbox' | 'testnet' | 'mainnet';
    root?: string;
    toncenter?: string;
    apiKey?: string;
    host: string;
    port: number;
    publicUrl?: string;
    print?: (line: string) => void;
    /** Stop when this settles (tests); default: on SIGINT/SIGTERM. */
    until?: Promise<unknown>;
}

export async function runDashboardCommand(o: DashboardCommandOptions): Promise<void> {
    const print = o.print ?? ((l: string) => console.error(l));
    const services: Service[] = [];
    try {
        if (o.network === 'sandbox') {
            const { startLocalNetwork } = await import('../demo/localNetwork');
            const { startSandboxDashboard, sandboxAccounts } = await import('./sandbox');
            const net = await startLocalNetwork({
                workers: 3, prices: [toNano('100'), toNano('150'), toNano('200')], stake: toNano('100'), completionTokens: 48, extraWallets: ['client'],
            });
            services.push({ name: 'local network (chain, worker nodes, backend)', stop: net.stop });
            const d = await startSandboxDashboard({ bc: net.bc, root: net.root, accounts: sandboxAccounts(net.operators.length), host: o.host, port: o.port, publicUrl: o.publicUrl });
            services.push(...d.services);
            print(`dashboard of a local sandbox network (${net.nodes.length} worker nodes, development wallet): ${d.dashboard.url}`);
        } else {
            const root = parseAddressArg('--root', o.root ?? process.env.COCOON_ROOT);
            const source = new RemoteSource({ network: o.network, root, endpoint: o.toncenter, apiKey: o.apiKey });
            const d = await startDashboard({ source, host: o.host, port: o.port, publicUrl: o.publicUrl });
            services.push({ name: `dashboard ${d.url}`, stop: d.stop });
            print(`dashboard of ${o.network} root ${root.toString({ testOnly: o.network === 'testnet' })}: ${d.url}`);
            print(`wallets connect with TonConnect; the manifest is ${o.publicUrl ?? d.url}/tonconnect-manifest.json` +
                (o.publicUrl ? '' : ' (wallet apps fetch it over HTTPS: serve the page behind HTTPS and pass --public-url for real wallets)'));
        }
    } catch (e) {
        for (const s of services.reverse()) await s.stop().catch(() => undefined);
        throw e;
    }
    await keepRunning(services, { print, until: o.until });
}

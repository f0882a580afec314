// `npm start`: the whole Cocoon flow in one process (see sandboxDemo.ts), or the same node and
// client against testnet (testnet.ts). Exit code 0 only if every check holds.
import { Command, Option } from 'commander';
import { toNano } from '@ton/core';
import { ClientError } from '../client/errors';
import { runSandboxDemo, type DemoResult, type SandboxDemoOptions } from './sandboxDemo';
import { DEMO_PRICES } from './localNetwork';
import type { TestnetDemoOptions } from './testnet';
import { keepRunning, sandboxClock, stopAll, type Service } from './serve';

export interface MainOptions extends Partial<SandboxDemoOptions>, Partial<Omit<TestnetDemoOptions, keyof SandboxDemoOptions>> {
    network?: 'sandbox' | 'testnet';
    /** After the demo keep the network running with the dashboard on this port (0: any free one). */
    dashboardPort?: number;
    dashboardHost?: string;
    /** After the demo keep the network running with the gateway (src/gateway) on this port (0: any free one). */
    gatewayPort?: number;
}

export interface MainResult extends DemoResult {
    /** With dashboardPort or gatewayPort: what keeps running (network, clock, dashboard, gateway), for keepRunning. */
    services?: Service[];
    dashboardUrl?: string;
    gatewayUrl?: string;
}

/** Runs the demo (in-process; tests call this) and returns its result without exiting. */
export async function main(opts: MainOptions = {}): Promise<MainResult> {
    const print = opts.print ?? ((l: string) => console.log(l));
    const serve = opts.dashboardPort !== undefined || opts.gatewayPort !== undefined;
    if ((opts.network ?? 'sandbox') === 'testnet') {
        if (opts.dashboardPort !== undefined) throw new ClientError('CONFIG', '--dashboard-port runs with the sandbox network', 'for testnet run: npm run cocoon -- dashboard --network testnet --root <address>');
        if (opts.gatewayPort !== undefined) throw new ClientError('CONFIG', '--gateway-port runs with the sandbox network', 'for testnet run: npm run cocoon -- gateway --network testnet --root <address> --budget … --per-worker-deposit … --max-price …');
        const { runTestnetDemo } = await import('./testnet');
        const r = await runTestnetDemo({ ...opts, print });
        print(r.summary);
        return r;
    }
    const result = await runSandboxDemo({
        workers: opts.workers ?? 3,
        requestsPerWorker: opts.requestsPerWorker ?? 4,
        deposit: opts.deposit ?? toNano('2'),
        prices: opts.prices ?? DEMO_PRICES,
        stake: opts.stake ?? toNano('100'),
        completionTokens: opts.completionTokens ?? 48,
        fund: opts.fund ?? toNano('3'),
        print,
        onDelta: opts.onDelta,
        keepNetwork: serve,
    });
    print('');
    print(result.summary);
    print(`timings (ms): ${Object.entries(result.timings).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (!result.network) return result;
    const net = result.network;
    const services: Service[] = [{ name: 'local network (chain, worker nodes, backend)', stop: net.stop }];
    const out: MainResult = { ...result, services };
    try {
        if (opts.dashboardPort !== undefined) {
            const { startSandboxDashboard, sandboxAccounts } = await import('../dashboard/sandbox');
            const d = await startSandboxDashboard({ bc: net.bc, root: net.root, accounts: sandboxAccounts(net.operators.length), host: opts.dashboardHost, port: opts.dashboardPort });
            services.push(...d.services);
            print(`dashboard: ${d.dashboard.url}  (the network keeps running; Ctrl-C stops it)`);
            out.dashboardUrl = d.dashboard.url;
        } else {
            services.push(sandboxClock(net.bc)); // the dashboard brings its own
        }
        if (opts.gatewayPort !== undefined) {
            const { startSandboxGateway } = await import('../gateway/sandbox');
            const g = await startSandboxGateway(net, { port: opts.gatewayPort });
            services.push(...g.services);
            print(`gateway: ${g.gateway.url}/v1  (the network keeps running; any OpenAI client with this baseURL and any apiKey; Ctrl-C stops it)`);
            print(`  curl ${g.gateway.url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${net.nodes[0].config.model}","messages":[{"role":"user","content":"Hello"}]}'`);
            out.gatewayUrl = g.gateway.url;
        }
        return out;
    } catch (e) {
        await stopAll(services);
        throw e;
    }
}

const tonArg = (name: string) => (v: string) => {
    if (!/^\d+(\.\d{1,9})?$/.test(v)) throw new Error(`${name}: "${v}" is not a TON amount (e.g. 1.5)`);
    return toNano(v);
};
const intArg = (name: string, min: number, max: number) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer in ${min}..${max}, got "${v}"`);
    return n;
};

export function cli(argv: string[]): Command {
    return new Command('cocoon-demo')
        .description('End-to-end Cocoon demo: root, three worker nodes, a client, settlement and a value-conservation check')
        .addOption(new Option('--network <name>', 'embedded sandbox, or testnet (needs COCOON_OPERATOR_MNEMONIC, COCOON_CLIENT_MNEMONIC, COCOON_DEV_VERIFIER_SEED; see src/demo/testnet.ts)').choices(['sandbox', 'testnet']).default('sandbox'))
        .option('--workers <n>', 'worker nodes to run (sandbox)', intArg('--workers', 1, 8), 3)
        .option('--requests <n>', 'chat requests per worker, alternating whole and streamed', intArg('--requests', 1, 100), 4)
        .addOption(new Option('--deposit <ton>', 'escrow deposit per worker').argParser(tonArg('--deposit')).default(toNano('2'), '2 TON'))
        .option('--tokens <n>', 'completion tokens of each development-backend answer', intArg('--tokens', 1, 4096), 48)
        .addOption(new Option('--fund <ton>', 'FundRewards amount (sandbox)').argParser(tonArg('--fund')).default(toNano('3'), '3 TON'))
        .option('--root <address>', 'testnet: an existing root whose owner trusts the development verifier key (default: $COCOON_ROOT)')
        .option('--measurement <hex>', 'testnet: a measurement the root whitelists (0x…)')
        .option('--model <name>', "testnet: the model name (default: the root's name for --measurement)")
        .option('--wait-dispute <seconds>', 'testnet: wait this long at most for the dispute window, then withdraw', intArg('--wait-dispute', 0, 86400), 0)
        .option('--toncenter <url>', 'testnet: JSON-RPC endpoint', 'https://testnet.toncenter.com/api/v2/jsonRPC')
        .option('--stream', "print worker 1's streamed answers as they arrive", false)
        .option('--dashboard-port <port>', 'after the demo keep the network running and serve the dashboard on this port (0: any free port) until Ctrl-C', intArg('--dashboard-port', 0, 65535))
        .option('--dashboard-host <host>', 'address the dashboard binds to', '127.0.0.1')
        .option('--gateway-port <port>', 'after the demo keep the network running with the gateway on 127.0.0.1:<port> (0: any free port) until Ctrl-C', intArg('--gateway-port', 0, 65535))
        .parse(argv);
}

if (require.main === module) {
    const o = cli(process.argv).opts();
    main({
        network: o.network, workers: o.workers, requestsPerWorker: o.requests, deposit: o.deposit, completionTokens: o.tokens, fund: o.fund,
        dashboardPort: o.dashboardPort, dashboardHost: o.dashboardHost, gatewayPort: o.gatewayPort,
        onDelta: o.stream ? (i: number, d: string) => { if (i === 0) process.stdout.write(d); } : undefined,
        ...(o.network === 'testnet' ? { root: o.root, toncenter: o.toncenter, measurement: o.measurement, model: o.model, waitDisputeSec: o.waitDispute } : {}),
    } as MainOptions)
        .then(async (r) => {
            if (r.services) await keepRunning(r.services);
            process.exit(r.ok ? 0 : 1);
        })
        .catch((e) => {
            console.error(e instanceof ClientError ? `demo failed: ${e.message}` : `demo failed: ${(e as Error).stack ?? e}`);
            process.exit(1);
        });
}

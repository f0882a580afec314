// `cocoon gateway` and `cocoon gateway status` (bin/cocoon.ts defines the options; this runs them).
//
// testnet / mainnet: the wallet from COCOON_CLIENT_MNEMONIC or --mnemonic-file (24 words, mode 0600,
// outside the working directory), the client key from ~/.cocoon/client-key (made on first use, 0600)
// or COCOON_CLIENT_KEY_SEED, receipts under ~/.cocoon/gateway/<network>-<root>/. The optional local
// API key comes from COCOON_GATEWAY_API_KEY (never a command-line argument: ps shows those).
// sandbox: a local network (three worker nodes, development backend) for this command, a sandbox
// treasury as the wallet, a fresh client key and a temporary state directory; nothing persists.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Address, toNano } from '@ton/core';
import { keyFromSeed, type Chain, type Ed25519Key } from '../sdk';
import { ClientError, connectRemote, loadClientKey, parseAddressArg, remoteEventSource, sandboxEventSource, type AttestedEventSource } from '../client';
import { keepRunning, sandboxClock, type Service } from '../demo/serve';
import { isInside, type GatewayConfigInput } from './config';
import { startGateway, type GatewayHandle } from './gateway';
import type { GatewayStatus } from './status';

export const GATEWAY_API_KEY_ENV = 'COCOON_GATEWAY_API_KEY';

export interface GatewayCommandOptions {
    network: 'sandbox' | 'testnet' | 'mainnet';
    root?: string;
    toncenter?: string;
    host: string;
    port: number;
    budget?: bigint;
    perWorkerDeposit?: bigint;
    maxPrice?: bigint;
    minWorkers: number;
    idleClose: number;
    topUpBelow: number;
    leaseMargin: number;
    cooldown: number;
    sticky: boolean;
    stateDir?: string;
    mnemonicFile?: string;
    logLevel: string;
    print?: (line: string) => void;
    /** Stop when this settles (tests); otherwise on SIGINT/SIGTERM. */
    until?: Promise<unknown>;
}

/** Reads a 24-word mnemonic file, refusing one others can read or one inside the working directory. */
export function readMnemonicFile(file: string, cwd = process.cwd()): string {
    if (isInside(file, cwd)) throw new ClientError('CONFIG', `${file} is inside the working directory`, 'keep the mnemonic outside any checkout (e.g. ~/.cocoon/mnemonic, mode 0600).');
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) throw new ClientError('CONFIG', `${file} is readable by others (mode ${mode.toString(8)})`, `run: chmod 600 ${file}`);
    return readFileSync(file, 'utf8').trim();
}

interface Backing {
    chain: Chain;
    root: Address;
    wallet: Parameters<typeof startGateway>[1]['wallet'];
    events: AttestedEventSource;
    clientKey: Ed25519Key;
    config: Partial<GatewayConfigInput>;
    services: Service[];
    describe: string;
}

async function backing(o: GatewayCommandOptions, print: (l: string) => void): Promise<Backing> {
    if (o.network === 'sandbox') {
        const { startLocalNetwork, senderOf, DEMO_PRICES } = await import('../demo/localNetwork');
        print('starting a local network (three worker nodes, development backend) for this gateway; nothing persists');
        const net = await startLocalNetwork({ workers: 3, prices: DEMO_PRICES, stake: toNano('100'), completionTokens: 48, extraWallets: ['gateway'] });
        const stateDir = mkdtempSync(join(tmpdir(), 'cocoon-gateway-'));
        return {
            chain: net.chain, root: net.root, wallet: senderOf(net.wallets.gateway), events: sandboxEventSource(net.bc, net.root),
            clientKey: keyFromSeed(randomBytes(32)),
            config: { stateDir, budget: o.budget ?? toNano('10'), perWorkerDeposit: o.perWorkerDeposit ?? toNano('2'), maxPrice: o.maxPrice ?? net.params.maxPrice },
            services: [
                { name: 'local network (chain, worker nodes, backend)', stop: net.stop },
                sandboxClock(net.bc),
                { name: 'gateway state directory', stop: async () => rmSync(stateDir, { recursive: true, force: true }) },
            ],
            describe: `sandbox root ${net.root.toString()}`,
        };
    }
    const root = parseAddressArg('--root', o.root ?? process.env.COCOON_ROOT);
    if (o.budget === undefined || o.perWorkerDeposit === undefined || o.maxPrice === undefined) {
        throw new ClientError('CONFIG', `on ${o.network} the gateway spends real TON: --budget, --per-worker-deposit and --max-price are required`,
            'e.g. cocoon gateway --budget 5 --per-worker-deposit 1 --max-price 0.5');
    }
    const mnemonic = o.mnemonicFile ? readMnemonicFile(o.mnemonicFile) : process.env.COCOON_CLIENT_MNEMONIC;
    const conn = await connectRemote({
        network: o.network, mnemonic, mnemonicEnv: o.mnemonicFile ? o.mnemonicFile : 'COCOON_CLIENT_MNEMONIC', endpoint: o.toncenter, apiKey: process.env.COCOON_TONCENTER_API_KEY,
    });
    const ck = loadClientKey({ create: true });
    if (ck.created) print(`created your client key in ${ck.source} (mode 0600): it signs the API keys the gateway sends; back it up`);
    const stateDir = o.stateDir ?? join(process.env.COCOON_HOME ?? join(homedir(), '.cocoon'), 'gateway', `${o.network}-${root.toRawString().slice(2, 14)}`);
    return {
        chain: conn.chain, root, wallet: conn.wallet, events: remoteEventSource(conn.client, root), clientKey: ck.key,
        config: { stateDir, budget: o.budget, perWorkerDeposit: o.perWorkerDeposit, maxPrice: o.maxPrice },
        services: [],
        describe: `${o.network} root ${root.toString({ testOnly: o.network === 'testnet' })}, wallet ${conn.wallet.address.toString({ testOnly: o.network === 'testnet', bounceable: false })}`,
    };
}

/** Runs the gateway until SIGINT/SIGTERM (or `until`); resolves after everything stopped. */
export async function runGatewayCommand(o: GatewayCommandOptions): Promise<GatewayHandle> {
    const print = o.print ?? ((l: string) => console.error(l));
    const b = await backing(o, print);
    let gw: GatewayHandle;
    try {
        gw = await startGateway({
            ...b.config, host: o.host, port: o.port, minWorkers: o.minWorkers, idleCloseSec: o.idleClose, topUpBelow: o.topUpBelow,
            leaseMarginSec: o.leaseMargin, cooldownSec: o.cooldown, sticky: o.sticky, logLevel: o.logLevel as GatewayConfigInput['logLevel'],
            ...(process.env[GATEWAY_API_KEY_ENV] ? { apiKey: process.env[GATEWAY_API_KEY_ENV] } : {}),
        } as GatewayConfigInput, { chain: b.chain, root: b.root, wallet: b.wallet, events: b.events, clientKey: b.clientKey, network: o.network });
    } catch (e) {
        for (const s of [...b.services].reverse()) await s.stop().catch(() => undefined);
        throw e;
    }
    print(`gateway: ${gw.url}/v1  (${b.describe})`);
    print(`  any OpenAI client: baseURL ${gw.url}/v1, apiKey ${process.env[GATEWAY_API_KEY_ENV] ? `$${GATEWAY_API_KEY_ENV}` : 'anything'}; status: cocoon gateway status --url ${gw.url}; Ctrl-C stops it`);
    await keepRunning([...b.services, { name: 'gateway', stop: gw.stop }], { print, until: o.until });
    return gw;
}

const ton = (s: string) => {
    const n = BigInt(s);
    return `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`.replace(/0+$/, '').replace(/\.$/, '');
};

/** `cocoon gateway status`: what a running gateway holds, as tables (or its JSON). */
export async function gatewayStatusCommand(o: { url: string; json: boolean; print?: (l: string) => void }): Promise<GatewayStatus> {
    const print = o.print ?? ((l: string) => console.log(l));
    const headers: Record<string, string> = {};
    if (process.env[GATEWAY_API_KEY_ENV]) headers.authorization = `Bearer ${process.env[GATEWAY_API_KEY_ENV]}`;
    let r: Response;
    try {
        r = await fetch(new URL('/gateway/status', o.url), { headers, signal: AbortSignal.timeout(10_000) });
    } catch (e) {
        throw new ClientError('CONFIG', `no gateway answers at ${o.url} (${(e as Error).message})`, 'start one with cocoon gateway, or pass --url.');
    }
    const text = await r.text();
    if (r.status !== 200) throw new ClientError('HTTP_ERROR', `the gateway answered ${r.status}: ${text.slice(0, 300)}`, r.status === 401 ? `set ${GATEWAY_API_KEY_ENV}.` : 'check --url.');
    const s = JSON.parse(text) as GatewayStatus;
    if (o.json) {
        print(JSON.stringify(s, null, 2));
        return s;
    }
    const { formatTable, formatTime } = await import('../sdk/format');
    print(`gateway ${s.gateway.url} (${s.gateway.network}), wallet ${s.gateway.wallet}${s.gateway.stopping ? ', STOPPING' : ''}, ${s.gateway.inflight} request(s) in progress`);
    print(`budget ${ton(s.budget.budget)} TON: ${ton(s.budget.deposited)} deposited, ${ton(s.budget.room)} room; ${ton(s.budget.perWorkerDeposit)} per worker, max price ${ton(s.budget.maxPrice)} TON/1M in every token class`);
    print(`spent ${ton(s.totals.spent)} TON for ${s.totals.tokens} tokens; ${s.totals.receiptsHeld} receipt(s) held; ${ton(s.totals.pendingWithdrawal)} TON pending withdrawal`);
    print('');
    print(formatTable(['escrow', 'worker', 'state', 'deposit', 'credit', 'spent', 'receipt', 'idle s'],
        s.escrows.map((e) => [e.escrow, e.worker, e.state, ton(e.deposit), ton(e.credit), ton(e.spent), e.receipt ? `seq ${e.receipt.seq}` : '-', String(e.idleSec)])));
    if (s.pendingWithdrawals.length) {
        print('\npending withdrawals');
        print(formatTable(['escrow', 'amount TON', 'withdrawable at'], s.pendingWithdrawals.map((p) => [p.escrow, ton(p.amount), formatTime(p.withdrawableAt)])));
    }
    print('\nworkers');
    print(formatTable(['worker', 'models', 'prompt/cached/completion TON/1M', 'usable', 'latency ms', 'errors', 'escrow'],
        s.workers.map((w) => [w.worker, w.models.join(','), `${ton(w.prices.prompt)}/${ton(w.prices.cached)}/${ton(w.prices.completion)}`, w.usable ? 'yes' : w.coolingDownSec ? `cooling ${w.coolingDownSec}s` : 'no', w.latencyMs === null ? '-' : String(w.latencyMs), `${Math.round(w.errorRate * 100)}%`, w.hasEscrow ? 'yes' : '-'])));
    if (s.dropped.length) {
        print('\ndropped (bad receipts)');
        print(formatTable(['worker', 'code', 'at', 'reason'], s.dropped.map((d) => [d.worker, d.code, d.at, d.reason.slice(0, 80)])));
    }
    if (s.actions.length) {
        print('\nlatest on-chain actions');
        print(formatTable(['at', 'action', 'escrow', 'amount TON', 'ok'], s.actions.slice(-10).map((a) => [a.at, a.action, a.escrow, ton(a.amount), a.ok ? 'ok' : `FAILED: ${a.error ?? ''}`])));
    }
    return s;
}


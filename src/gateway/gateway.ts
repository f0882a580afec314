// The gateway: assembles the parts and runs them.
//
//   config.ts        validated options            policy.ts     which worker, in what order
//   registry.ts      workers read from the chain  budget.ts     escrows: open, top up, close, withdraw
//   pipeline.ts      one chat completion          sse.ts        the stream relay
//   receiptStore.ts  what is kept on disk         status.ts     /gateway/status and /healthz
//   metrics.ts       Prometheus /metrics          errors.ts     OpenAI-shaped refusals
//
// Lifecycle: start reads the workers and finds the wallet's escrows on-chain, then listens; timers
// re-read the workers and run the escrow upkeep. stop() refuses new requests (503), lets those in
// progress finish within shutdownGraceMs (then aborts them: a stream ends with an error event), waits
// for the on-chain action in progress, and closes every connection. Receipts are on disk before
// each answer is released, so there is nothing left to flush.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Address, type Sender } from '@ton/core';
import pino, { type Logger } from 'pino';
import { asPrices, latestByWorker, pricesWithin, publicKeyToBigInt, type Chain, type Ed25519Key } from '../sdk';
import { CocoonClient, type AttestedEventSource } from '../client';
import { EscrowBudget, stateName } from './budget';
import { parseGatewayConfig, describeGatewayConfig, type GatewayConfig, type GatewayConfigInput } from './config';
import { GatewayError, Refuse, sendError, sendJson } from './errors';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { chatCompletions, servedModels } from './pipeline';
import { StickyMap, WorkerStats } from './policy';
import { GatewayStateDir, type DroppedWorker } from './receiptStore';
import { WorkerRegistry } from './registry';
import { gatewayHealth, gatewayStatus, type GatewayStatus, type StatusSources } from './status';

export interface GatewayDeps {
    chain: Chain;
    root: Address;
    /** The user's wallet: pays deposits and gas, owns the escrows. */
    wallet: Sender & { address: Address };
    /** Where the root's registrations come from. */
    events: AttestedEventSource;
    /** The client key: its public half goes into each escrow it opens; it signs the API keys sent to workers. */
    clientKey: Ed25519Key;
    network?: string;
    logger?: Logger;
}

export interface GatewayHandle {
    url: string;
    port: number;
    config: GatewayConfig;
    client: CocoonClient;
    budget: EscrowBudget;
    stats: WorkerStats;
    registry: WorkerRegistry;
    metrics: GatewayMetrics;
    status(): Promise<GatewayStatus>;
    /** One escrow upkeep pass now (idle close, withdrawals). */
    tick(): Promise<void>;
    stop(): Promise<void>;
}

export const REDACTED = ['mnemonic', '*.mnemonic', 'seed', '*.seed', 'secretKey', '*.secretKey', 'apiKey', '*.apiKey', 'authorization', '*.authorization', 'headers.authorization'];

export function createGatewayLogger(level: string, destination?: pino.DestinationStream): Logger {
    return pino({ name: 'cocoon-gateway', level, redact: { paths: REDACTED, censor: '[redacted]' } }, destination);
}

const ROUTES: Record<string, string> = { '/v1/models': 'GET', '/v1/chat/completions': 'POST', '/gateway/status': 'GET', '/healthz': 'GET', '/metrics': 'GET' };

export async function startGateway(input: GatewayConfigInput, deps: GatewayDeps): Promise<GatewayHandle> {
    const config = parseGatewayConfig(input);
    const log = deps.logger ?? createGatewayLogger(config.logLevel);
    const state = new GatewayStateDir(config.stateDir);
    const client = new CocoonClient({
        chain: deps.chain, root: deps.root, wallet: deps.wallet, events: deps.events, receiptsFile: state.receiptsFile,
        requestTimeoutMs: config.requestTimeoutMs, clientKey: deps.clientKey,
    });
    const registry = new WorkerRegistry(client, log, config.refreshSec * 1000);
    const stats = new WorkerStats();
    const budget = new EscrowBudget(client, deps.chain, client.receipts, {
        budget: config.budget, perWorkerDeposit: config.perWorkerDeposit, topUpBelow: config.topUpBelow, maxPrice: config.maxPrice,
        idleCloseSec: config.idleCloseSec, clientKey: publicKeyToBigInt(deps.clientKey.publicKey),
    }, log);
    const sticky = config.sticky ? new StickyMap(config.stickyMax) : null;
    const dropped: DroppedWorker[] = state.loadDropped();
    for (const d of dropped) {
        try {
            stats.drop(Address.parse(d.worker).toRawString(), `${d.code}: ${d.reason}`, Date.parse(d.at) || 0);
        } catch {
            log.warn({ worker: d.worker }, 'dropped.json names an address that does not parse; ignored');
        }
    }

    let stopping = false;
    let inflight = 0;
    const controllers = new Set<AbortController>();
    const startedAt = new Date().toISOString();
    let url = '';

    const metrics = createGatewayMetrics(() => {
        const byState: Record<string, number> = {};
        for (const e of budget.all()) {
            if (!e.state) continue;
            const name = stateName(e.state.state);
            byState[name] = (byState[name] ?? 0) + 1;
        }
        const nowMs = Date.now();
        const cands = registry.candidates();
        return {
            deposited: budget.deposited(), budget: config.budget, escrows: byState, receiptsHeld: client.receipts.all().length, inflight,
            workersUsable: cands.filter((c) => !stats.isDropped(c.key) && stats.view(c.key).downUntil <= nowMs && pricesWithin(c.prices, asPrices(config.maxPrice))).length,
            workersDropped: stats.dropped().length, workersCooling: cands.filter((c) => stats.view(c.key).downUntil > nowMs).length,
        };
    });
    budget.onAction = (a) => metrics.chainActions.inc({ action: a.action, ok: String(a.ok) });

    const drop = (key: string, code: string, reason: string) => {
        stats.drop(key, `${code}: ${reason}`, Date.now());
        const l = registry.listing(key);
        const worker = l ? l.worker.toString() : key;
        if (!dropped.some((d) => d.worker === worker)) {
            dropped.push({ worker, code, reason: reason.slice(0, 500), at: new Date().toISOString() });
            try {
                state.saveDropped(dropped);
            } catch (e) {
                log.error({ err: (e as Error).message }, 'could not write dropped.json');
            }
        }
        void budget.closeNow(key, `worker dropped: ${code}`);
    };

    const sources: StatusSources = {
        config, get url() { return url; }, wallet: deps.wallet.address, network: deps.network ?? deps.chain.network, root: deps.root, startedAt,
        stopping: () => stopping, inflight: () => inflight, budget, book: client.receipts, registry, stats, dropped: () => [...dropped], now: () => deps.chain.now(),
    } as StatusSources;

    const pipeline = { config, log, metrics, chain: deps.chain, registry, stats, budget, sticky, drop };

    const keyHash = config.apiKey ? createHash('sha256').update(config.apiKey).digest() : null;
    const authorized = (req: IncomingMessage): boolean => {
        if (!keyHash) return true;
        const h = req.headers.authorization;
        if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
        return timingSafeEqual(createHash('sha256').update(h.slice(7).trim()).digest(), keyHash);
    };

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const path = (req.url ?? '/').split('?')[0];
        const method = req.method ?? 'GET';
        const t0 = performance.now();
        let status = 500;
        const route = ROUTES[path] ? path : 'other';
        try {
            if (!ROUTES[path]) throw Refuse.notFound(method, path);
            if (ROUTES[path] !== method) throw Refuse.method(path, ROUTES[path]);
            if ((path.startsWith('/v1/') || path === '/gateway/status') && !authorized(req)) throw Refuse.unauthorized();
            switch (path) {
                case '/healthz': {
                    const h = gatewayHealth(await gatewayStatus(sources), sources);
                    sendJson(res, h.ok ? 200 : 503, h.body);
                    break;
                }
                case '/metrics': {
                    const text = await metrics.registry.metrics();
                    res.writeHead(200, { 'content-type': metrics.registry.contentType });
                    res.end(text);
                    break;
                }
                case '/gateway/status':
                    sendJson(res, 200, await gatewayStatus(sources));
                    break;
                case '/v1/models': {
                    const now = await deps.chain.now();
                    const served = servedModels(await registry.current(), stats, { now, maxPrice: asPrices(config.maxPrice), leaseMarginSec: config.leaseMarginSec });
                    sendJson(res, 200, {
                        object: 'list',
                        data: [...served.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, m]) => ({
                            id, object: 'model', created: 0, owned_by: 'cocoon',
                            cocoon: { workers: m.workers, min_prices: { prompt: m.minPrices.prompt.toString(), cached: m.minPrices.cached.toString(), completion: m.minPrices.completion.toString() } },
                        })),
                    });
                    break;
                }
                default: {
                    if (stopping) throw Refuse.shuttingDown();
                    if (inflight >= config.maxInflight) throw Refuse.busy(config.maxInflight);
                    inflight++;
                    const abort = new AbortController();
                    controllers.add(abort);
                    res.on('close', () => {
                        if (!res.writableFinished) abort.abort();
                    });
                    try {
                        await chatCompletions(pipeline, req, res, abort.signal);
                    } finally {
                        inflight--;
                        controllers.delete(abort);
                    }
                }
            }
            status = res.statusCode;
        } catch (e) {
            const err = e instanceof GatewayError ? e : null;
            if (!err) log.error({ err: (e as Error).stack ?? String(e), path }, 'internal error');
            const g = err ?? Refuse.internal();
            status = g.status;
            if (!res.headersSent) sendError(res, g);
            else if (!res.writableEnded) res.end();
        } finally {
            metrics.requests.inc({ route, status: String(status) });
            metrics.duration.observe({ route, stream: 'n/a' }, (performance.now() - t0) / 1000);
        }
    }

    const server = http.createServer({ headersTimeout: 10_000, requestTimeout: config.bodyTimeoutMs + config.requestTimeoutMs }, (req, res) => {
        void handle(req, res);
    });
    server.keepAliveTimeout = 5_000;

    await registry.refresh();
    const known = latestByWorker(await deps.events()).map((e) => e.worker);
    const adopted = await budget.adopt(known);
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    log.info({ url, wallet: deps.wallet.address.toString(), workers: registry.candidates().length, escrowsFound: adopted, config: describeGatewayConfig(config) }, 'gateway listening');

    const refreshTimer = setInterval(() => void registry.refresh(), config.refreshSec * 1000);
    const tickTimer = setInterval(() => void budget.tick().catch((e) => log.error({ err: (e as Error).message }, 'escrow upkeep failed')), config.tickSec * 1000);
    refreshTimer.unref();
    tickTimer.unref();

    let stopped: Promise<void> | null = null;
    const stop = () => (stopped ??= (async () => {
        stopping = true;
        clearInterval(refreshTimer);
        clearInterval(tickTimer);
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        const until = Date.now() + config.shutdownGraceMs;
        while (inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        if (inflight > 0) {
            log.warn({ inflight }, 'shutdown grace over: aborting the requests still in progress');
            for (const c of controllers) c.abort();
        }
        await budget.idle();
        registry.close();
        client.close();
        server.closeAllConnections();
        await closed;
        log.info({ receiptsHeld: client.receipts.all().length }, 'gateway stopped');
    })());

    return {
        get url() { return url; }, port, config, client, budget, stats, registry, metrics,
        status: () => gatewayStatus(sources), tick: () => budget.tick(), stop,
    } as GatewayHandle;
}

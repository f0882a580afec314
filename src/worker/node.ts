// The worker node: an OpenAI-compatible HTTPS API in front of an inference backend, paid through the
// client's on-chain ClientEscrow with cumulative receipts signed by the TEE key (docs/HTTP-API.md).
// This file only assembles the parts:
//
//   identity.ts      a fresh TEE key per start, its attestation, the re-registration on-chain
//   admission.ts     API keys (apiKeyAuth.ts), escrow checks, reservations, the in-flight limit
//   backendCall.ts   the upstream request; backends in src/backend
//   receipts.ts      the only holder of the TEE key: signs and commits receipts (groupCommit.ts)
//   respond/         JSON and SSE answers
//   errors.ts        the HttpError taxonomy and its rendering
//   routes.ts        the handlers wiring the stages
//   server.ts        HTTPS, connection limits and idle timeouts
//   claimer.ts       the claim loop; escrowRefresh.ts moves escrows to the current key
//   (lifecycle)      stop() below: closing flag, drain with a deadline, claim loop, ledger, backend
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { Address } from '@ton/core';
import type { Logger } from 'pino';
import { Chain, Sender, SignedStatement, workerAddress } from '../sdk';
import { generateSelfSignedCert, hex256, tlsKeyHashOfCert } from '../sdk/tls';
import { InferenceBackend, OpenAICompatibleBackend } from '../backend';
import { parseWorkerConfig, describeConfig, WorkerConfig, WorkerConfigInput } from './config';
import { createLogger } from './logger';
import { ReceiptLedger } from './ledger';
import { EscrowView, WorkerView } from './chainViews';
import { AttestationProvider } from './attestation';
import { createMetrics, WorkerMetrics } from './metrics';
import { ClaimLoop, ClaimOutcome } from './claimer';
import { sendError, toHttpError } from './errors';
import { attestKeys, freshTeeKey, OperatorLane, reregister, type ReregisterOutcome } from './identity';
import { ReceiptIssuer } from './receipts';
import { SpendBook } from './spend';
import { TokenCounter } from './tokenCount';
import { EscrowRefresher } from './escrowRefresh';
import { AdmissionControl } from './admission';
import { route, KNOWN_ROUTES, type ChatTiming, type RouteContext } from './routes';
import { NodeServer } from './server';

export type { ChatTiming } from './routes';
export { receiptJson } from './respond/json';

export interface WorkerDeps {
    chain: Chain;
    /** The operator's wallet: pays for Claim, RefreshWorker and the re-registration, receives the payouts. */
    operatorSender: Sender;
    attestationProvider: AttestationProvider;
    /** Default: OpenAICompatibleBackend at config.backend.url. */
    backend?: InferenceBackend;
    /** Bearer token for the upstream backend (never logged). */
    backendApiKey?: string;
    /** TLS certificate; default: config.tls files, else a fresh self-signed one (in memory). */
    tls?: { certPem: string; keyPem: string };
    logger?: Logger;
    onClaim?: (c: ClaimOutcome) => void;
    /** Called after every chat request answered in full, with where its time went (benchmarks, tracing). */
    onChatTiming?: (t: ChatTiming) => void;
    /** PRAGMAs for the ledger writer's connection (tests play a full disk with max_page_count). */
    ledgerWriterPragmas?: string[];
}

export interface WorkerNodeHandle {
    url: string;
    port: number;
    config: WorkerConfig;
    worker: Address;
    certPem: string;
    tlsKeyHash: bigint;
    /** This start's TEE key (public): made at start, in memory only. */
    teeKey: bigint;
    attestation: SignedStatement;
    /** What the start did on-chain with the new key. */
    registration: ReregisterOutcome;
    ledger: ReceiptLedger;
    metrics: WorkerMetrics;
    admission: AdmissionControl;
    issuer: ReceiptIssuer;
    server: NodeServer;
    counter: TokenCounter;
    escrows: EscrowView;
    /** Drops the cached chain reads (after the test or the operator changed something on-chain). */
    refresh(): void;
    /** One pass of the claim loop, now. */
    runClaims(): Promise<ClaimOutcome[]>;
    /** Stops accepting, finishes in-flight requests, stops the claim loop, flushes and closes the ledger. */
    stop(): Promise<void>;
}

export async function startWorkerNode(rawConfig: WorkerConfigInput | WorkerConfig, deps: WorkerDeps): Promise<WorkerNodeHandle> {
    const config = parseWorkerConfig(rawConfig);
    const log = deps.logger ?? createLogger(config.logLevel);
    const root = Address.parse(config.root);
    const operator = Address.parse(config.operator);
    const worker = await workerAddress(root, operator);

    // The ledger first: a path it cannot write fails the start, naming the path.
    const ledger = new ReceiptLedger(config.dbPath);
    const cleanup: (() => unknown)[] = [() => ledger.close()];
    try {
        return await assemble();
    } catch (e) {
        for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
        throw e;
    }

    async function assemble(): Promise<WorkerNodeHandle> {
        const ownBackend = deps.backend ? null : new OpenAICompatibleBackend({
            baseUrl: config.backend.url, apiKey: deps.backendApiKey, timeoutMs: config.backend.timeoutMs, features: config.backend.features,
        });
        if (ownBackend) cleanup.push(() => ownBackend.close());
        const backend: InferenceBackend = deps.backend ?? ownBackend!;

        // TLS: given, from files, or fresh (in memory, like the TEE key; its hash is attested).
        let tls = deps.tls;
        if (!tls && config.tls) {
            try {
                tls = { certPem: readFileSync(config.tls.certFile, 'utf8'), keyPem: readFileSync(config.tls.keyFile, 'utf8') };
            } catch (e) {
                throw new Error(`cannot read the TLS certificate or key (tls.certFile / tls.keyFile): ${(e as Error).message}`);
            }
        }
        if (!tls) tls = await generateSelfSignedCert();
        const tlsKeyHash = tlsKeyHashOfCert(tls.certPem);

        // Identity: a key that has never signed anything, attested, and put on the Worker contract.
        const teeKeyPair = freshTeeKey();
        const metrics = createMetrics(() => ledger.unclaimedTotal());
        const workerView = new WorkerView(deps.chain, worker, config.workerCacheMs);
        const lane = new OperatorLane();
        const before = await workerView.get({ fresh: true });
        const teeKeyInt = BigInt('0x' + teeKeyPair.publicKey.toString('hex'));
        const { signed: attestation, evidence } = await attestKeys({
            chain: deps.chain, provider: deps.attestationProvider, root, operator, teeKey: teeKeyInt, tlsKeyHash,
            measurement: config.measurement, ttlSec: config.attestationTtlSec, current: before,
        });
        const issuer = new ReceiptIssuer({ ledger, teeKey: teeKeyPair, metrics, log, writerPragmas: deps.ledgerWriterPragmas });
        cleanup.push(() => issuer.close());
        let registration: ReregisterOutcome = 'skipped';
        if (config.register === 'auto') {
            registration = await reregister({ chain: deps.chain, sender: deps.operatorSender, root, attestation, current: before, lane, log });
            workerView.invalidate();
        }

        const escrows = new EscrowView(deps.chain, { ttlMs: config.escrowCacheMs, maxEntries: config.escrowCacheMax });
        const counter = new TokenCounter(config.tokenCount);
        cleanup.push(() => counter.close());
        const refresher = new EscrowRefresher({
            chain: deps.chain, sender: deps.operatorSender, root, escrows, issuer, lane, log, metrics, waitMs: config.refreshWaitMs,
        });
        const admission = new AdmissionControl({
            config: { maxInflight: config.maxInflight, closingMarginSec: config.closingMarginSec, auth: config.auth },
            worker, teeKey: issuer.teeKey, escrows, workerInfo: () => workerView.get(), now: () => deps.chain.now(),
            positions: issuer, ledgerHealth: () => issuer.health(), refresh: (s) => refresher.ensure(s),
            spend: new SpendBook(ledger), counter, metrics, log,
        });
        const claimLoop = new ClaimLoop({
            chain: deps.chain, sender: deps.operatorSender, ledger, escrows, threshold: config.claim.threshold, value: config.claim.value,
            intervalMs: config.claim.intervalMs, confirmTimeoutMs: config.claim.confirmTimeoutMs, logger: log, metrics, onClaim: deps.onClaim, lane,
        });

        let stopping = false;
        let active = 0;
        const idle: (() => void)[] = [];
        const ctx: RouteContext = {
            config, log, metrics, backend, upstreamModel: config.backend.model ?? config.model, admission, issuer, counter,
            stopping: () => stopping, onTiming: deps.onChatTiming,
            models: () => ({ object: 'list', data: [{ id: config.model, object: 'model', created: attestation.statement.issuedAt, owned_by: 'cocoon' }] }),
            attestation: async () => {
                let info = null;
                try {
                    info = await workerView.get();
                } catch (e) {
                    log.warn({ err: (e as Error).message }, 'cannot read the Worker contract');
                }
                return {
                    root: root.toString(), operator: operator.toString(), worker: worker.toString(), model: config.model,
                    measurement: hex256(config.measurement), teeKey: hex256(issuer.teeKey), tlsKeyHash: hex256(tlsKeyHash),
                    expiresAt: attestation.statement.expiresAt, issuedAt: attestation.statement.issuedAt,
                    attestationBoc: attestation.cell.toBoc().toString('base64'),
                    // the TEE's own evidence (a TDX quote), so anyone can check the verifiers' work again
                    evidence: evidence ? { kind: deps.attestationProvider.kind, base64: evidence.toString('base64') } : null,
                    price: (info?.price ?? 0n).toString(), active: info?.active ?? false, registered: info?.teeKey === issuer.teeKey,
                };
            },
            health: async () => {
                const ledgerHealth = issuer.health();
                let chainPart: Record<string, unknown>;
                let chainOk = false;
                try {
                    const info = await workerView.get();
                    chainOk = !!info && info.active && info.teeKey === issuer.teeKey;
                    chainPart = { registered: !!info, active: info?.active ?? false, currentKey: info?.teeKey === issuer.teeKey };
                } catch (e) {
                    chainPart = { error: `cannot read the chain: ${(e as Error).message}` };
                }
                const ok = !stopping && ledgerHealth.ok && chainOk;
                return { ok, body: { ok, stopping, ledger: ledgerHealth.ok ? { ok: true } : { ok: false, reason: ledgerHealth.reason }, worker: chainPart } };
            },
        };

        const handler = (req: IncomingMessage, res: ServerResponse) => {
            active++;
            let routeName = 'unknown';
            route(ctx, req, res)
                .then((r) => {
                    routeName = r;
                })
                .catch((e) => {
                    const err = toHttpError(e);
                    if (err.status === 500) log.error({ err: (e as Error)?.message, path: req.url }, 'request failed');
                    if (err.status >= 500) metrics.errors.inc({ kind: err.code ?? 'internal' });
                    routeName = (req.url ?? '/').split('?')[0];
                    // a body not read to its end is not read at all: close the connection after the answer
                    const extra: Record<string, string> = req.complete ? {} : { connection: 'close' };
                    if (!res.headersSent && !res.destroyed) sendError(res, err, extra);
                    else if (!res.writableEnded) res.end();
                })
                .finally(() => {
                    const name = KNOWN_ROUTES.has(routeName) ? routeName : 'other';
                    const status = res.statusCode;
                    metrics.requestsBy.add(`${name} ${status}`, () => ({ route: name, status: String(status) }));
                    active--;
                    if (active === 0) idle.splice(0).forEach((f) => f());
                });
        };
        const server = new NodeServer({
            tls, host: config.host, port: config.port, headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs,
            maxConnections: config.maxConnections, maxConnectionsPerPeer: config.maxConnectionsPerPeer, handler, log, metrics,
            refusePeer: (addr) => admission.auth.blocked(addr),
        });
        const { url, port } = await server.listen();
        claimLoop.start();
        log.info({
            url, worker: worker.toString(), backend: backend.name, attestation: deps.attestationProvider.kind, tlsKeyHash: hex256(tlsKeyHash),
            teeKey: hex256(issuer.teeKey), registration, ledger: { path: config.dbPath, ...ledger.settings() }, maxConnections: server.cap, config: describeConfig(config),
        }, 'worker node started');

        let stopped: Promise<void> | null = null;
        const stop = () => {
            stopped ??= (async () => {
                // 1. closing: new chat requests get 503, new connections are refused, idle ones closed
                stopping = true;
                const closed = server.stopAccepting();
                // 2. drain: requests in progress finish (streams end after their final receipt), up to the grace period
                if (active > 0) {
                    await Promise.race([
                        new Promise<void>((resolve) => idle.push(resolve)),
                        new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref()),
                    ]);
                }
                // 3. the claim loop, then every connection, the ledger (flushed), the counter, the backend
                await claimLoop.stop();
                server.destroyAll();
                await closed;
                await issuer.close();
                await counter.close();
                ledger.close();
                ownBackend?.close();
                log.info({ url }, 'worker node stopped');
            })();
            return stopped;
        };

        return {
            url, port, config, worker, certPem: tls.certPem, tlsKeyHash, teeKey: issuer.teeKey, attestation, registration, ledger, metrics,
            admission, issuer, server, counter, escrows,
            refresh: () => {
                escrows.invalidate();
                workerView.invalidate();
            },
            runClaims: () => claimLoop.runOnce(),
            stop,
        };
    }
}

/** SIGINT/SIGTERM: graceful stop, then exit. */
export function stopOnSignals(handle: Pick<WorkerNodeHandle, 'stop'>, log: Logger): void {
    let once = false;
    const onSignal = (sig: NodeJS.Signals) => {
        if (once) return;
        once = true;
        log.info({ signal: sig }, 'stopping');
        handle.stop().then(() => process.exit(0), (e) => {
            log.error({ err: (e as Error).message }, 'unclean stop');
            process.exit(1);
        });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
}

// The worker node: an OpenAI-compatible HTTPS API in front of an inference backend, paid through the
// client's on-chain ClientEscrow with cumulative receipts signed by the TEE key (docs/HTTP-API.md).
// This file only assembles the parts:
//
//   identity.ts      a fresh TEE key per start, its attestation, the re-registration on-chain
//   admission.ts     API keys (apiKeyAuth.ts), escrow checks, reservations, the in-flight limit
//   models.ts        the models served: upstream pools (src/backend/pool.ts), capabilities, the root's list
//   backendCall.ts   the upstream request of each route; backends in src/backend
//   receipts.ts      the only holder of the TEE key: signs and commits receipts (groupCommit.ts)
//   respond/         JSON and SSE answers
//   errors.ts        the HttpError taxonomy and its rendering
//   routes.ts        the handlers wiring the stages; status.ts /attestation and /healthz
//   server.ts        HTTPS, connection limits and idle timeouts
//   claimer.ts       the claim loop; escrowRefresh.ts moves escrows to the current key
//   lifecycle.ts     the request handler (errors, metrics) and shutdown in order
import { readFileSync } from 'node:fs';
import { Address } from '@ton/core';
import type { Logger } from 'pino';
import { Chain, Sender, SignedStatement, workerAddress, type WorkerInfo } from '../sdk';
import { generateSelfSignedCert, hex256, tlsKeyHashOfCert } from '../sdk/tls';
import type { InferenceBackend } from '../backend';
import { parseWorkerConfig, describeConfig, WorkerConfig, WorkerConfigInput } from './config';
import { createLogger } from './logger';
import { ReceiptLedger } from './ledger';
import { EscrowView, WorkerView } from './chainViews';
import { AttestationProvider } from './attestation';
import { createMetrics, WorkerMetrics } from './metrics';
import { ClaimLoop, ClaimOutcome } from './claimer';
import { attestKeys, freshTeeKey, LeaseKeeper, OperatorLane, reregister, type ReregisterOutcome } from './identity';
import { ReceiptIssuer } from './receipts';
import { SpendBook } from './spend';
import { TokenCounter } from './tokenCount';
import { EscrowRefresher } from './escrowRefresh';
import { AdmissionControl } from './admission';
import type { ChatTiming } from './routes';
import { NodeServer } from './server';
import { RequestHandler, shutdownOnce } from './lifecycle';
import { attestationDocument, healthDocument, type StatusSources } from './status';
import { ModelCatalog, RootModelsView } from './models';

export type { ChatTiming } from './routes';
export { stopOnSignals } from './lifecycle';
export { receiptJson } from './respond/json';

export interface WorkerDeps {
    chain: Chain;
    /** The operator's wallet: pays for Claim, RefreshWorker and the re-registration, receives the payouts. */
    operatorSender: Sender;
    attestationProvider: AttestationProvider;
    /** The first model's backend (default: a pool of its upstreams, OpenAICompatibleBackend each). */
    backend?: InferenceBackend;
    /** Backends by model name, for any model (default: a pool of its upstreams). */
    backends?: Record<string, InferenceBackend>;
    /** Bearer token for the upstream engines (never logged). */
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
    /** The statement this start registered with (GET /attestation serves the one in force, renewed). */
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
    /** The models served, with their upstreams. */
    catalog: ModelCatalog;
    /** Drops the cached chain reads (after the test or the operator changed something on-chain). */
    refresh(): void;
    /** One pass of the claim loop, now. */
    runClaims(): Promise<ClaimOutcome[]>;
    /** Renews the key's attestation lease now if it is in its last quarter (true when it did). */
    renewLease(): Promise<boolean>;
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
        // the models and their upstreams; each must be one the root lists for this image
        const rootModels = new RootModelsView(deps.chain, root, config.measurement, Math.max(config.workerCacheMs, 1000));
        const catalog = new ModelCatalog({
            config, rootModels, log, apiKey: deps.backendApiKey,
            backends: { ...(deps.backends ?? {}), ...(deps.backend ? { [config.models[0].name]: deps.backend } : {}) },
        });
        cleanup.push(() => catalog.close());
        await catalog.checkWhitelisted('0x' + config.measurement.toString(16));

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
        const attest = (current: WorkerInfo | null) => attestKeys({
            chain: deps.chain, provider: deps.attestationProvider, root, operator, teeKey: teeKeyInt, tlsKeyHash,
            measurement: config.measurement, ttlSec: config.attestationTtlSec, current,
        });
        // the statement in force (renewed while the node runs) and the TEE's evidence for it
        let attested = await attest(before);
        const attestation = attested.signed;
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

        // the lease of this key: renewed (same key, newer statement) in its last quarter
        const lease = new LeaseKeeper({
            ttlSec: config.attestationTtlSec, checkMs: Math.min(3_600_000, (config.attestationTtlSec * 1000) / 8), teeKey: issuer.teeKey,
            now: () => deps.chain.now(), current: () => workerView.get({ fresh: true }), log,
            renew: async (current) => {
                const next = await attest(current);
                await reregister({ chain: deps.chain, sender: deps.operatorSender, root, attestation: next.signed, current, lane, log });
                attested = next;
                workerView.invalidate();
            },
        });

        let stopping = false;
        const status: StatusSources = {
            root, operator, worker, model: config.model, models: [...catalog.models.values()], measurement: config.measurement, teeKey: issuer.teeKey, tlsKeyHash,
            attestation: () => attested.signed,
            evidence: () => (attested.evidence ? { kind: deps.attestationProvider.kind, quote: attested.evidence } : null),
            workerInfo: () => workerView.get(), ledgerHealth: () => issuer.health(), stopping: () => stopping, log,
        };
        const handler = new RequestHandler({
            config, log, metrics, catalog, admission, issuer, counter,
            stopping: () => stopping, onTiming: deps.onChatTiming,
            models: () => catalog.list(attestation.statement.issuedAt),
            attestation: () => attestationDocument(status),
            health: () => healthDocument(status),
        }, log, metrics);
        const server = new NodeServer({
            tls, host: config.host, port: config.port, headersTimeoutMs: config.headersTimeoutMs, idleTimeoutMs: config.idleTimeoutMs,
            maxConnections: config.maxConnections, maxConnectionsPerPeer: config.maxConnectionsPerPeer, handler: handler.handle, log, metrics,
            refusePeer: (addr) => admission.auth.blocked(addr),
        });
        const { url, port } = await server.listen();
        claimLoop.start();
        if (config.register === 'auto') lease.start();
        log.info({
            url, worker: worker.toString(), models: [...catalog.models.values()].map((m) => ({ name: m.name, backend: m.backend.name, capabilities: [...m.capabilities] })),
            attestation: deps.attestationProvider.kind, tlsKeyHash: hex256(tlsKeyHash),
            teeKey: hex256(issuer.teeKey), registration, ledger: { path: config.dbPath, ...ledger.settings() }, maxConnections: server.cap, config: describeConfig(config),
        }, 'worker node started');

        const stop = shutdownOnce({
            closing: () => {
                stopping = true;
            },
            stopAccepting: () => server.stopAccepting(), handler, graceMs: config.shutdownGraceMs, log, url,
            then: [() => lease.stop(), () => claimLoop.stop(), () => server.destroyAll(), () => issuer.close(), () => counter.close(), () => ledger.close(), () => catalog.close()],
        });

        return {
            url, port, config, worker, certPem: tls.certPem, tlsKeyHash, teeKey: issuer.teeKey, attestation, registration, ledger, metrics,
            admission, issuer, server, counter, escrows, catalog,
            refresh: () => {
                escrows.invalidate();
                workerView.invalidate();
                rootModels.invalidate();
            },
            runClaims: () => claimLoop.runOnce(),
            renewLease: () => lease.check(),
            stop,
        };
    }
}


// Prometheus metrics of one node, on its own registry (several nodes may share a process in tests).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Increments of a labelled counter kept in plain numbers and handed to prom-client when the counter
 * is read (its collect()): prom-client hashes and validates the label object on every inc(), which
 * the request path would pay several times per request. A series appears when first counted.
 */
export class DeferredCounts<L extends string> {
    private readonly pending = new Map<string, { labels: Partial<Record<L, string>>; n: number }>();
    private counter: Counter<L> | null = null;

    /** `key` must identify `labels` (it saves building and hashing them). */
    add(key: string, labels: () => Partial<Record<L, string>>, n = 1): void {
        let p = this.pending.get(key);
        if (!p) {
            p = { labels: labels(), n: 0 };
            this.pending.set(key, p);
        }
        p.n += n;
    }

    attach(c: Counter<L>): void {
        this.counter = c;
    }

    flush(): void {
        if (!this.counter) return;
        for (const p of this.pending.values()) {
            if (p.n !== 0) this.counter.inc(p.labels, p.n);
            p.n = 0;
        }
    }
}

export interface WorkerMetrics {
    /** Deferred increments of `requests` (route, status) and `tokens` (kind), for the request path. */
    requestsBy: DeferredCounts<'route' | 'status'>;
    tokensBy: DeferredCounts<'kind'>;
    registry: Registry;
    requests: Counter<'route' | 'status'>;
    tokens: Counter<'kind'>;
    receipts: Counter;
    unclaimed: Gauge;
    claims: Counter<'result'>;
    claimed: Counter;
    errors: Counter<'kind'>;
    inflight: Gauge;
    duration: Histogram<'route'>;
    /** Refused authentications by reason (no_key, bad_format, expired, bad_signature, …). */
    authFailures: Counter<'reason'>;
    /** RefreshWorker sent by this node to escrows holding an older key of it. */
    refreshes: Counter<'result'>;
    /** 1 while the ledger takes writes, 0 after a failed commit until a probe succeeds. */
    ledgerHealthy: Gauge;
    /** Open client connections. */
    connections: Gauge;
}

export function createMetrics(unclaimedNow: () => bigint): WorkerMetrics {
    const registry = new Registry();
    const requestsBy = new DeferredCounts<'route' | 'status'>();
    const tokensBy = new DeferredCounts<'kind'>();
    const m: WorkerMetrics = {
        registry, requestsBy, tokensBy,
        requests: new Counter({
            name: 'cocoon_worker_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry],
            collect: () => requestsBy.flush(),
        }),
        tokens: new Counter({
            name: 'cocoon_worker_tokens_total', help: 'Tokens billed, by class (prompt: uncached prompt, cached, completion)', labelNames: ['kind'], registers: [registry],
            collect: () => tokensBy.flush(),
        }),
        receipts: new Counter({ name: 'cocoon_worker_receipts_total', help: 'Receipts signed and persisted', registers: [registry] }),
        unclaimed: new Gauge({
            name: 'cocoon_worker_unclaimed_nanoton', help: 'Issued receipt value not yet known settled on-chain (nanoton)', registers: [registry],
            collect() {
                this.set(Number(unclaimedNow()));
            },
        }),
        claims: new Counter({ name: 'cocoon_worker_claims_total', help: 'Claim messages by result (ok, failed)', labelNames: ['result'], registers: [registry] }),
        claimed: new Counter({ name: 'cocoon_worker_claimed_nanoton_total', help: 'Receipt value settled by this node\'s claims (nanoton)', registers: [registry] }),
        errors: new Counter({ name: 'cocoon_worker_errors_total', help: 'Errors by kind', labelNames: ['kind'], registers: [registry] }),
        inflight: new Gauge({ name: 'cocoon_worker_inflight_requests', help: 'Chat requests in progress', registers: [registry] }),
        authFailures: new Counter({ name: 'cocoon_worker_auth_failures_total', help: 'Refused authentications by reason', labelNames: ['reason'], registers: [registry] }),
        refreshes: new Counter({ name: 'cocoon_worker_escrow_refreshes_total', help: 'RefreshWorker sent to escrows holding an older key of this worker', labelNames: ['result'], registers: [registry] }),
        ledgerHealthy: new Gauge({ name: 'cocoon_worker_ledger_healthy', help: '1 while the receipt ledger takes writes', registers: [registry] }),
        connections: new Gauge({ name: 'cocoon_worker_connections', help: 'Open client connections', registers: [registry] }),
        duration: new Histogram({
            name: 'cocoon_worker_request_duration_seconds', help: 'Chat request duration', labelNames: ['route'],
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry],
        }),
    };
    requestsBy.attach(m.requests);
    tokensBy.attach(m.tokens);
    return m;
}

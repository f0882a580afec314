// Prometheus metrics of one node, on its own registry (several nodes may share a process in tests).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface WorkerMetrics {
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
}

export function createMetrics(unclaimedNow: () => bigint): WorkerMetrics {
    const registry = new Registry();
    const m: WorkerMetrics = {
        registry,
        requests: new Counter({ name: 'cocoon_worker_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
        tokens: new Counter({ name: 'cocoon_worker_tokens_total', help: 'Tokens billed, by kind (prompt, completion)', labelNames: ['kind'], registers: [registry] }),
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
        duration: new Histogram({
            name: 'cocoon_worker_request_duration_seconds', help: 'Chat request duration', labelNames: ['route'],
            buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers: [registry],
        }),
    };
    return m;
}

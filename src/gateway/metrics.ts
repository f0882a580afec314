// Prometheus metrics of one gateway, on its own registry. Gauges that mirror state (escrows,
// deposits, workers) are read when scraped (collect), so they always tell what is true now.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewaySnapshot {
    deposited: bigint;
    budget: bigint;
    escrows: Record<string, number>;
    receiptsHeld: number;
    inflight: number;
    workersUsable: number;
    workersDropped: number;
    workersCooling: number;
}

export interface GatewayMetrics {
    registry: Registry;
    requests: Counter<'route' | 'status'>;
    duration: Histogram<'route' | 'stream'>;
    attempts: Counter<'outcome'>;
    retries: Counter;
    badReceipts: Counter<'code'>;
    spent: Counter;
    tokens: Counter;
    chainActions: Counter<'action' | 'ok'>;
    firstByte: Histogram;
}

export function createGatewayMetrics(snapshot: () => GatewaySnapshot): GatewayMetrics {
    const registry = new Registry();
    const p = 'cocoon_gateway_';
    const m: GatewayMetrics = {
        registry,
        requests: new Counter({ name: p + 'requests_total', help: 'Requests answered, by route and HTTP status', labelNames: ['route', 'status'], registers: [registry] }),
        duration: new Histogram({
            name: p + 'request_duration_seconds', help: 'Time to answer a request in full', labelNames: ['route', 'stream'], registers: [registry],
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
        }),
        firstByte: new Histogram({
            name: p + 'stream_first_byte_seconds', help: 'Streams: time from the request to the first content chunk sent to the caller', registers: [registry],
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        }),
        attempts: new Counter({ name: p + 'worker_attempts_total', help: 'Requests sent to workers, by outcome (ok, failed_before_answer, failed_after_answer, bad_receipt, refused_request)', labelNames: ['outcome'], registers: [registry] }),
        retries: new Counter({ name: p + 'retries_total', help: 'Requests retried on another worker after the first failed before answering', registers: [registry] }),
        badReceipts: new Counter({ name: p + 'bad_receipts_total', help: 'Receipts that failed verification (the worker is dropped), by client library code', labelNames: ['code'], registers: [registry] }),
        spent: new Counter({ name: p + 'spent_nanoton_total', help: 'What verified receipts charged, nanoton', registers: [registry] }),
        tokens: new Counter({ name: p + 'tokens_total', help: 'Tokens of verified receipts', registers: [registry] }),
        chainActions: new Counter({ name: p + 'chain_actions_total', help: 'On-chain actions (open, topUp, close, withdraw, setClientKey) and whether they succeeded', labelNames: ['action', 'ok'], registers: [registry] }),
    };
    // one collect (of the first gauge) sets them all from one snapshot
    const escrows = new Gauge({ name: p + 'escrows', help: 'The gateway\'s escrows by state', labelNames: ['state'], registers: [] });
    const budget = new Gauge({ name: p + 'budget_nanoton', help: 'Most the gateway may have deposited at once', registers: [] });
    const receipts = new Gauge({ name: p + 'receipts_held', help: 'Escrows with a latest verified receipt on disk', registers: [] });
    const inflight = new Gauge({ name: p + 'inflight_requests', help: 'Chat requests in progress', registers: [] });
    const workers = new Gauge({ name: p + 'workers', help: 'Workers by condition (usable, dropped, cooling)', labelNames: ['condition'], registers: [] });
    new Gauge({
        name: p + 'deposited_nanoton', help: 'Sum of the on-chain deposits of the gateway\'s escrows', registers: [registry],
        collect() {
            const s = snapshot();
            this.set(Number(s.deposited));
            budget.set(Number(s.budget));
            escrows.reset();
            for (const [state, n] of Object.entries(s.escrows)) escrows.set({ state }, n);
            receipts.set(s.receiptsHeld);
            inflight.set(s.inflight);
            workers.set({ condition: 'usable' }, s.workersUsable);
            workers.set({ condition: 'dropped' }, s.workersDropped);
            workers.set({ condition: 'cooling' }, s.workersCooling);
        },
    });
    for (const g of [escrows, budget, receipts, inflight, workers]) registry.registerMetric(g);
    return m;
}

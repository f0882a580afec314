// Prometheus metrics of a verifier service, on its own registry.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

export interface VerifierMetrics {
    registry: Registry;
    requests: Counter<'route' | 'status'>;
    verdicts: Counter<'route' | 'result' | 'reason'>;
    signatures: Counter;
    rateLimited: Counter;
    verifySeconds: Histogram;
}

export function createVerifierMetrics(opts: { processMetrics?: boolean } = {}): VerifierMetrics {
    const registry = new Registry();
    if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'cocoon_verifier_' });
    return {
        registry,
        requests: new Counter({ name: 'cocoon_verifier_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers: [registry] }),
        verdicts: new Counter({
            name: 'cocoon_verifier_verdicts_total', help: 'Quote verdicts by route, result (accepted|refused) and reason',
            labelNames: ['route', 'result', 'reason'], registers: [registry],
        }),
        signatures: new Counter({ name: 'cocoon_verifier_signatures_total', help: 'Statements signed', registers: [registry] }),
        rateLimited: new Counter({ name: 'cocoon_verifier_rate_limited_total', help: 'Requests refused by the per-peer rate limit', registers: [registry] }),
        verifySeconds: new Histogram({
            name: 'cocoon_verifier_verify_seconds', help: 'Time to verify one quote (chain, collateral, policy)',
            buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
        }),
    };
}

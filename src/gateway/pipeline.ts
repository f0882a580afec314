// One chat completion through the gateway:
//
//   body (size, deadline, JSON, shape) -> model served? -> policy: workers in order -> escrow of
//   that worker to itself (queue) -> budget: open / top up if needed -> the client library's pinned
//   session: API key of the escrow, TLS pinned to the attested key, receipt verified and stored ->
//   answer to the caller (JSON, or SSE relayed chunk by chunk with the receipt-bearing end held)
//
// Failures, by when they happen:
//   before the worker answered (no 200 head: refused connection, TLS pin mismatch, timeout, 5xx,
//   429, 401/402/403 on the escrow): the worker is cooled down for cooldownSec and the request is
//   retried once on the next worker in policy order. Nothing was billed by a worker that did not
//   answer (the client library notes a possible gap if the request had been sent).
//   after it answered (cut body or stream): the worker may have billed what it generated, so no
//   retry (it would pay twice): 502 worker_failed, or an error event in a stream.
//   a receipt that fails verification (signature, cumulative totals, price): the answer is not
//   passed on (whole) or the stream ends with an error event and no [DONE]; the worker is dropped
//   for good, persisted and reported (/gateway/status, metrics, log), and its escrow closed.
//   the caller's own mistakes that the worker refuses (400, 413, 404 but model_not_found) are
//   passed on as the worker said them.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { asPrices, pricesWithin, typicalPrice, type Chain, type PriceSet } from '../sdk';
import { isClientError, worstCaseCost, type ChatBody, type ChatOutcome, type ClientError } from '../client';
import type { EscrowBudget } from './budget';
import { isBudgetError } from './budget';
import { readBody, parseChatRequest, type ChatRequest } from './body';
import type { GatewayConfig } from './config';
import { GatewayError, Refuse, passThrough, sendJson } from './errors';
import type { GatewayMetrics } from './metrics';
import { conversationKey, selectWorkers, type Candidate, type StickyMap, type WorkerStats } from './policy';
import type { WorkerRegistry } from './registry';
import { SseRelay } from './sse';

export interface PipelineDeps {
    config: GatewayConfig;
    log: Logger;
    metrics: GatewayMetrics;
    chain: Chain;
    registry: WorkerRegistry;
    stats: WorkerStats;
    budget: EscrowBudget;
    sticky: StickyMap | null;
    /** A worker's receipt failed verification: drop it for good (persist, close its escrow). */
    drop(key: string, code: string, reason: string): void;
}

const RECEIPT_CODES = new Set(['BAD_RECEIPT', 'BAD_RECEIPT_SIGNATURE', 'COST_MISMATCH', 'STALE_RECEIPT']);

/** How many workers the request may be sent to: the first, and one retry. */
const ATTEMPTS = 2;

type Attempt =
    /** The response is sent (an answer, or an error event ending a stream that had started). */
    | { kind: 'done' }
    | { kind: 'aborted' }
    | { kind: 'retry'; error: GatewayError };

/**
 * The worst case a worker may hold for the request: the prompt's bytes / 3 as tokens (a token is ~3-4
 * bytes of text) at the dearer prompt price, plus max_tokens at the completion price.
 */
export function worstCaseFor(body: ChatRequest, prices: PriceSet, defaultMaxTokens: number): bigint {
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens;
    const promptTokens = Math.ceil(Buffer.byteLength(JSON.stringify(body.messages)) / 3);
    return worstCaseCost(BigInt(promptTokens), BigInt(maxTokens), prices);
}

/**
 * Models that some usable worker serves (active, attested with margin, within the price caps, not
 * dropped), with the cheapest such worker's prices (by a typical request, typicalPrice).
 */
export function servedModels(candidates: Candidate[], stats: WorkerStats, q: { now: number; maxPrice: PriceSet; leaseMarginSec: number }): Map<string, { workers: number; minPrices: PriceSet }> {
    const out = new Map<string, { workers: number; minPrices: PriceSet }>();
    for (const c of candidates) {
        if (stats.isDropped(c.key) || !pricesWithin(c.prices, q.maxPrice) || c.expiresAt < q.now + q.leaseMarginSec) continue;
        for (const m of c.models) {
            const e = out.get(m);
            if (!e) out.set(m, { workers: 1, minPrices: c.prices });
            else {
                e.workers++;
                if (typicalPrice(c.prices) < typicalPrice(e.minPrices)) e.minPrices = c.prices;
            }
        }
    }
    return out;
}

export async function chatCompletions(d: PipelineDeps, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const { config, stats, registry, budget, metrics, log } = d;
    const body = parseChatRequest(await readBody(req, config.maxBodyBytes, config.bodyTimeoutMs));
    const stream = body.stream === true;
    const now = await d.chain.now();
    let candidates = await registry.current();
    const caps = asPrices(config.maxPrice);
    const modelQuery = { now, maxPrice: caps, leaseMarginSec: config.leaseMarginSec };
    if (!servedModels(candidates, stats, modelQuery).has(body.model)) {
        await registry.refresh(); // a worker may have attested since the last read
        candidates = registry.candidates();
        const served = servedModels(candidates, stats, modelQuery);
        if (!served.has(body.model)) throw Refuse.unknownModel(body.model, [...served.keys()]);
    }
    const conv = d.sticky ? conversationKey(body) : null;
    const relay = stream ? new SseRelay(res, body.stream_options?.include_usage === true) : null;
    const t0 = performance.now();
    const tried = new Set<string>();
    let attempts = 0;
    let last: GatewayError | null = null;

    while (attempts < ATTEMPTS) {
        const sel = selectWorkers(candidates, stats, {
            model: body.model, now, nowMs: Date.now(), maxPrice: caps, leaseMarginSec: config.leaseMarginSec,
            maxQueue: config.maxQueuePerWorker, hasEscrow: (k) => budget.hasOpen(k), exclude: tried,
            sticky: conv ? d.sticky!.get(conv) : undefined,
        });
        const c = sel.ranked[0];
        if (!c) {
            if (!last) {
                const why = sel.skipped.filter((s) => s.reason !== 'other-model').map((s) => s.reason);
                const retryIn = Math.max(1, Math.min(config.cooldownSec, 30));
                throw Refuse.noWorker(body.model, why.length ? `workers skipped: ${[...new Set(why)].join(', ')}` : 'none listed', retryIn);
            }
            break;
        }
        tried.add(c.key);
        const r = await attempt(d, res, c, body, relay, signal, conv, t0, attempts);
        if (r.kind === 'done' || r.kind === 'aborted') return;
        last = r.error;
        if (r.error.code !== 'budget_exhausted') {
            attempts++;
            if (attempts < ATTEMPTS) {
                metrics.retries.inc();
                log.info({ worker: c.worker.toString(), err: r.error.message }, 'the worker failed before answering; retrying on the next one');
            }
        }
    }
    throw last ?? Refuse.noWorker(body.model, 'none left to try', config.cooldownSec);
}

async function attempt(
    d: PipelineDeps, res: ServerResponse, c: Candidate, body: ChatRequest, relay: SseRelay | null, signal: AbortSignal,
    conv: string | null, t0: number, retries: number,
): Promise<Attempt> {
    const stream = relay !== null;
    const { config, stats, registry, budget, metrics, log } = d;
    const listing = registry.listing(c.key);
    if (!listing) return { kind: 'retry', error: Refuse.noWorker(body.model, 'the worker left the list', 1) };
    const worst = worstCaseFor(body, listing.prices, config.defaultMaxTokens);
    const cool = (reason: string) => stats.failure(c.key, reason, Date.now(), config.cooldownSec * 1000);
    stats.enqueue(c.key);
    try {
        return await budget.exclusive(c.key, async (): Promise<Attempt> => {
            if (signal.aborted) return { kind: 'aborted' };
            let escrow;
            try {
                escrow = await budget.ensure(c.worker, worst);
            } catch (e) {
                if (isBudgetError(e)) return { kind: 'retry', error: e };
                // the chain refused to open or top up (the worker went inactive, its price rose above the cap…)
                cool(`escrow: ${(e as Error).message}`);
                return { kind: 'retry', error: Refuse.workerFailed(`its escrow could not be opened or topped up: ${(e as Error).message}`) };
            }
            const session = await registry.session(c.key);
            const headers = {
                'x-cocoon-worker': c.worker.toString(), 'x-cocoon-escrow': escrow.address.toString(), 'x-cocoon-attempts': String(retries + 1),
            };
            relay?.setHeaders(headers);
            let answered = false;
            const ta = performance.now();
            let out: ChatOutcome;
            try {
                out = await session.chat(body as unknown as ChatBody, {
                    stream, signal, onAnswer: () => { answered = true; }, ...(relay ? { onChunk: (ch) => relay.chunk(ch) } : {}),
                });
            } catch (e) {
                if (signal.aborted) {
                    log.info({ worker: c.worker.toString(), answered }, 'the caller went away; the worker bills what it generated');
                    return { kind: 'aborted' };
                }
                return failed(d, c, e, answered, relay, cool);
            } finally {
                await budget.touch(c.key);
            }
            const latency = (relay && relay.firstByteAt > 0 ? relay.firstByteAt : performance.now()) - ta;
            stats.success(c.key, latency);
            if (conv) d.sticky!.set(conv, c.key);
            const r = out.receipt;
            metrics.attempts.inc({ outcome: 'ok' });
            metrics.spent.inc(Number(r.requestCost));
            metrics.tokens.inc(Number(r.requestTokens));
            if (relay) {
                if (relay.firstByteAt > 0) metrics.firstByte.observe((relay.firstByteAt - t0) / 1000);
                relay.finish();
            } else {
                sendJson(res, 200, out.body ?? {}, {
                    ...headers, 'x-cocoon-receipt-seq': r.seq.toString(), 'x-cocoon-cost': r.requestCost.toString(),
                });
            }
            log.debug({ worker: c.worker.toString(), seq: r.seq.toString(), cost: r.requestCost.toString(), ms: Math.round(performance.now() - t0) }, 'answered');
            return { kind: 'done' };
        });
    } finally {
        stats.dequeue(c.key);
    }
}

/**
 * What a failed worker request means for the caller and the worker (see the top of this file):
 * a retry on the next worker, or a final error (thrown, or written into a stream that started).
 */
function failed(d: PipelineDeps, c: Candidate, e: unknown, answered: boolean, relay: SseRelay | null, cool: (reason: string) => void): Attempt {
    const { metrics, log, budget } = d;
    const final = (err: GatewayError): Attempt => {
        if (relay?.started) {
            relay.fail(err);
            return { kind: 'done' };
        }
        throw err;
    };
    const msg = (e as Error).message ?? String(e);
    if (isClientError(e) && RECEIPT_CODES.has(e.code)) {
        metrics.attempts.inc({ outcome: 'bad_receipt' });
        metrics.badReceipts.inc({ code: e.code });
        log.error({ worker: c.worker.toString(), code: e.code, err: msg }, 'bad receipt: the answer is withheld and the worker dropped');
        d.drop(c.key, e.code, msg);
        return final(Refuse.badReceipt(c.worker.toString(), `${e.code}: ${msg.split(' — ')[0]}`));
    }
    if (isClientError(e, 'HTTP_ERROR')) {
        const status = Number((e as ClientError).details.status);
        const code = (e as ClientError).details.code;
        const workerMsg = msg.replace(/^the worker answered \d+: /, '').split(' — ')[0];
        if ((status === 400 || status === 413 || (status === 404 && code !== 'model_not_found')) && !answered) {
            metrics.attempts.inc({ outcome: 'refused_request' });
            return final(passThrough(status, workerMsg, typeof code === 'string' ? code : null));
        }
        if (status === 402 || status === 403 || status === 401) void budget.reread(c.key);
        if (status !== 402) cool(`HTTP ${status}${code ? ` ${String(code)}` : ''}`);
        metrics.attempts.inc({ outcome: 'failed_before_answer' });
        return { kind: 'retry', error: Refuse.workerFailed(`it answered ${status}: ${workerMsg}`) };
    }
    if (isClientError(e, 'ESCROW')) {
        void budget.reread(c.key);
        metrics.attempts.inc({ outcome: 'failed_before_answer' });
        return { kind: 'retry', error: Refuse.workerFailed(msg.split(' — ')[0]) };
    }
    cool(msg.split(' — ')[0]);
    if (!answered) {
        metrics.attempts.inc({ outcome: 'failed_before_answer' });
        return { kind: 'retry', error: Refuse.workerFailed(msg.split(' — ')[0]) };
    }
    // it answered and then failed: it may have billed what it generated; a retry would pay twice
    metrics.attempts.inc({ outcome: 'failed_after_answer' });
    log.warn({ worker: c.worker.toString(), err: msg }, 'the worker failed after it began answering');
    return final(Refuse.workerFailed(`the answer broke off (${msg.split(' — ')[0]}); what the worker generated may be billed, as its latest receipt shows`));
}

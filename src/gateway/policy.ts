// Worker selection: which workers may take a request for a model, and in what order they are tried.
//
// A worker is eligible when
//   1. it serves the model (one of the names its measurement maps to on the root, modelNames()),
//   2. each of its prices (on-chain, nanoton per 1M tokens of each token class: prompt, cached,
//      completion) is at or below the user's cap for that class (maxPrice),
//   3. its attestation lease is valid for at least leaseMarginSec more (chain time),
//   4. it is not cooling down after a failure, nor dropped for a bad receipt,
//   5. fewer than maxQueuePerWorker requests wait on its escrow (an escrow's requests run one after
//      another, because each receipt must extend the previous one exactly).
// Eligible workers are tried in this order:
//   the conversation's sticky worker (when stickiness is on and it is eligible), then
//   lowest price of a typical request (3 prompt tokens to 1 completion token, typicalPrice), then one
//   the gateway already has an escrow with (no opening fee, no new deposit),
//   then lowest observed latency (EWMA; a worker not measured yet counts as 0 so it gets measured),
//   then lowest error rate (over its last 20 requests), then the address (a stable order).
// Pure: the caller passes the clock and the facts; WorkerStats keeps the observations, bounded.
import { createHash } from 'node:crypto';
import type { Address } from '@ton/core';
import { pricesWithin, typicalPrice, type PriceSet } from '../sdk';

export interface Candidate {
    worker: Address;
    /** Raw address string: the key of every map. */
    key: string;
    /** Nanoton per 1M tokens of each class. */
    prices: PriceSet;
    /** Attestation lease end, unix seconds (chain time). */
    expiresAt: number;
    models: string[];
}

export type SkipReason = 'other-model' | 'above-max-price' | 'lease-ending' | 'cooling-down' | 'dropped' | 'queue-full' | 'excluded';

export interface SelectInput {
    model: string;
    /** Chain time, unix seconds. */
    now: number;
    /** Wall clock, ms (cooldowns). */
    nowMs: number;
    /** The user's caps per class. */
    maxPrice: PriceSet;
    leaseMarginSec: number;
    maxQueue: number;
    hasEscrow: (key: string) => boolean;
    /** Already tried for this request. */
    exclude?: Set<string>;
    /** The conversation's worker, when stickiness is on. */
    sticky?: string;
}

export interface Selection {
    ranked: Candidate[];
    skipped: { key: string; reason: SkipReason }[];
}

const WINDOW = 20;
const ALPHA = 0.3;

interface Health {
    latencyMs: number | null;
    outcomes: boolean[];
    downUntil: number;
    lastError: string | null;
    dropped: { reason: string; at: number } | null;
    queued: number;
    requests: number;
    failures: number;
}

export interface HealthView {
    latencyMs: number | null;
    errorRate: number;
    downUntil: number;
    lastError: string | null;
    dropped: { reason: string; at: number } | null;
    queued: number;
    requests: number;
    failures: number;
}

/** What the gateway observed of each worker: latency, recent errors, cooldown, drop. At most `max` workers. */
export class WorkerStats {
    private readonly m = new Map<string, Health>();

    constructor(private readonly max = 10_000) {}

    private get(key: string): Health {
        let h = this.m.get(key);
        if (!h) {
            if (this.m.size >= this.max) {
                // forget the oldest worker that is neither dropped nor busy
                for (const [k, v] of this.m) if (!v.dropped && v.queued === 0) { this.m.delete(k); break; }
            }
            h = { latencyMs: null, outcomes: [], downUntil: 0, lastError: null, dropped: null, queued: 0, requests: 0, failures: 0 };
            this.m.set(key, h);
        }
        return h;
    }

    private outcome(h: Health, ok: boolean): void {
        h.outcomes.push(ok);
        if (h.outcomes.length > WINDOW) h.outcomes.shift();
        h.requests++;
        if (!ok) h.failures++;
    }

    success(key: string, latencyMs: number): void {
        const h = this.get(key);
        h.latencyMs = h.latencyMs === null ? latencyMs : h.latencyMs * (1 - ALPHA) + latencyMs * ALPHA;
        this.outcome(h, true);
    }

    /** The worker failed before answering: skipped until nowMs + cooldownMs. */
    failure(key: string, reason: string, nowMs: number, cooldownMs: number): void {
        const h = this.get(key);
        this.outcome(h, false);
        h.lastError = reason;
        h.downUntil = Math.max(h.downUntil, nowMs + cooldownMs);
    }

    /** A bad receipt: never used again by this gateway (persisted by the caller). */
    drop(key: string, reason: string, at: number): void {
        const h = this.get(key);
        this.outcome(h, false);
        h.lastError = reason;
        h.dropped ??= { reason, at };
    }

    isDropped(key: string): boolean {
        return this.m.get(key)?.dropped != null;
    }

    enqueue(key: string): void {
        this.get(key).queued++;
    }

    dequeue(key: string): void {
        const h = this.m.get(key);
        if (h && h.queued > 0) h.queued--;
    }

    view(key: string): HealthView {
        const h = this.m.get(key);
        if (!h) return { latencyMs: null, errorRate: 0, downUntil: 0, lastError: null, dropped: null, queued: 0, requests: 0, failures: 0 };
        const fails = h.outcomes.filter((o) => !o).length;
        return {
            latencyMs: h.latencyMs, errorRate: h.outcomes.length ? fails / h.outcomes.length : 0, downUntil: h.downUntil,
            lastError: h.lastError, dropped: h.dropped, queued: h.queued, requests: h.requests, failures: h.failures,
        };
    }

    dropped(): { key: string; reason: string; at: number }[] {
        const out: { key: string; reason: string; at: number }[] = [];
        for (const [key, h] of this.m) if (h.dropped) out.push({ key, ...h.dropped });
        return out;
    }
}

/** Eligible workers for a request, in the order to try them, and why each other one was skipped. */
export function selectWorkers(candidates: Candidate[], stats: WorkerStats, q: SelectInput): Selection {
    const out: Selection = { ranked: [], skipped: [] };
    for (const c of candidates) {
        const skip = (reason: SkipReason) => out.skipped.push({ key: c.key, reason });
        const h = stats.view(c.key);
        if (!c.models.includes(q.model)) { skip('other-model'); continue; }
        if (q.exclude?.has(c.key)) { skip('excluded'); continue; }
        if (h.dropped) { skip('dropped'); continue; }
        if (!pricesWithin(c.prices, q.maxPrice)) { skip('above-max-price'); continue; }
        if (c.expiresAt < q.now + q.leaseMarginSec) { skip('lease-ending'); continue; }
        if (h.downUntil > q.nowMs) { skip('cooling-down'); continue; }
        if (h.queued >= q.maxQueue) { skip('queue-full'); continue; }
        out.ranked.push(c);
    }
    const key = (c: Candidate) => {
        const h = stats.view(c.key);
        return { sticky: q.sticky === c.key ? 0 : 1, price: typicalPrice(c.prices), escrow: q.hasEscrow(c.key) ? 0 : 1, latency: h.latencyMs ?? 0, errors: h.errorRate };
    };
    const keys = new Map(out.ranked.map((c) => [c.key, key(c)]));
    out.ranked.sort((a, b) => {
        const x = keys.get(a.key)!;
        const y = keys.get(b.key)!;
        return x.sticky - y.sticky
            || (x.price < y.price ? -1 : x.price > y.price ? 1 : 0)
            || x.escrow - y.escrow
            || x.latency - y.latency
            || x.errors - y.errors
            || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    });
    return out;
}

/**
 * The conversation a request belongs to, for stickiness: the OpenAI `user` field when set, else the
 * model and the first two messages (a system prompt and the opening question stay the same as a
 * conversation grows).
 */
export function conversationKey(body: { model: string; user?: unknown; messages: unknown[] }): string {
    const h = createHash('sha256');
    if (typeof body.user === 'string' && body.user.length > 0) h.update('user\0' + body.model + '\0' + body.user);
    else h.update('msgs\0' + body.model + '\0' + JSON.stringify(body.messages.slice(0, 2)));
    return h.digest('base64url');
}

/** conversation -> worker, least recently used forgotten first. */
export class StickyMap {
    private readonly m = new Map<string, string>();

    constructor(private readonly max: number) {}

    get(conv: string): string | undefined {
        const w = this.m.get(conv);
        if (w !== undefined) {
            this.m.delete(conv);
            this.m.set(conv, w);
        }
        return w;
    }

    set(conv: string, worker: string): void {
        this.m.delete(conv);
        this.m.set(conv, worker);
        while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
    }

    get size(): number {
        return this.m.size;
    }
}

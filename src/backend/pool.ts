// Several upstreams serving one model (an operator with eight GPUs runs one engine per GPU behind one
// node): every call goes to the least loaded healthy upstream, fewest calls in flight first, ties in
// turn. Health is known two ways: a periodic GET /models of each upstream (`intervalMs`), and the
// calls themselves: an upstream that cannot be reached, answers 5xx or times out is left out until a
// probe succeeds or `cooldownMs` has passed. A call whose upstream could not be reached at all (it saw
// no request: UpstreamUnreachable) goes to the next healthy upstream, each tried at most once; a
// stream only before its first event. When none is healthy, the one left out longest is tried
// anyway: a node never refuses a request on its own bookkeeping alone (the call's own failure is
// what the client sees).
//
// The pool is itself an InferenceBackend; each upstream may name the model differently (`model`),
// and the pool sets that name on the request it forwards.
import type { BackendFeatures, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, InferenceBackend, StreamEvent, TextRequest, TextResult } from './types';
import { BackendError, UpstreamUnreachable } from './types';

export interface PoolMember {
    backend: InferenceBackend;
    /** The upstream's own name for the model (default: the request's). */
    model?: string;
}

export interface UpstreamPoolOptions {
    /** How often each upstream is probed (GET /models), ms; 0: never (only calls tell). */
    intervalMs?: number;
    /** A probe's deadline, ms. */
    probeTimeoutMs?: number;
    /** An upstream that failed a call is left out this long at most (a probe may bring it back sooner), ms. */
    cooldownMs?: number;
    /** Told when an upstream goes down or comes back (logs). */
    onChange?: (upstream: string, healthy: boolean, why: string | null) => void;
    clock?: () => number;
}

interface Member extends PoolMember {
    inflight: number;
    /** Left out until then (0: healthy). */
    downUntil: number;
    /** Why it is left out. */
    why: string | null;
    calls: number;
    failures: number;
}

/** What the pool says about one upstream (/healthz, metrics, tests). */
export interface UpstreamStatus {
    name: string;
    healthy: boolean;
    inflight: number;
    calls: number;
    failures: number;
    why: string | null;
}

/** A failure that says the upstream itself is unwell (not the request). */
function isUpstreamFault(e: unknown): boolean {
    if (e instanceof BackendError) return e.status === undefined || e.status >= 500;
    return e instanceof Error && e.name === 'TimeoutError';
}

export class UpstreamPool implements InferenceBackend {
    readonly name: string;
    readonly features?: BackendFeatures;
    private readonly members: Member[];
    private next = 0;
    private timer: NodeJS.Timeout | null = null;
    private readonly clock: () => number;
    private readonly cooldownMs: number;

    constructor(members: PoolMember[], private readonly o: UpstreamPoolOptions = {}) {
        if (members.length === 0) throw new Error('an upstream pool needs at least one upstream');
        this.members = members.map((m) => ({ ...m, inflight: 0, downUntil: 0, why: null, calls: 0, failures: 0 }));
        this.name = members.length === 1 ? members[0].backend.name : `pool of ${members.length}: ${members.map((m) => m.backend.name).join(', ')}`;
        this.features = members[0].backend.features;
        this.clock = o.clock ?? Date.now;
        this.cooldownMs = o.cooldownMs ?? 5_000;
        if ((o.intervalMs ?? 0) > 0) {
            this.timer = setInterval(() => void this.probe(), o.intervalMs);
            this.timer.unref();
        }
    }

    /** Each upstream's state. */
    status(): UpstreamStatus[] {
        const now = this.clock();
        return this.members.map((m) => ({ name: m.backend.name, healthy: m.downUntil <= now, inflight: m.inflight, calls: m.calls, failures: m.failures, why: m.downUntil > now ? m.why : null }));
    }

    /** Probes every upstream now (GET /models); resolves with the healthy count. */
    async probe(): Promise<number> {
        await Promise.all(this.members.map(async (m) => {
            if (!m.backend.health) return;
            const why = await m.backend.health(AbortSignal.timeout(this.o.probeTimeoutMs ?? 2_000)).catch((e) => (e as Error).message);
            if (why === null) this.up(m);
            else this.down(m, `health check failed: ${why}`, (this.o.intervalMs ?? 0) > 0 ? (this.o.intervalMs ?? 0) * 2 : this.cooldownMs);
        }));
        return this.status().filter((s) => s.healthy).length;
    }

    close(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
        for (const m of this.members) m.backend.close?.();
    }

    /**
     * The least loaded healthy upstream not yet tried (ties in turn); when none is healthy, the one
     * left out longest; null when every upstream was tried.
     */
    private pick(tried: ReadonlySet<Member> = new Set()): Member | null {
        const now = this.clock();
        let best: Member | null = null;
        const n = this.members.length;
        for (let k = 0; k < n; k++) {
            const m = this.members[(this.next + k) % n];
            if (m.downUntil > now || tried.has(m)) continue;
            if (!best || m.inflight < best.inflight) best = m;
        }
        if (!best) {
            if (tried.size > 0) return null; // a retry only goes to a healthy upstream
            best = this.members.reduce((a, b) => (b.downUntil < a.downUntil ? b : a));
        }
        this.next = (this.members.indexOf(best) + 1) % n;
        return best;
    }

    private up(m: Member): void {
        if (m.downUntil === 0) return;
        m.downUntil = 0;
        m.why = null;
        this.o.onChange?.(m.backend.name, true, null);
    }

    private down(m: Member, why: string, forMs = this.cooldownMs): void {
        const was = m.downUntil > this.clock();
        m.downUntil = this.clock() + forMs;
        m.why = why;
        if (!was) this.o.onChange?.(m.backend.name, false, why);
    }

    private settle(m: Member, e: unknown | null): void {
        m.inflight--;
        if (e === null) return;
        if (isUpstreamFault(e)) {
            m.failures++;
            this.down(m, (e as Error).message);
        }
    }

    private async call<T>(run: (m: Member) => Promise<T>): Promise<T> {
        const tried = new Set<Member>();
        for (let m = this.pick()!; ; ) {
            tried.add(m);
            m.inflight++;
            m.calls++;
            try {
                const r = await run(m);
                this.settle(m, null);
                return r;
            } catch (e) {
                this.settle(m, e);
                const next = e instanceof UpstreamUnreachable ? this.pick(tried) : null;
                if (!next) throw e;
                m = next;
            }
        }
    }

    private async *callStream(run: (m: Member) => AsyncIterable<StreamEvent>): AsyncGenerator<StreamEvent> {
        const tried = new Set<Member>();
        for (let m = this.pick()!; ; ) {
            const cur = m;
            tried.add(cur);
            cur.inflight++;
            cur.calls++;
            let failure: unknown | null = null;
            let started = false;
            try {
                for await (const ev of run(cur)) {
                    started = true;
                    yield ev;
                }
                return;
            } catch (e) {
                failure = e;
                const next = !started && e instanceof UpstreamUnreachable ? this.pick(tried) : null;
                if (!next) throw e;
                m = next;
            } finally {
                this.settle(cur, failure);
            }
        }
    }

    private named<R extends { model: string }>(m: Member, req: R): R {
        return m.model && m.model !== req.model ? { ...req, model: m.model } : req;
    }

    complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
        return this.call((m) => m.backend.complete(this.named(m, req), signal));
    }

    stream(req: ChatRequest, signal?: AbortSignal): AsyncIterable<StreamEvent> {
        return this.callStream((m) => m.backend.stream(this.named(m, req), signal));
    }

    completeText(req: TextRequest, signal?: AbortSignal): Promise<TextResult> {
        return this.call((m) => {
            if (!m.backend.completeText) throw new BackendError(`${m.backend.name} serves no text completions`, 404);
            return m.backend.completeText(this.named(m, req), signal);
        });
    }

    streamText(req: TextRequest, signal?: AbortSignal): AsyncIterable<StreamEvent> {
        return this.callStream((m) => {
            if (!m.backend.streamText) throw new BackendError(`${m.backend.name} serves no text completions`, 404);
            return m.backend.streamText(this.named(m, req), signal);
        });
    }

    embed(req: EmbeddingRequest, signal?: AbortSignal): Promise<EmbeddingResult> {
        return this.call((m) => {
            if (!m.backend.embed) throw new BackendError(`${m.backend.name} serves no embeddings`, 404);
            return m.backend.embed(this.named(m, req), signal);
        });
    }

    async health(): Promise<string | null> {
        return (await this.probe()) > 0 ? null : 'no upstream answers its health check';
    }
}

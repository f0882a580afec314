// Counting prompt tokens without stalling the event loop. Small texts are counted on the spot
// (linear counting, src/backend/tokens.ts: well under a millisecond); anything larger goes to one
// worker thread, queued and with a deadline. A job that misses its deadline gets null (the caller
// falls back to the byte bound, an upper bound of the count) and, if it was running, the thread is
// replaced: no prompt can hold the thread, or any other request, longer than the deadline.
import { Worker } from 'node:worker_threads';
import { COUNT_TEXT_SOURCE, MAX_RUN, countTextTokens, promptTexts, type ChatMessage } from '../backend';

export interface TokenCounterOptions {
    /** Texts of at most this many UTF-16 units in all are counted on the event loop (default 2048). */
    syncMaxChars?: number;
    /** A job's whole time in the queue and the thread (ms, default 1000). */
    deadlineMs?: number;
    /** Jobs waiting at most; beyond, a job gets null at once (default 64). */
    maxQueue?: number;
}

const THREAD = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const { countTokens } = require(workerData.tokenizer);
const countText = (${COUNT_TEXT_SOURCE});
parentPort.postMessage({ ready: true });
parentPort.on('message', (m) => {
    let n = 0;
    for (const t of m.texts) n += countText(countTokens, t, workerData.maxRun);
    parentPort.postMessage({ id: m.id, n });
});
`;

interface Job {
    id: number;
    texts: string[];
    resolve: (n: number | null) => void;
    timer: NodeJS.Timeout;
    started: boolean;
}

export class TokenCounter {
    private worker: Worker | null = null;
    private readonly queue: Job[] = [];
    private running: Job | null = null;
    private nextId = 1;
    private closed = false;
    readonly syncMaxChars: number;
    readonly deadlineMs: number;
    readonly maxQueue: number;
    /** Jobs that missed their deadline, threads replaced (metrics, tests). */
    readonly stats = { sync: 0, threaded: 0, timedOut: 0, refused: 0, restarts: 0 };

    constructor(opts: TokenCounterOptions = {}) {
        this.syncMaxChars = opts.syncMaxChars ?? 2048;
        this.deadlineMs = opts.deadlineMs ?? 1000;
        this.maxQueue = opts.maxQueue ?? 64;
    }

    /**
     * Prompt tokens of `messages` plus `extra` texts (as countPromptTokens counts them), or null
     * when the count did not finish within the deadline (or the queue was full).
     */
    async countPrompt(messages: ChatMessage[], extra: string[] = [], opts: { deadlineMs?: number } = {}): Promise<number | null> {
        const { texts, framing } = promptTexts(messages, extra);
        const n = await this.countTexts(texts, opts);
        return n === null ? null : framing + n;
    }

    /** Sum of countTextTokens over `texts`, or null past the deadline. */
    countTexts(texts: string[], opts: { deadlineMs?: number } = {}): Promise<number | null> {
        let chars = 0;
        for (const t of texts) chars += t.length;
        if (chars <= this.syncMaxChars) {
            this.stats.sync++;
            let n = 0;
            for (const t of texts) n += countTextTokens(t);
            return Promise.resolve(n);
        }
        if (this.closed || this.queue.length >= this.maxQueue) {
            this.stats.refused++;
            return Promise.resolve(null);
        }
        this.stats.threaded++;
        return new Promise((resolve) => {
            const job: Job = {
                id: this.nextId++, texts, resolve, started: false,
                timer: setTimeout(() => this.expire(job), opts.deadlineMs ?? this.deadlineMs),
            };
            this.queue.push(job);
            this.pump();
        });
    }

    private thread(): Worker {
        if (this.worker) return this.worker;
        const w = new Worker(THREAD, { eval: true, workerData: { tokenizer: require.resolve('gpt-tokenizer'), maxRun: MAX_RUN } });
        w.unref();
        w.on('message', (m: { id?: number; n?: number }) => {
            if (m.id === undefined || !this.running || this.running.id !== m.id) return;
            const job = this.running;
            this.running = null;
            clearTimeout(job.timer);
            job.resolve(m.n ?? null);
            this.pump();
        });
        w.on('error', () => this.replace());
        this.worker = w;
        return w;
    }

    private pump(): void {
        if (this.running || this.closed) return;
        const job = this.queue.shift();
        if (!job) return;
        this.running = job;
        job.started = true;
        this.thread().postMessage({ id: job.id, texts: job.texts });
    }

    private expire(job: Job): void {
        this.stats.timedOut++;
        job.resolve(null);
        if (this.running === job) {
            // the thread is busy with it: replace the thread, the queue goes on with a new one
            this.running = null;
            this.replace();
        } else {
            const i = this.queue.indexOf(job);
            if (i >= 0) this.queue.splice(i, 1);
        }
        this.pump();
    }

    private replace(): void {
        const w = this.worker;
        this.worker = null;
        if (w) {
            this.stats.restarts++;
            void w.terminate();
        }
        if (this.running) {
            const job = this.running;
            this.running = null;
            clearTimeout(job.timer);
            job.resolve(null);
        }
    }

    async close(): Promise<void> {
        this.closed = true;
        for (const j of this.queue.splice(0)) {
            clearTimeout(j.timer);
            j.resolve(null);
        }
        if (this.running) {
            clearTimeout(this.running.timer);
            this.running.resolve(null);
            this.running = null;
        }
        const w = this.worker;
        this.worker = null;
        if (w) await w.terminate();
    }
}

// DEVELOPMENT BACKEND: a stand-in for an inference engine, for tests, the demo and the sandbox.
// It is itself an OpenAI-compatible HTTP server on loopback (plain HTTP) that answers
// /v1/chat/completions and /v1/completions with a deterministic text, streamed one token at a time
// with a fixed delay, /v1/embeddings with deterministic unit vectors, and reports usage. It runs no
// model. With `promptCache`, it reports cached prompt tokens as a prefix-caching engine (vLLM,
// SGLang) would: the part of a chat prompt made of whole leading messages it has seen before.
//
// Pacing is a schedule, as on a GPU: the engine decodes in steps of `delayMs`, and every running
// sequence gets one token per step (continuous batching), so token i of a request is due at
// start + (i + 1) * delayMs. One clock serves all running requests. When this thread is late (the
// machine is busy), the tokens already due go out together and the next ones keep their times, so
// an answer takes tokens * delayMs whatever else shares the CPU, instead of accumulating the lateness
// of one timer per token.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { countPromptTokens, countTextTokens, messageText, PER_REPLY } from './tokens';
import type { BackendFeatures, ChatMessage, ToolCall } from './types';

/** What the development backend does beyond plain chat: tool calls and JSON mode, no logprobs. */
export const DEV_BACKEND_FEATURES: BackendFeatures = { tools: true, responseFormat: true, logprobs: false };

interface DevTool { type?: string; function?: { name?: string } }

/**
 * The function call the development backend makes, if any: with `tools` and a tool_choice other
 * than "none", it calls the chosen function (or the first one) unless the last message is already a
 * tool result; the arguments echo the last user message.
 */
export function devToolCall(messages: ChatMessage[], tools: DevTool[] | undefined, toolChoice: unknown): ToolCall | null {
    if (!Array.isArray(tools) || tools.length === 0 || toolChoice === 'none') return null;
    const last = messages[messages.length - 1];
    const forced = typeof toolChoice === 'object' && toolChoice !== null ? (toolChoice as DevTool).function?.name : undefined;
    if (!forced && toolChoice !== 'required' && last?.role === 'tool') return null;
    const name = forced ?? tools[0]?.function?.name ?? 'tool';
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    const args = JSON.stringify({ query: lastUser ? messageText(lastUser).slice(0, 80) : '' });
    return { id: 'call_dev_' + createHash('sha256').update(name + args).digest('hex').slice(0, 16), type: 'function', function: { name, arguments: args } };
}

export interface DevBackendOptions {
    /** Completion tokens of every answer, unless max_tokens asks for fewer (default 50). */
    tokens?: number;
    /** Time per token (one decode step), in ms (default 1). */
    delayMs?: number;
    /** Model name it lists and answers as (default `dev-model`). */
    model?: string;
    /** Report usage like vLLM does (default true); false mimics a server that never reports it. */
    reportUsage?: boolean;
    /**
     * Report cached prompt tokens (prompt_tokens_details.cached_tokens), default false: a chat prompt
     * whose leading messages (all but the last) an earlier request had is cached up to them; a text
     * prompt seen before is cached but its last token.
     */
    promptCache?: boolean;
    /** Dimensions of the embeddings when a request names none (default 8). */
    embeddingDimensions?: number;
    host?: string;
    port?: number;
}

// Each is exactly one token in gpt-tokenizer's encoding, also after a preceding word.
const WORDS = [' the', ' of', ' and', ' to', ' in', ' is', ' that', ' for', ' it', ' on', ' with', ' as', ' was', ' at', ' by', ' we', ' from', ' or', ' an', ' be'];

/** The answer's tokens for these messages: a pure function of the last user message and n. */
export function devAnswerTokens(messages: ChatMessage[], n: number): string[] {
    const lastUser = [...messages].reverse().find((m) => m.role === 'user');
    let seed = createHash('sha256').update(lastUser ? messageText(lastUser) : '').digest();
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
        if (i % 32 === 0 && i > 0) seed = createHash('sha256').update(seed).digest();
        out.push(WORDS[seed[i % 32] % WORDS.length]);
    }
    return out;
}

/**
 * A deterministic unit vector for a text: sha256 blocks of the text as signed bytes, normalised.
 * Equal texts get equal vectors; `dimensions` 1..4096.
 */
export function devEmbedding(text: string, dimensions: number): number[] {
    const out: number[] = [];
    let block = createHash('sha256').update(text).digest();
    for (let i = 0; i < dimensions; i++) {
        if (i > 0 && i % 32 === 0) block = createHash('sha256').update(block).digest();
        out.push((block[i % 32] - 127.5) / 127.5);
    }
    const norm = Math.sqrt(out.reduce((s, x) => s + x * x, 0)) || 1;
    return out.map((x) => x / norm);
}

/** Little-endian float32 of a vector, base64 (OpenAI's encoding_format "base64"). */
export function embeddingBase64(v: number[]): string {
    const b = Buffer.alloc(4 * v.length);
    v.forEach((x, i) => b.writeFloatLE(x, 4 * i));
    return b.toString('base64');
}

/** Keys seen, oldest dropped first past `max`. */
class SeenSet {
    private readonly keys = new Set<string>();
    constructor(private readonly max: number) {}
    has(k: string): boolean {
        return this.keys.has(k);
    }
    add(k: string): void {
        this.keys.delete(k);
        this.keys.add(k);
        if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value as string);
    }
}

/** A running request: `emit(k)` is told that its first k tokens are due; `gone()` is true once its client has left. */
interface Sequence {
    readonly start: number;
    readonly n: number;
    sent: number;
    emit(k: number): void;
    gone(): boolean;
}

/** The decode clock: one timer for every running sequence, ticking every stepMs while any runs. */
class DecodeClock {
    private readonly running = new Set<Sequence>();
    private timer: NodeJS.Timeout | null = null;

    constructor(private readonly stepMs: number) {}

    add(s: Sequence): void {
        this.running.add(s);
        if (!this.timer) this.timer = setTimeout(this.tick, this.stepMs);
    }

    stop(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        this.running.clear();
    }

    private readonly tick = () => {
        this.timer = null;
        const now = performance.now();
        let next = Infinity;
        for (const s of this.running) {
            if (s.gone()) {
                this.running.delete(s);
                continue;
            }
            const due = Math.min(s.n, Math.floor((now - s.start) / this.stepMs));
            if (due > s.sent) {
                s.sent = due;
                s.emit(due);
            }
            if (s.sent >= s.n) this.running.delete(s);
            else next = Math.min(next, s.start + (s.sent + 1) * this.stepMs);
        }
        if (this.running.size > 0) this.timer = setTimeout(this.tick, Math.max(0, next - performance.now()));
    };
}

export class DevBackend {
    readonly model: string;
    private readonly tokens: number;
    private readonly delayMs: number;
    private readonly reportUsage: boolean;
    private readonly promptCache: boolean;
    private readonly embeddingDimensions: number;
    private readonly seen = new SeenSet(4096);
    private server: Server | null = null;
    private readonly clock: DecodeClock;
    private port = 0;
    /** Requests served, for tests. */
    requests = 0;

    private constructor(private readonly opts: DevBackendOptions) {
        this.model = opts.model ?? 'dev-model';
        this.tokens = opts.tokens ?? 50;
        this.delayMs = opts.delayMs ?? 1;
        this.reportUsage = opts.reportUsage ?? true;
        this.promptCache = opts.promptCache ?? false;
        this.embeddingDimensions = opts.embeddingDimensions ?? 8;
        if (!Number.isInteger(this.tokens) || this.tokens < 0) throw new Error('DevBackend tokens must be a non-negative integer');
        if (!(this.delayMs >= 0)) throw new Error('DevBackend delayMs must be >= 0');
        this.clock = new DecodeClock(this.delayMs);
    }

    static async start(opts: DevBackendOptions = {}): Promise<DevBackend> {
        const b = new DevBackend(opts);
        await b.listen();
        return b;
    }

    /** Base URL including /v1, for OpenAICompatibleBackend or the openai client. */
    get url(): string {
        return `http://${this.opts.host ?? '127.0.0.1'}:${this.port}/v1`;
    }

    private listen(): Promise<void> {
        const server = createServer((req, res) => {
            this.handle(req, res).catch((e) => {
                if (!res.headersSent) this.json(res, 500, { error: { message: String(e), type: 'server_error', code: null } });
                else res.destroy();
            });
        });
        this.server = server;
        return new Promise((resolve, reject) => {
            server.once('error', reject);
            server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
                this.port = (server.address() as AddressInfo).port;
                resolve();
            });
        });
    }

    async stop(): Promise<void> {
        const s = this.server;
        if (!s) return;
        this.server = null;
        this.clock.stop();
        await new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
        });
    }

    private json(res: ServerResponse, status: number, body: unknown) {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
    }

    private async handle(req: IncomingMessage, res: ServerResponse) {
        const path = (req.url ?? '/').split('?')[0];
        if (req.method === 'GET' && path === '/v1/models') {
            return this.json(res, 200, { object: 'list', data: [{ id: this.model, object: 'model', created: 0, owned_by: 'cocoon-dev' }] });
        }
        const routes = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];
        if (req.method !== 'POST' || !routes.includes(path)) {
            return this.json(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error', code: 'not_found' } });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of req) {
            size += (c as Buffer).length;
            if (size > 8 * 1024 * 1024) return this.json(res, 413, { error: { message: 'body too large', type: 'invalid_request_error', code: null } });
            chunks.push(c as Buffer);
        }
        if (path === '/v1/embeddings') return this.embeddings(res, Buffer.concat(chunks));
        if (path === '/v1/completions') return this.textCompletion(res, Buffer.concat(chunks));
        let body: {
            model?: string; messages?: ChatMessage[]; max_tokens?: number; max_completion_tokens?: number; stream?: boolean; stream_options?: { include_usage?: boolean };
            tools?: DevTool[]; tool_choice?: unknown; response_format?: { type?: string }; logprobs?: boolean;
        };
        try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            return this.json(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error', code: null } });
        }
        if (!Array.isArray(body.messages) || body.messages.length === 0) {
            return this.json(res, 400, { error: { message: 'messages must be a non-empty array', type: 'invalid_request_error', code: null } });
        }
        if (body.logprobs) {
            return this.json(res, 400, { error: { message: 'logprobs are not supported by the development backend', type: 'invalid_request_error', code: null } });
        }
        this.requests++;
        const cap = body.max_tokens ?? body.max_completion_tokens;
        const n = typeof cap === 'number' && cap >= 0 ? Math.min(cap, this.tokens) : this.tokens;
        const call = devToolCall(body.messages, body.tools, body.tool_choice);
        const json = body.response_format?.type === 'json_object' || body.response_format?.type === 'json_schema';
        let pieces = call ? [] : devAnswerTokens(body.messages, n);
        if (json && !call) pieces = ['{"answer": "', ...pieces, '"}'];
        const finishReason = call ? 'tool_calls' : n < this.tokens ? 'length' : 'stop';
        const extra: string[] = [];
        if (Array.isArray(body.tools) && body.tools.length > 0) extra.push(JSON.stringify(body.tools));
        if (body.response_format != null) extra.push(JSON.stringify(body.response_format));
        const completion = call ? countTextTokens(JSON.stringify([call])) : pieces.length;
        const usage: Record<string, unknown> & { prompt_tokens: number; completion_tokens: number; total_tokens: number } =
            { prompt_tokens: countPromptTokens(body.messages, extra), completion_tokens: completion, total_tokens: 0 };
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        const cached = this.cachedChatTokens(body.messages, usage.prompt_tokens);
        if (this.promptCache) usage.prompt_tokens_details = { cached_tokens: cached };
        const id = 'chatcmpl-dev-' + createHash('sha256').update(pieces.join('')).digest('hex').slice(0, 12);
        const created = Math.floor(Date.now() / 1000);
        const model = this.model;

        const start = performance.now();
        let gone = false;
        res.on('close', () => { gone = true; });

        if (!body.stream) {
            const answer = () => this.json(res, 200, {
                id, object: 'chat.completion', created, model,
                choices: [{ index: 0, message: { role: 'assistant', content: call ? null : pieces.join(''), ...(call ? { tool_calls: [call] } : {}) }, finish_reason: finishReason, logprobs: null }],
                ...(this.reportUsage ? { usage } : {}),
            });
            const steps = call ? 1 : pieces.length;
            if (steps === 0 || this.delayMs === 0) return answer();
            return this.clock.add({ start, n: steps, sent: 0, gone: () => gone, emit: (k) => { if (k >= steps) answer(); } });
        }

        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
        const tokenChunk = (i: number) => chunk({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { content: pieces[i] }, finish_reason: null }] });
        const finish = () => {
            let tail = chunk({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
            if (this.reportUsage && body.stream_options?.include_usage) tail += chunk({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
            return tail + 'data: [DONE]\n\n';
        };
        res.write(chunk({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { role: 'assistant', content: call ? null : '' }, finish_reason: null }] }));
        if (call) {
            const head = { index: 0, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } };
            const delta = (tool_calls: unknown[]) => chunk({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { tool_calls }, finish_reason: null }] });
            return res.end(delta([head]) + delta([{ index: 0, function: { arguments: call.function.arguments } }]) + finish());
        }
        const n2 = pieces.length;
        if (n2 === 0 || this.delayMs === 0) {
            let all = '';
            for (let i = 0; i < n2; i++) all += tokenChunk(i);
            return res.end(all + finish());
        }
        let written = 0;
        this.clock.add({
            start, n: n2, sent: 0, gone: () => gone,
            emit: (k) => {
                // the tokens due since the last step, in one write (several only when this thread was late)
                let out = '';
                for (; written < k; written++) out += tokenChunk(written);
                if (k >= n2) res.end(out + finish());
                else res.write(out);
            },
        });
    }

    /**
     * Cached tokens of a chat prompt: the tokens of its longest run of leading messages (all but the
     * last) that an earlier request had, when the prompt cache is on. Every leading run of this
     * request is remembered.
     */
    private cachedChatTokens(messages: ChatMessage[], promptTokens: number): number {
        if (!this.promptCache) return 0;
        const keys: string[] = [];
        const h = createHash('sha256');
        for (const m of messages) {
            h.update(JSON.stringify([m.role, m.content, m.name ?? null, m.tool_calls ?? null, m.tool_call_id ?? null]));
            keys.push(h.copy().digest('hex'));
        }
        let cached = 0;
        for (let k = messages.length - 1; k >= 1; k--) {
            if (this.seen.has(keys[k - 1])) {
                cached = countPromptTokens(messages.slice(0, k)) - PER_REPLY;
                break;
            }
        }
        for (const k of keys) this.seen.add(k);
        return Math.max(0, Math.min(cached, promptTokens - 1));
    }

    private parse<T>(res: ServerResponse, raw: Buffer): T | null {
        try {
            return JSON.parse(raw.toString('utf8')) as T;
        } catch {
            this.json(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error', code: null } });
            return null;
        }
    }

    /** /v1/completions: one prompt, the deterministic answer of that prompt, streamed when asked. */
    private textCompletion(res: ServerResponse, raw: Buffer): void {
        const body = this.parse<{ prompt?: unknown; max_tokens?: number; stream?: boolean; stream_options?: { include_usage?: boolean } }>(res, raw);
        if (!body) return;
        const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
        if (typeof prompt !== 'string') return this.json(res, 400, { error: { message: 'prompt must be a string', type: 'invalid_request_error', code: null } });
        this.requests++;
        const cap = body.max_tokens;
        const n = typeof cap === 'number' && cap >= 0 ? Math.min(cap, this.tokens) : this.tokens;
        const pieces = devAnswerTokens([{ role: 'user', content: prompt }], n);
        const finishReason = n < this.tokens ? 'length' : 'stop';
        const promptTokens = countTextTokens(prompt);
        const usage: Record<string, unknown> = { prompt_tokens: promptTokens, completion_tokens: pieces.length, total_tokens: promptTokens + pieces.length };
        if (this.promptCache) {
            const key = 'text:' + createHash('sha256').update(prompt).digest('hex');
            usage.prompt_tokens_details = { cached_tokens: this.seen.has(key) ? Math.max(0, promptTokens - 1) : 0 };
            this.seen.add(key);
        }
        const id = 'cmpl-dev-' + createHash('sha256').update(pieces.join('')).digest('hex').slice(0, 12);
        const created = Math.floor(Date.now() / 1000);
        const model = this.model;
        const start = performance.now();
        let gone = false;
        res.on('close', () => { gone = true; });
        const choice = (text: string, finish: string | null) => ({ index: 0, text, logprobs: null, finish_reason: finish });
        if (!body.stream) {
            const answer = () => this.json(res, 200, {
                id, object: 'text_completion', created, model, choices: [choice(pieces.join(''), finishReason)], ...(this.reportUsage ? { usage } : {}),
            });
            if (pieces.length === 0 || this.delayMs === 0) return answer();
            return this.clock.add({ start, n: pieces.length, sent: 0, gone: () => gone, emit: (k) => { if (k >= pieces.length) answer(); } });
        }
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        const chunk = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
        const piece = (i: number) => chunk({ id, object: 'text_completion', created, model, choices: [choice(pieces[i], null)] });
        const finish = () => {
            let tail = chunk({ id, object: 'text_completion', created, model, choices: [choice('', finishReason)] });
            if (this.reportUsage && body.stream_options?.include_usage) tail += chunk({ id, object: 'text_completion', created, model, choices: [], usage });
            return tail + 'data: [DONE]\n\n';
        };
        if (pieces.length === 0 || this.delayMs === 0) {
            let all = '';
            for (let i = 0; i < pieces.length; i++) all += piece(i);
            res.end(all + finish());
            return;
        }
        let written = 0;
        this.clock.add({
            start, n: pieces.length, sent: 0, gone: () => gone,
            emit: (k) => {
                let out = '';
                for (; written < k; written++) out += piece(written);
                if (k >= pieces.length) res.end(out + finish());
                else res.write(out);
            },
        });
    }

    /** /v1/embeddings: a deterministic unit vector per input (devEmbedding); usage counts the inputs as prompt tokens. */
    private embeddings(res: ServerResponse, raw: Buffer): void {
        const body = this.parse<{ input?: unknown; dimensions?: number; encoding_format?: string }>(res, raw);
        if (!body) return;
        const input = typeof body.input === 'string' ? [body.input] : body.input;
        if (!Array.isArray(input) || input.length === 0 || !input.every((t) => typeof t === 'string')) {
            return this.json(res, 400, { error: { message: 'input must be a string or a non-empty array of strings', type: 'invalid_request_error', code: null } });
        }
        const dims = body.dimensions ?? this.embeddingDimensions;
        if (!Number.isInteger(dims) || dims < 1 || dims > 4096) return this.json(res, 400, { error: { message: 'dimensions must be 1..4096', type: 'invalid_request_error', code: null } });
        this.requests++;
        let tokens = 0;
        const data = (input as string[]).map((t, index) => {
            tokens += countTextTokens(t);
            const v = devEmbedding(t, dims);
            return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? embeddingBase64(v) : v };
        });
        this.json(res, 200, { object: 'list', data, model: this.model, ...(this.reportUsage ? { usage: { prompt_tokens: tokens, total_tokens: tokens } } : {}) });
    }
}

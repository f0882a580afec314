// DEVELOPMENT BACKEND: a stand-in for an inference engine, for tests, the demo and the sandbox.
// It is itself an OpenAI-compatible HTTP server on loopback (plain HTTP) that streams a
// deterministic answer, one token at a time with a fixed delay, and reports usage. It runs no model.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { countPromptTokens, messageText } from './tokens';
import type { ChatMessage } from './types';

export interface DevBackendOptions {
    /** Completion tokens of every answer, unless max_tokens asks for fewer (default 50). */
    tokens?: number;
    /** Delay before each token, in ms (default 1). */
    delayMs?: number;
    /** Model name it lists and answers as (default `dev-model`). */
    model?: string;
    /** Report usage like vLLM does (default true); false mimics a server that never reports it. */
    reportUsage?: boolean;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class DevBackend {
    readonly model: string;
    private readonly tokens: number;
    private readonly delayMs: number;
    private readonly reportUsage: boolean;
    private server: Server | null = null;
    private port = 0;
    /** Requests served, for tests. */
    requests = 0;

    private constructor(private readonly opts: DevBackendOptions) {
        this.model = opts.model ?? 'dev-model';
        this.tokens = opts.tokens ?? 50;
        this.delayMs = opts.delayMs ?? 1;
        this.reportUsage = opts.reportUsage ?? true;
        if (!Number.isInteger(this.tokens) || this.tokens < 0) throw new Error('DevBackend tokens must be a non-negative integer');
        if (!(this.delayMs >= 0)) throw new Error('DevBackend delayMs must be >= 0');
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
        if (req.method !== 'POST' || path !== '/v1/chat/completions') {
            return this.json(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error', code: 'not_found' } });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of req) {
            size += (c as Buffer).length;
            if (size > 8 * 1024 * 1024) return this.json(res, 413, { error: { message: 'body too large', type: 'invalid_request_error', code: null } });
            chunks.push(c as Buffer);
        }
        let body: { model?: string; messages?: ChatMessage[]; max_tokens?: number; max_completion_tokens?: number; stream?: boolean; stream_options?: { include_usage?: boolean } };
        try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
            return this.json(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error', code: null } });
        }
        if (!Array.isArray(body.messages) || body.messages.length === 0) {
            return this.json(res, 400, { error: { message: 'messages must be a non-empty array', type: 'invalid_request_error', code: null } });
        }
        this.requests++;
        const cap = body.max_tokens ?? body.max_completion_tokens;
        const n = typeof cap === 'number' && cap >= 0 ? Math.min(cap, this.tokens) : this.tokens;
        const pieces = devAnswerTokens(body.messages, n);
        const finishReason = n < this.tokens ? 'length' : 'stop';
        const usage = { prompt_tokens: countPromptTokens(body.messages), completion_tokens: n, total_tokens: 0 };
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        const id = 'chatcmpl-dev-' + createHash('sha256').update(pieces.join('')).digest('hex').slice(0, 12);
        const created = Math.floor(Date.now() / 1000);
        const model = this.model;

        if (!body.stream) {
            for (let i = 0; i < n; i++) if (this.delayMs > 0) await sleep(this.delayMs);
            return this.json(res, 200, {
                id, object: 'chat.completion', created, model,
                choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: finishReason, logprobs: null }],
                ...(this.reportUsage ? { usage } : {}),
            });
        }

        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        let gone = false;
        res.on('close', () => { gone = true; });
        const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
        send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
        for (let i = 0; i < n && !gone; i++) {
            if (this.delayMs > 0) await sleep(this.delayMs);
            send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: { content: pieces[i] }, finish_reason: null }] });
        }
        if (gone) return;
        send({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: {}, finish_reason: finishReason }] });
        if (this.reportUsage && body.stream_options?.include_usage) send({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
        res.end('data: [DONE]\n\n');
    }
}

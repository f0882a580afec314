// Any upstream that speaks OpenAI's API: /v1/chat/completions, /v1/completions and /v1/embeddings
// (vLLM, SGLang, llama.cpp server, Ollama's /v1 endpoint, or the DevBackend). Usage the upstream does
// not report is counted locally (all prompt tokens then count as uncached).
//
// It speaks HTTP with node:http(s) over a keep-alive agent rather than with fetch: fetch (undici
// with WHATWG streams, an AbortSignal.any and a timeout signal per request) cost the worker node
// more CPU per request than everything else it does for that request.
import { Agent as HttpAgent, request as httpRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BackendError, UpstreamUnreachable, BackendFeatures, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, InferenceBackend, StreamEvent, TextRequest, TextResult, ToolCall, Usage } from './types';
import { countPromptTokens, countTextTokens } from './tokens';
import { SseSplitter } from './sse';

export interface OpenAICompatibleOptions {
    /** Base URL including the API prefix, e.g. `http://127.0.0.1:8000/v1`. */
    baseUrl: string;
    /** Bearer token for the upstream, if it wants one (never logged). */
    apiKey?: string;
    /** Time allowed until the upstream answers with headers (default 60 s). */
    timeoutMs?: number;
    /**
     * What the upstream supports beyond plain chat (default: tools and response_format, as vLLM,
     * SGLang, llama.cpp and Ollama do; logprobs only when said so). The node refuses the rest with 400.
     */
    features?: Partial<BackendFeatures>;
}

export const DEFAULT_UPSTREAM_FEATURES: BackendFeatures = { tools: true, responseFormat: true, logprobs: false };

interface UpstreamUsage {
    prompt_tokens?: number;
    completion_tokens?: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
    completion_tokens_details?: { reasoning_tokens?: number } | null;
}

const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The usage an upstream reported, or null when it reported none (or nonsense: then the node counts
 * itself). Cached tokens are part of the prompt tokens and reasoning tokens part of the completion
 * tokens (OpenAI's usage); a detail that does not fit its total is ignored. `completion_tokens` may
 * be absent (embeddings): 0.
 */
export function usageOf(u: UpstreamUsage | null | undefined, needCompletion = true): Usage | null {
    if (!u || !count(u.prompt_tokens)) return null;
    if (needCompletion ? !count(u.completion_tokens) : u.completion_tokens !== undefined && !count(u.completion_tokens)) return null;
    const completion = u.completion_tokens ?? 0;
    const out: Usage = { promptTokens: u.prompt_tokens, completionTokens: completion };
    const cached = u.prompt_tokens_details?.cached_tokens;
    if (count(cached) && cached > 0 && cached <= u.prompt_tokens) out.cachedTokens = cached;
    const reasoning = u.completion_tokens_details?.reasoning_tokens;
    if (count(reasoning) && reasoning > 0 && reasoning <= completion) out.reasoningTokens = reasoning;
    return out;
}

function timeoutError(ms: number): Error {
    const e = new Error(`the inference backend did not finish within ${ms} ms`);
    e.name = 'TimeoutError';
    return e;
}

function abortError(signal: AbortSignal): Error {
    if (signal.reason instanceof Error) return signal.reason;
    const e = new Error('the request was aborted');
    e.name = 'AbortError';
    return e;
}

async function readAll(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
}

/** Reads what is left after [DONE] so the connection can be reused; gives up after 5 s. */
function drain(res: IncomingMessage): void {
    const t = setTimeout(() => res.destroy(), 5_000);
    t.unref();
    res.once('end', () => clearTimeout(t));
    res.once('close', () => clearTimeout(t));
    res.resume();
}

/** An upstream response whose body is still to be read; `done()` releases the timer and listeners. */
interface Upstream {
    res: IncomingMessage;
    done(): void;
}

type Route = 'chat/completions' | 'completions' | 'embeddings' | 'models';
interface Target { protocol: string; hostname: string; port: string; path: string }

export class OpenAICompatibleBackend implements InferenceBackend {
    readonly name: string;
    readonly features: BackendFeatures;
    private readonly agent: HttpAgent;
    private readonly send: typeof httpRequest;
    /** Request options without headers, per route, from the URL once (a URL per request is converted every time). */
    private readonly targets: Record<Route, Target>;

    constructor(private readonly opts: OpenAICompatibleOptions) {
        const u = new URL(opts.baseUrl);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the backend URL must be http:// or https://, got ${u.protocol}`);
        const base = u.toString().replace(/\/+$/, '');
        this.name = `openai-compatible ${u.origin}${u.pathname.replace(/\/+$/, '')}`;
        this.features = { ...DEFAULT_UPSTREAM_FEATURES, ...opts.features };
        const https = u.protocol === 'https:';
        this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
        this.send = (https ? httpsRequest : httpRequest) as typeof httpRequest;
        const target = (route: Route): Target => {
            const url = new URL(`${base}/${route}`);
            const host = url.hostname;
            return { protocol: url.protocol, hostname: host.startsWith('[') ? host.slice(1, -1) : host, port: url.port, path: url.pathname + url.search };
        };
        this.targets = { 'chat/completions': target('chat/completions'), completions: target('completions'), embeddings: target('embeddings'), models: target('models') };
    }

    /** Closes the idle keep-alive connections to the upstream. */
    close(): void {
        this.agent.destroy();
    }

    private textBody(req: TextRequest, stream: boolean): string {
        return JSON.stringify({
            model: req.model, prompt: req.prompt, max_tokens: req.maxTokens, temperature: req.temperature, top_p: req.topP, stop: req.stop, seed: req.seed,
            frequency_penalty: req.frequencyPenalty, presence_penalty: req.presencePenalty, stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
        });
    }

    private body(req: ChatRequest, stream: boolean): string {
        return JSON.stringify({
            model: req.model,
            messages: req.messages,
            max_tokens: req.maxTokens,
            temperature: req.temperature,
            top_p: req.topP,
            stop: req.stop,
            seed: req.seed,
            tools: req.tools,
            tool_choice: req.toolChoice,
            parallel_tool_calls: req.parallelToolCalls,
            response_format: req.responseFormat,
            logprobs: req.logprobs,
            top_logprobs: req.topLogprobs,
            frequency_penalty: req.frequencyPenalty,
            presence_penalty: req.presencePenalty,
            stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
        });
    }

    /**
     * POSTs the request. Rejects with a BackendError when the upstream cannot be reached or answers
     * non-2xx; the timeout covers the whole exchange, body included (a timeout while the body is
     * read surfaces as an error named TimeoutError). The caller's signal aborts it at any point.
     */
    private post(route: Route, body: string, stream: boolean, signal?: AbortSignal, timeoutMs = this.opts.timeoutMs ?? 60_000, method = 'POST'): Promise<Upstream> {
        const headers: Record<string, string> = { accept: stream ? 'text/event-stream' : 'application/json' };
        if (method === 'POST') {
            headers['content-type'] = 'application/json';
            headers['content-length'] = String(Buffer.byteLength(body));
        }
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        return new Promise((resolve, reject) => {
            if (signal?.aborted) return reject(abortError(signal));
            let res: IncomingMessage | null = null;
            const r = this.send({ ...this.targets[route], method, headers, agent: this.agent });
            // once the response is there, its body reader gets the error
            const fail = (e: Error) => (res ? res.destroy(e) : r.destroy(e));
            const onAbort = () => fail(abortError(signal!));
            const timer = setTimeout(() => fail(timeoutError(timeoutMs)), timeoutMs);
            const done = () => {
                clearTimeout(timer);
                signal?.removeEventListener('abort', onAbort);
            };
            signal?.addEventListener('abort', onAbort, { once: true });
            r.on('error', (e) => {
                if (res) return; // the body's reader sees it
                done();
                if (signal?.aborted) reject(abortError(signal));
                else reject(new UpstreamUnreachable(`inference backend unreachable (${this.name}): ${e.message}`));
            });
            r.on('response', (m) => {
                res = m;
                const status = m.statusCode ?? 0;
                if (status >= 200 && status < 300) return resolve({ res: m, done });
                readAll(m)
                    .catch(() => '')
                    .then((text) => {
                        done();
                        reject(new BackendError(`inference backend answered ${status}: ${text.slice(0, 300)}`, status));
                    });
            });
            r.end(method === 'POST' ? body : undefined);
        });
    }

    /** GET /models within `timeoutMs`: null when the upstream answers 2xx, else why not. */
    async health(signal?: AbortSignal, timeoutMs = 2_000): Promise<string | null> {
        try {
            const up = await this.post('models', '', false, signal, timeoutMs, 'GET');
            try {
                await readAll(up.res);
            } finally {
                up.done();
            }
            return null;
        } catch (e) {
            return (e as Error).message;
        }
    }

    /** Reads a whole JSON answer. */
    private async json<T>(route: Route, body: string, signal?: AbortSignal): Promise<T> {
        const up = await this.post(route, body, false, signal);
        let text: string;
        try {
            text = await readAll(up.res);
        } finally {
            up.done();
        }
        try {
            return JSON.parse(text) as T;
        } catch {
            throw new BackendError('inference backend answered with invalid JSON');
        }
    }

    async completeText(req: TextRequest, signal?: AbortSignal): Promise<TextResult> {
        const j = await this.json<{ choices?: { text?: string | null; finish_reason?: string }[]; usage?: UpstreamUsage }>('completions', this.textBody(req, false), signal);
        const choice = j.choices?.[0];
        if (!choice) throw new BackendError('inference backend answered without choices');
        const text = typeof choice.text === 'string' ? choice.text : '';
        const reported = usageOf(j.usage);
        return {
            text, finishReason: choice.finish_reason ?? 'stop',
            usage: reported ?? { promptTokens: countTextTokens(req.prompt), completionTokens: countTextTokens(text) },
            usageReported: reported !== null,
        };
    }

    async embed(req: EmbeddingRequest, signal?: AbortSignal): Promise<EmbeddingResult> {
        const body = JSON.stringify({ model: req.model, input: req.input, encoding_format: req.encodingFormat, dimensions: req.dimensions });
        const j = await this.json<{ data?: { index?: number; embedding?: unknown }[]; usage?: UpstreamUsage }>('embeddings', body, signal);
        if (!Array.isArray(j.data) || j.data.length !== req.input.length) throw new BackendError(`inference backend answered ${Array.isArray(j.data) ? j.data.length : 'no'} embeddings for ${req.input.length} inputs`);
        const data = j.data.map((d, i) => {
            const e = d.embedding;
            const ok = typeof e === 'string' || (Array.isArray(e) && e.every((x) => typeof x === 'number'));
            if (!ok) throw new BackendError('inference backend answered an embedding that is neither numbers nor base64');
            return { index: typeof d.index === 'number' ? d.index : i, embedding: e as number[] | string };
        });
        const reported = usageOf(j.usage, false);
        let fallback = 0;
        if (!reported) for (const t of req.input) fallback += countTextTokens(t);
        return { data, usage: reported ?? { promptTokens: fallback, completionTokens: 0 }, usageReported: reported !== null };
    }

    async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
        const up = await this.post('chat/completions', this.body(req, false), false, signal);
        let text: string;
        try {
            text = await readAll(up.res);
        } finally {
            up.done();
        }
        let j: { choices?: { message?: { content?: string | null; tool_calls?: ToolCall[] }; finish_reason?: string; logprobs?: unknown }[]; usage?: UpstreamUsage };
        try {
            j = JSON.parse(text);
        } catch {
            throw new BackendError('inference backend answered with invalid JSON');
        }
        const choice = j.choices?.[0];
        if (!choice) throw new BackendError('inference backend answered without choices');
        const toolCalls = Array.isArray(choice.message?.tool_calls) && choice.message!.tool_calls!.length > 0 ? choice.message!.tool_calls : undefined;
        const content = choice.message?.content ?? (toolCalls ? null : '');
        const reported = usageOf(j.usage);
        return {
            content,
            ...(toolCalls ? { toolCalls } : {}),
            ...(choice.logprobs != null ? { logprobs: choice.logprobs } : {}),
            finishReason: choice.finish_reason ?? 'stop',
            usage: reported ?? {
                promptTokens: countPromptTokens(req.messages, requestExtraTexts(req)),
                completionTokens: countTextTokens(content ?? '') + (toolCalls ? countTextTokens(JSON.stringify(toolCalls)) : 0),
            },
            usageReported: reported !== null,
        };
    }

    stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
        return this.events('chat/completions', this.body(req, true), () => countPromptTokens(req.messages, requestExtraTexts(req)), signal);
    }

    streamText(req: TextRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
        return this.events('completions', this.textBody(req, true), () => countTextTokens(req.prompt), signal);
    }

    /** The events of a streamed chat or text completion (a choice's `delta.content` or `text`). */
    private async *events(route: Route, body: string, promptTokens: () => number, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
        const up = await this.post(route, body, true, signal);
        let text = '';
        let finishReason = 'stop';
        let reported: Usage | null = null;
        let sawDone = false;
        try {
            // destroyOnReturn false: leaving at [DONE] must not destroy the kept-alive socket. The
            // events of each chunk are split synchronously (no async generator step per event).
            const split = new SseSplitter();
            const events: StreamEvent[] = [];
            const onData = (data: string): void => {
                let chunk: {
                    choices?: { delta?: { content?: string | null; tool_calls?: unknown[] }; text?: string | null; finish_reason?: string | null; logprobs?: unknown }[];
                    usage?: UpstreamUsage; error?: { message?: string };
                };
                try {
                    chunk = JSON.parse(data);
                } catch {
                    throw new BackendError('inference backend sent a malformed stream chunk');
                }
                if (chunk.error) throw new BackendError(`inference backend stream error: ${chunk.error.message ?? 'unknown'}`);
                reported = usageOf(chunk.usage) ?? reported;
                const choice = chunk.choices?.[0];
                if (!choice) return;
                if (choice.finish_reason) finishReason = choice.finish_reason;
                const calls = choice.delta?.tool_calls;
                if (Array.isArray(calls) && calls.length > 0) {
                    const t = JSON.stringify(calls);
                    text += t;
                    events.push({ type: 'tool_calls', toolCalls: calls, text: t });
                }
                if (choice.logprobs != null) events.push({ type: 'logprobs', logprobs: choice.logprobs });
                const piece = choice.delta?.content ?? choice.text;
                if (!piece) return;
                text += piece;
                events.push({ type: 'delta', content: piece });
            };
            let aborted = false;
            read: for await (const bytes of up.res.iterator({ destroyOnReturn: false })) {
                if (signal?.aborted) {
                    aborted = true;
                    break;
                }
                for (const data of split.push(bytes as Buffer)) {
                    if (data === '[DONE]') {
                        sawDone = true;
                        break read;
                    }
                    onData(data);
                }
                if (events.length > 0) yield* events.splice(0);
            }
            // what came before [DONE] in its chunk
            if (events.length > 0 && !aborted) yield* events.splice(0);
            if (!sawDone && !aborted) {
                for (const data of split.end()) {
                    if (data === '[DONE]') {
                        sawDone = true;
                        break;
                    }
                    onData(data);
                }
                if (events.length > 0) yield* events.splice(0);
            }
        } catch (e) {
            if (signal?.aborted) return;
            throw e;
        } finally {
            up.done();
            if (!up.res.complete) {
                if (sawDone) drain(up.res);
                else up.res.destroy(); // client gone or upstream error: drop the connection
            }
        }
        if (signal?.aborted) return;
        if (!sawDone && !reported && finishReason === 'stop' && text.length === 0) throw new BackendError('inference backend stream ended early');
        yield {
            type: 'end', finishReason,
            usage: reported ?? { promptTokens: promptTokens(), completionTokens: countTextTokens(text) },
            usageReported: reported !== null,
        };
    }
}

/** Texts of a request the model reads besides the messages (tool definitions, a response schema). */
export function requestExtraTexts(req: Pick<ChatRequest, 'tools' | 'responseFormat'>): string[] {
    const out: string[] = [];
    if (req.tools && req.tools.length > 0) out.push(JSON.stringify(req.tools));
    if (req.responseFormat != null) out.push(JSON.stringify(req.responseFormat));
    return out;
}

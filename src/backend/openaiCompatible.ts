// Any upstream that speaks OpenAI's /v1/chat/completions: vLLM, SGLang, llama.cpp server, Ollama
// (its /v1 endpoint), or the DevBackend. Usage the upstream does not report is counted locally.
//
// It speaks HTTP with node:http(s) over a keep-alive agent rather than with fetch: fetch (undici
// with WHATWG streams, an AbortSignal.any and a timeout signal per request) cost the worker node
// more CPU per request than everything else it does for that request.
import { Agent as HttpAgent, request as httpRequest, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BackendError, BackendFeatures, ChatRequest, ChatResult, InferenceBackend, StreamEvent, ToolCall, Usage } from './types';
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
}

function usageOf(u: UpstreamUsage | null | undefined): Usage | null {
    if (!u || typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return null;
    return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
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

export class OpenAICompatibleBackend implements InferenceBackend {
    readonly name: string;
    readonly features: BackendFeatures;
    private readonly url: URL;
    private readonly agent: HttpAgent;
    private readonly send: typeof httpRequest;
    /** Request options without headers, from the URL once (a URL per request is converted every time). */
    private readonly target: { protocol: string; hostname: string; port: string; path: string };

    constructor(private readonly opts: OpenAICompatibleOptions) {
        const u = new URL(opts.baseUrl);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`the backend URL must be http:// or https://, got ${u.protocol}`);
        this.url = new URL(u.toString().replace(/\/+$/, '') + '/chat/completions');
        this.name = `openai-compatible ${u.origin}${u.pathname.replace(/\/+$/, '')}`;
        this.features = { ...DEFAULT_UPSTREAM_FEATURES, ...opts.features };
        const https = u.protocol === 'https:';
        this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
        this.send = (https ? httpsRequest : httpRequest) as typeof httpRequest;
        const host = this.url.hostname;
        this.target = {
            protocol: this.url.protocol, hostname: host.startsWith('[') ? host.slice(1, -1) : host, port: this.url.port,
            path: this.url.pathname + this.url.search,
        };
    }

    /** Closes the idle keep-alive connections to the upstream. */
    close(): void {
        this.agent.destroy();
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
    private post(req: ChatRequest, stream: boolean, signal?: AbortSignal): Promise<Upstream> {
        const timeoutMs = this.opts.timeoutMs ?? 60_000;
        const body = this.body(req, stream);
        const headers: Record<string, string> = {
            'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json', 'content-length': String(Buffer.byteLength(body)),
        };
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        return new Promise((resolve, reject) => {
            if (signal?.aborted) return reject(abortError(signal));
            let res: IncomingMessage | null = null;
            const r = this.send({ ...this.target, method: 'POST', headers, agent: this.agent });
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
                else reject(new BackendError(`inference backend unreachable (${this.name}): ${e.message}`));
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
            r.end(body);
        });
    }

    async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
        const up = await this.post(req, false, signal);
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

    async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
        const up = await this.post(req, true, signal);
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
                    choices?: { delta?: { content?: string | null; tool_calls?: unknown[] }; finish_reason?: string | null; logprobs?: unknown }[];
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
                const piece = choice.delta?.content;
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
            usage: reported ?? { promptTokens: countPromptTokens(req.messages, requestExtraTexts(req)), completionTokens: countTextTokens(text) },
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

// Any upstream that speaks OpenAI's /v1/chat/completions: vLLM, SGLang, llama.cpp server, Ollama
// (its /v1 endpoint), or the DevBackend. Usage the upstream does not report is counted locally.
import { BackendError, ChatRequest, ChatResult, InferenceBackend, StreamEvent, Usage } from './types';
import { countPromptTokens, countTextTokens } from './tokens';
import { sseData } from './sse';

export interface OpenAICompatibleOptions {
    /** Base URL including the API prefix, e.g. `http://127.0.0.1:8000/v1`. */
    baseUrl: string;
    /** Bearer token for the upstream, if it wants one (never logged). */
    apiKey?: string;
    /** Time allowed until the upstream answers with headers (default 60 s). */
    timeoutMs?: number;
}

interface UpstreamUsage {
    prompt_tokens?: number;
    completion_tokens?: number;
}

function usageOf(u: UpstreamUsage | null | undefined): Usage | null {
    if (!u || typeof u.prompt_tokens !== 'number' || typeof u.completion_tokens !== 'number') return null;
    return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens };
}

export class OpenAICompatibleBackend implements InferenceBackend {
    readonly name: string;
    private readonly baseUrl: string;

    constructor(private readonly opts: OpenAICompatibleOptions) {
        const u = new URL(opts.baseUrl);
        this.baseUrl = u.toString().replace(/\/+$/, '');
        this.name = `openai-compatible ${u.origin}${u.pathname.replace(/\/+$/, '')}`;
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
            stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
        });
    }

    private async post(req: ChatRequest, stream: boolean, signal?: AbortSignal): Promise<Response> {
        const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 60_000);
        const headers: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' };
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        let res: Response;
        try {
            res = await fetch(`${this.baseUrl}/chat/completions`, {
                method: 'POST', headers, body: this.body(req, stream),
                signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
            });
        } catch (e) {
            if (signal?.aborted) throw e;
            throw new BackendError(`inference backend unreachable (${this.name}): ${(e as Error).message}`);
        }
        if (!res.ok) {
            const text = (await res.text().catch(() => '')).slice(0, 300);
            throw new BackendError(`inference backend answered ${res.status}: ${text}`, res.status);
        }
        return res;
    }

    async complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
        const res = await this.post(req, false, signal);
        const j = (await res.json()) as { choices?: { message?: { content?: string | null }; finish_reason?: string }[]; usage?: UpstreamUsage };
        const choice = j.choices?.[0];
        if (!choice) throw new BackendError('inference backend answered without choices');
        const content = choice.message?.content ?? '';
        const reported = usageOf(j.usage);
        return {
            content,
            finishReason: choice.finish_reason ?? 'stop',
            usage: reported ?? { promptTokens: countPromptTokens(req.messages), completionTokens: countTextTokens(content) },
            usageReported: reported !== null,
        };
    }

    async *stream(req: ChatRequest, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
        const res = await this.post(req, true, signal);
        if (!res.body) throw new BackendError('inference backend sent no stream body');
        let text = '';
        let finishReason = 'stop';
        let reported: Usage | null = null;
        let sawDone = false;
        for await (const data of sseData(res.body, signal)) {
            if (data === '[DONE]') {
                sawDone = true;
                break;
            }
            let chunk: { choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[]; usage?: UpstreamUsage; error?: { message?: string } };
            try {
                chunk = JSON.parse(data);
            } catch {
                throw new BackendError('inference backend sent a malformed stream chunk');
            }
            if (chunk.error) throw new BackendError(`inference backend stream error: ${chunk.error.message ?? 'unknown'}`);
            reported = usageOf(chunk.usage) ?? reported;
            const choice = chunk.choices?.[0];
            if (!choice) continue;
            const piece = choice.delta?.content;
            if (piece) {
                text += piece;
                yield { type: 'delta', content: piece };
            }
            if (choice.finish_reason) finishReason = choice.finish_reason;
        }
        if (signal?.aborted) return;
        if (!sawDone && !reported && finishReason === 'stop' && text.length === 0) throw new BackendError('inference backend stream ended early');
        yield {
            type: 'end', finishReason,
            usage: reported ?? { promptTokens: countPromptTokens(req.messages), completionTokens: countTextTokens(text) },
            usageReported: reported !== null,
        };
    }
}

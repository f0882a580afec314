// What a worker node needs from an inference engine: a chat completion or a text completion, whole
// or streamed, and embeddings, each with the token usage it is paid for.

export interface ChatTextPart {
    type: 'text';
    text: string;
}

/** A function call the model made (OpenAI's `tool_calls` entries). */
export interface ToolCall {
    id: string;
    type: 'function';
    function: { name: string; arguments: string };
}

export interface ChatMessage {
    role: 'system' | 'user' | 'assistant' | 'tool' | 'developer';
    content: string | ChatTextPart[] | null;
    name?: string;
    /** An assistant message's earlier function calls. */
    tool_calls?: ToolCall[];
    /** A tool message: the call it answers. */
    tool_call_id?: string;
}

/** What an upstream can do beyond plain chat; the node refuses (400) what it cannot, never drops it. */
export interface BackendFeatures {
    /** `tools`, `tool_choice`, `parallel_tool_calls`, assistant `tool_calls`, tool messages. */
    tools: boolean;
    /** `response_format` (JSON mode and JSON schema). */
    responseFormat: boolean;
    /** `logprobs` / `top_logprobs`. */
    logprobs: boolean;
}

export interface ChatRequest {
    /** The upstream model name (the node maps its public model name to it). */
    model: string;
    messages: ChatMessage[];
    /** Upper bound on completion tokens; the node always sets it (it prices the worst case). */
    maxTokens: number;
    temperature?: number;
    topP?: number;
    stop?: string | string[];
    seed?: number;
    /** Passed through as the client sent them (the node checks the backend supports them). */
    tools?: unknown[];
    toolChoice?: unknown;
    parallelToolCalls?: boolean;
    responseFormat?: unknown;
    logprobs?: boolean;
    topLogprobs?: number;
    frequencyPenalty?: number;
    presencePenalty?: number;
}

/** A text completion (OpenAI's legacy /v1/completions): one prompt, one answer. */
export interface TextRequest {
    model: string;
    prompt: string;
    /** Upper bound on completion tokens; the node always sets it. */
    maxTokens: number;
    temperature?: number;
    topP?: number;
    stop?: string | string[];
    seed?: number;
    frequencyPenalty?: number;
    presencePenalty?: number;
}

export interface EmbeddingRequest {
    model: string;
    /** One or more texts; each gets one vector. */
    input: string[];
    encodingFormat?: 'float' | 'base64';
    dimensions?: number;
}

export interface EmbeddingResult {
    /** One vector per input, in order: numbers, or base64 of little-endian float32 when asked for. */
    data: { index: number; embedding: number[] | string }[];
    usage: Usage;
    usageReported: boolean;
}

/**
 * Tokens of one answer as the engine reports them (OpenAI's `usage`): prompt tokens include the
 * cached ones, completion tokens include the reasoning ones. The node bills three disjoint classes
 * from it: prompt - cached, cached, completion (src/worker/usage.ts).
 */
export interface Usage {
    promptTokens: number;
    /** Of promptTokens, those served from the engine's prompt cache (prompt_tokens_details.cached_tokens). */
    cachedTokens?: number;
    completionTokens: number;
    /** Of completionTokens, reasoning tokens (completion_tokens_details.reasoning_tokens), when reported. */
    reasoningTokens?: number;
}

export interface ChatResult {
    content: string | null;
    /** The function calls of the answer, when the model made any. */
    toolCalls?: ToolCall[];
    /** The upstream's `logprobs` object, as it sent it (when asked for). */
    logprobs?: unknown;
    finishReason: string;
    usage: Usage;
    /** True when the backend reported usage itself; false when it was counted with gpt-tokenizer. */
    usageReported: boolean;
}

export type StreamEvent =
    | { type: 'delta'; content: string }
    /** A piece of the answer's function calls, as the upstream's `delta.tool_calls` (forwarded as is). */
    | { type: 'tool_calls'; toolCalls: unknown[]; text: string }
    /** The upstream's `logprobs` of a chunk (forwarded as is). */
    | { type: 'logprobs'; logprobs: unknown }
    | { type: 'end'; finishReason: string; usage: Usage; usageReported: boolean };

export interface TextResult {
    text: string;
    finishReason: string;
    usage: Usage;
    usageReported: boolean;
}

export interface InferenceBackend {
    /** Human-readable name for logs (never contains credentials). */
    readonly name: string;
    /** What it supports beyond plain chat (absent: nothing). */
    readonly features?: BackendFeatures;
    complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
    /** Yields deltas, then exactly one `end` event (unless it throws or is aborted). */
    stream(req: ChatRequest, signal?: AbortSignal): AsyncIterable<StreamEvent>;
    /** A text completion (/v1/completions), when the engine serves them. */
    completeText?(req: TextRequest, signal?: AbortSignal): Promise<TextResult>;
    /** A streamed text completion: `delta` events, then one `end`. */
    streamText?(req: TextRequest, signal?: AbortSignal): AsyncIterable<StreamEvent>;
    /** Embeddings (/v1/embeddings), when the engine serves them. */
    embed?(req: EmbeddingRequest, signal?: AbortSignal): Promise<EmbeddingResult>;
    /** Whether the engine answers at all (GET /models): null when it does, else why not. */
    health?(signal?: AbortSignal): Promise<string | null>;
    /** Releases connections (keep-alive sockets). */
    close?(): void;
}

/** An upstream failure: `status` is the upstream HTTP status, when there was one. */
export class BackendError extends Error {
    constructor(message: string, readonly status?: number) {
        super(message);
        this.name = 'BackendError';
    }
}

/**
 * The upstream could not be reached at all (connection refused, reset before an answer, DNS): it
 * saw no request, generated nothing, and another upstream may be asked instead.
 */
export class UpstreamUnreachable extends BackendError {
    constructor(message: string) {
        super(message);
        this.name = 'UpstreamUnreachable';
    }
}

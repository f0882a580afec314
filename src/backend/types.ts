// What a worker node needs from an inference engine: one chat completion, whole or streamed, with
// the token usage it is paid for.

export interface ChatTextPart {
    type: 'text';
    text: string;
}

export interface ChatMessage {
    role: 'system' | 'user' | 'assistant' | 'tool' | 'developer';
    content: string | ChatTextPart[] | null;
    name?: string;
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
}

export interface Usage {
    promptTokens: number;
    completionTokens: number;
}

export interface ChatResult {
    content: string;
    finishReason: string;
    usage: Usage;
    /** True when the backend reported usage itself; false when it was counted with gpt-tokenizer. */
    usageReported: boolean;
}

export type StreamEvent =
    | { type: 'delta'; content: string }
    | { type: 'end'; finishReason: string; usage: Usage; usageReported: boolean };

export interface InferenceBackend {
    /** Human-readable name for logs (never contains credentials). */
    readonly name: string;
    complete(req: ChatRequest, signal?: AbortSignal): Promise<ChatResult>;
    /** Yields deltas, then exactly one `end` event (unless it throws or is aborted). */
    stream(req: ChatRequest, signal?: AbortSignal): AsyncIterable<StreamEvent>;
}

/** An upstream failure: `status` is the upstream HTTP status, when there was one. */
export class BackendError extends Error {
    constructor(message: string, readonly status?: number) {
        super(message);
        this.name = 'BackendError';
    }
}

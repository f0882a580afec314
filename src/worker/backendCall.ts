// The backend leg of a paid request: the upstream request built from the client's body (every field
// that changes the answer is forwarded, or refused with 400 when the backend cannot do it), and what
// admission needs to hold its worst case: a bound of its prompt tokens that needs no tokenizer, the
// texts to count when the bound does not fit, and its completion token limit.
//
//   chat          messages (+ tool definitions, a response schema: prompt tokens too)
//   completions   one prompt
//   embeddings    inputs, billed as prompt tokens; no completion
import type { BackendFeatures, ChatMessage, ChatRequest, EmbeddingRequest, TextRequest } from '../backend';
import { promptTexts, promptTokensUpperBound, requestExtraTexts } from '../backend';
import type { ChatBody } from './chatBody';
import { HttpError } from './errors';
import type { ServedModel } from './models';
import type { EmbeddingBody, TextBody } from './otherBodies';

interface PlanBase {
    served: ServedModel;
    /** Completion tokens at most (0 for embeddings). */
    maxTokens: number;
    stream: boolean;
    /** An upper bound of the prompt tokens without the tokenizer (UTF-8 bytes: a token is at least a byte). */
    promptBound: number;
    /** What the tokenizer counts for the exact prompt tokens: framing + sum of the texts' tokens. */
    promptTexts: { texts: string[]; framing: number };
}

export type RequestPlan =
    | (PlanBase & { kind: 'chat'; request: ChatRequest; extra: string[] })
    | (PlanBase & { kind: 'completions'; request: TextRequest })
    | (PlanBase & { kind: 'embeddings'; request: EmbeddingRequest });

/** The chat plan's fields the older call sites knew as `Upstream`. */
export type Upstream = Extract<RequestPlan, { kind: 'chat' }>;

const unsupported = (what: string) =>
    new HttpError(400, `${what} is not supported by this worker's inference backend; remove it or pick another worker`, 'invalid_request_error', 'unsupported_parameter');

const NO_FEATURES: BackendFeatures = { tools: false, responseFormat: false, logprobs: false };

const bytes = (t: string) => Buffer.byteLength(t);

/** A served model for callers that have only a backend's features (tests of this module). */
function servedOf(o: { model: string; features?: BackendFeatures; served?: ServedModel }): ServedModel {
    return o.served ?? { name: o.model, capabilities: new Set(['chat']), backend: undefined as never, upstreamModel: o.model, features: o.features, upstreams: () => [] };
}

export function buildUpstream(body: ChatBody, o: { model: string; maxTokens: number; features?: BackendFeatures; served?: ServedModel }): Upstream {
    const f = o.features ?? o.served?.features ?? NO_FEATURES;
    const messages = body.messages as ChatMessage[];
    const usesTools = (body.tools != null && body.tools.length > 0) || body.tool_choice != null || body.parallel_tool_calls != null ||
        messages.some((m) => (m.tool_calls && m.tool_calls.length > 0) || m.tool_call_id !== undefined || m.role === 'tool');
    if (usesTools && !f.tools) throw unsupported('tool calling (tools, tool_choice, tool_calls, tool messages)');
    if (body.response_format != null && body.response_format.type !== 'text' && !f.responseFormat) throw unsupported('response_format (JSON mode)');
    if ((body.logprobs === true || (body.top_logprobs ?? 0) > 0) && !f.logprobs) throw unsupported('logprobs');
    if (body.tool_choice != null && typeof body.tool_choice === 'object' && !(body.tools ?? []).some((t) => t.function.name === (body.tool_choice as { function: { name: string } }).function.name)) {
        throw new HttpError(400, `tool_choice names the function ${(body.tool_choice as { function: { name: string } }).function.name}, which is not among the tools`, 'invalid_request_error', 'invalid_body');
    }
    const request: ChatRequest = {
        model: o.model, messages, maxTokens: o.maxTokens,
        temperature: body.temperature ?? undefined, topP: body.top_p ?? undefined, stop: body.stop ?? undefined, seed: body.seed ?? undefined,
        ...(body.tools != null && body.tools.length > 0 ? { tools: body.tools } : {}),
        ...(body.tool_choice != null ? { toolChoice: body.tool_choice } : {}),
        ...(body.parallel_tool_calls != null ? { parallelToolCalls: body.parallel_tool_calls } : {}),
        ...(body.response_format != null ? { responseFormat: body.response_format } : {}),
        ...(body.logprobs != null ? { logprobs: body.logprobs } : {}),
        ...(body.top_logprobs != null ? { topLogprobs: body.top_logprobs } : {}),
        ...(body.frequency_penalty != null ? { frequencyPenalty: body.frequency_penalty } : {}),
        ...(body.presence_penalty != null ? { presencePenalty: body.presence_penalty } : {}),
    };
    const extra = requestExtraTexts(request);
    return {
        kind: 'chat', served: servedOf(o), request, extra, maxTokens: o.maxTokens, stream: body.stream === true,
        promptBound: promptTokensUpperBound(messages, extra), promptTexts: promptTexts(messages, extra),
    };
}

export function buildTextPlan(body: TextBody, o: { served: ServedModel; maxTokens: number }): RequestPlan {
    const request: TextRequest = {
        model: o.served.upstreamModel, prompt: body.prompt, maxTokens: o.maxTokens,
        temperature: body.temperature ?? undefined, topP: body.top_p ?? undefined, stop: body.stop ?? undefined, seed: body.seed ?? undefined,
        ...(body.frequency_penalty != null ? { frequencyPenalty: body.frequency_penalty } : {}),
        ...(body.presence_penalty != null ? { presencePenalty: body.presence_penalty } : {}),
    };
    return {
        kind: 'completions', served: o.served, request, maxTokens: o.maxTokens, stream: body.stream === true,
        promptBound: bytes(body.prompt), promptTexts: { texts: [body.prompt], framing: 0 },
    };
}

export function buildEmbeddingPlan(body: EmbeddingBody, o: { served: ServedModel }): RequestPlan {
    const request: EmbeddingRequest = {
        model: o.served.upstreamModel, input: body.input,
        ...(body.encoding_format != null ? { encodingFormat: body.encoding_format } : {}),
        ...(body.dimensions != null ? { dimensions: body.dimensions } : {}),
    };
    return {
        kind: 'embeddings', served: o.served, request, maxTokens: 0, stream: false,
        promptBound: body.input.reduce((n, t) => n + bytes(t), 0), promptTexts: { texts: body.input, framing: 0 },
    };
}

// The backend leg of a chat request: the upstream request built from the client's body (every field
// that changes the answer is forwarded, or refused with 400 when the backend cannot do it), and the
// texts besides the messages that the model reads (tool definitions, a response schema), which count
// as prompt tokens.
import type { BackendFeatures, ChatMessage, ChatRequest } from '../backend';
import { requestExtraTexts } from '../backend';
import type { ChatBody } from './chatBody';
import { HttpError } from './errors';

export interface Upstream {
    request: ChatRequest;
    /** Texts the model reads besides the messages (for the prompt token count). */
    extra: string[];
    maxTokens: number;
    stream: boolean;
}

const unsupported = (what: string) =>
    new HttpError(400, `${what} is not supported by this worker's inference backend; remove it or pick another worker`, 'invalid_request_error', 'unsupported_parameter');

const NO_FEATURES: BackendFeatures = { tools: false, responseFormat: false, logprobs: false };

export function buildUpstream(body: ChatBody, o: { model: string; maxTokens: number; features?: BackendFeatures }): Upstream {
    const f = o.features ?? NO_FEATURES;
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
    return { request, extra: requestExtraTexts(request), maxTokens: o.maxTokens, stream: body.stream === true };
}

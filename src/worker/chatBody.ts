// The part of OpenAI's chat completion body the node understands. Tool calling, JSON mode and
// logprobs are validated here and forwarded to the backend when it supports them (backendCall.ts
// refuses them with 400 otherwise); OpenAI fields that change the answer and that the node cannot
// forward are refused (UNSUPPORTED_FIELDS), never dropped silently. Fields that only describe the
// caller (user, metadata) are ignored.
import { z } from 'zod';

const textPart = z.object({ type: z.literal('text'), text: z.string() });

const toolCall = z.object({
    id: z.string().min(1).max(256),
    type: z.literal('function'),
    function: z.object({ name: z.string().min(1).max(256), arguments: z.string() }),
});

const tool = z.object({
    type: z.literal('function'),
    function: z.object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a function name is 1-64 letters, digits, _ or -'),
        description: z.string().optional(),
        parameters: z.record(z.unknown()).optional(),
        strict: z.boolean().nullish(),
    }),
});

const toolChoice = z.union([
    z.enum(['none', 'auto', 'required']),
    z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
        type: z.literal('json_schema'),
        json_schema: z.object({ name: z.string().min(1), description: z.string().optional(), schema: z.record(z.unknown()).optional(), strict: z.boolean().nullish() }),
    }),
]);

/** OpenAI request fields that change the answer and that this node does not forward: 400, with why. */
export const UNSUPPORTED_FIELDS: Record<string, string> = {
    functions: 'the legacy `functions` field is not supported: send `tools`',
    function_call: 'the legacy `function_call` field is not supported: send `tool_choice`',
    logit_bias: '`logit_bias` is not supported by this node',
    audio: 'audio output is not supported by this node',
    modalities: '`modalities` is not supported by this node (text only)',
    prediction: 'predicted outputs are not supported by this node',
    web_search_options: 'web search is not supported by this node',
};

export const chatBodySchema = z
    .object({
        model: z.string().min(1),
        messages: z
            .array(
                z.object({
                    role: z.enum(['system', 'user', 'assistant', 'tool', 'developer']),
                    content: z.union([z.string(), z.array(textPart), z.null()]).optional().transform((c) => c ?? null),
                    name: z.string().optional(),
                    tool_calls: z.array(toolCall).max(128).optional(),
                    tool_call_id: z.string().min(1).max(256).optional(),
                }).refine((m) => m.content !== null || m.role === 'assistant' || m.role === 'system', { message: 'content is required (null only for an assistant message)', path: ['content'] }),
            )
            .min(1),
        tools: z.array(tool).max(128).nullish(),
        tool_choice: toolChoice.nullish(),
        parallel_tool_calls: z.boolean().nullish(),
        response_format: responseFormat.nullish(),
        logprobs: z.boolean().nullish(),
        top_logprobs: z.number().int().min(0).max(20).nullish(),
        frequency_penalty: z.number().min(-2).max(2).nullish(),
        presence_penalty: z.number().min(-2).max(2).nullish(),
        max_tokens: z.number().int().positive().nullish(),
        max_completion_tokens: z.number().int().positive().nullish(),
        stream: z.boolean().nullish(),
        stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
        temperature: z.number().min(0).max(2).nullish(),
        top_p: z.number().min(0).max(1).nullish(),
        n: z.literal(1).nullish(),
        stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
        seed: z.number().int().nullish(),
    })
    .passthrough();

export type ChatBody = z.infer<typeof chatBodySchema>;

export function describeIssues(e: z.ZodError): string {
    return e.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);
/** Top-level fields the fast path leaves to zod (they need a deeper check). */
const DEEP_FIELDS = ['tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'logprobs', 'top_logprobs', 'frequency_penalty', 'presence_penalty'];
const isNullish = (v: unknown) => v === undefined || v === null;
const optInt = (v: unknown, positive: boolean) => isNullish(v) || (typeof v === 'number' && Number.isInteger(v) && (!positive || v > 0));
const optRange = (v: unknown, lo: number, hi: number) => isNullish(v) || (typeof v === 'number' && v >= lo && v <= hi);

function plainMessage(m: unknown): boolean {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
    let keys = 0;
    for (const k in m) {
        if (k !== 'role' && k !== 'content' && k !== 'name') return false; // zod strips it: let zod do it
        keys++;
    }
    const o = m as Record<string, unknown>;
    if (typeof o.role !== 'string' || !ROLES.has(o.role)) return false;
    if (!('content' in o)) return false;
    const c = o.content;
    if (c !== null && typeof c !== 'string') {
        if (!Array.isArray(c)) return false;
        for (const p of c) {
            if (typeof p !== 'object' || p === null || Array.isArray(p)) return false;
            for (const k in p) if (k !== 'type' && k !== 'text') return false;
            if (p.type !== 'text' || typeof p.text !== 'string') return false;
        }
    }
    if ('name' in o && typeof o.name !== 'string') return false;
    return keys > 0;
}

/**
 * The body when it is one that chatBodySchema accepts unchanged (the common case), checked by hand;
 * null when zod must look at it (it may be invalid, or zod would strip unknown keys of a message).
 */
function fastChatBody(j: unknown): ChatBody | null {
    if (typeof j !== 'object' || j === null || Array.isArray(j)) return null;
    const b = j as Record<string, unknown>;
    if (typeof b.model !== 'string' || b.model.length === 0) return null;
    const ms = b.messages;
    if (!Array.isArray(ms) || ms.length === 0) return null;
    for (const m of ms) if (!plainMessage(m)) return null;
    for (const f of DEEP_FIELDS) if (b[f] !== undefined) return null;
    if (!optInt(b.max_tokens, true) || !optInt(b.max_completion_tokens, true) || !optInt(b.seed, false)) return null;
    if (!isNullish(b.stream) && typeof b.stream !== 'boolean') return null;
    const so = b.stream_options;
    if (!isNullish(so)) {
        if (typeof so !== 'object' || Array.isArray(so)) return null;
        for (const k in so) if (k !== 'include_usage') return null;
        const iu = (so as Record<string, unknown>).include_usage;
        if (iu !== undefined && typeof iu !== 'boolean') return null;
    }
    if (!optRange(b.temperature, 0, 2) || !optRange(b.top_p, 0, 1)) return null;
    if (!isNullish(b.n) && b.n !== 1) return null;
    const st = b.stop;
    if (!isNullish(st) && typeof st !== 'string') {
        if (!Array.isArray(st) || st.length > 4) return null;
        for (const x of st) if (typeof x !== 'string') return null;
    }
    return b as ChatBody;
}

/**
 * The first field of `fields` (default UNSUPPORTED_FIELDS) the body carries with a value other than
 * its default (`isDefault`: null or absent), with why it is refused.
 */
export function unsupportedField(
    json: unknown, fields: Record<string, string> = UNSUPPORTED_FIELDS, isDefault: (v: unknown, field: string) => boolean = (v) => v === undefined || v === null,
): { field: string; why: string } | null {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return null;
    for (const f in fields) {
        if (!isDefault((json as Record<string, unknown>)[f], f)) return { field: f, why: fields[f] };
    }
    return null;
}

/** chatBodySchema.safeParse, with a hand-checked fast path for bodies zod would return unchanged. */
export function parseChatBody(json: unknown): { success: true; data: ChatBody } | { success: false; error: z.ZodError } {
    const fast = fastChatBody(json);
    if (fast) return { success: true, data: fast };
    const r = chatBodySchema.safeParse(json);
    return r.success ? { success: true, data: r.data } : { success: false, error: r.error };
}

// The part of OpenAI's chat completion body the node understands; other fields are ignored.
import { z } from 'zod';

const textPart = z.object({ type: z.literal('text'), text: z.string() });

export const chatBodySchema = z
    .object({
        model: z.string().min(1),
        messages: z
            .array(
                z.object({
                    role: z.enum(['system', 'user', 'assistant', 'tool', 'developer']),
                    content: z.union([z.string(), z.array(textPart), z.null()]),
                    name: z.string().optional(),
                }),
            )
            .min(1),
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

/** chatBodySchema.safeParse, with a hand-checked fast path for bodies zod would return unchanged. */
export function parseChatBody(json: unknown): { success: true; data: ChatBody } | { success: false; error: z.ZodError } {
    const fast = fastChatBody(json);
    if (fast) return { success: true, data: fast };
    const r = chatBodySchema.safeParse(json);
    return r.success ? { success: true, data: r.data } : { success: false, error: r.error };
}

// The bodies of /v1/completions and /v1/embeddings the node understands (OpenAI's). Fields that
// change the answer and that the node does not forward are refused with 400, never dropped; fields
// that describe the caller (user) are ignored.
import { z } from 'zod';
import { unsupportedField } from './chatBody';

/** Most inputs in one embeddings request, and most characters in all (bounded work per request). */
export const MAX_EMBEDDING_INPUTS = 256;
export const MAX_EMBEDDING_CHARS = 1_000_000;

/** /v1/completions fields this node does not forward: 400, with why. */
export const UNSUPPORTED_TEXT_FIELDS: Record<string, string> = {
    suffix: '`suffix` (insertion) is not supported by this node',
    echo: '`echo` is not supported by this node',
    best_of: '`best_of` is not supported by this node (one answer per request)',
    logprobs: '`logprobs` is not supported on /v1/completions by this node',
    logit_bias: '`logit_bias` is not supported by this node',
};

export const textBodySchema = z
    .object({
        model: z.string().min(1),
        // one prompt: a string, or an array of one string (token arrays are not taken)
        prompt: z.union([z.string(), z.array(z.string()).length(1, 'one prompt per request')]).transform((p) => (typeof p === 'string' ? p : p[0])),
        max_tokens: z.number().int().positive().nullish(),
        stream: z.boolean().nullish(),
        stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
        temperature: z.number().min(0).max(2).nullish(),
        top_p: z.number().min(0).max(1).nullish(),
        n: z.literal(1).nullish(),
        stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
        seed: z.number().int().nullish(),
        frequency_penalty: z.number().min(-2).max(2).nullish(),
        presence_penalty: z.number().min(-2).max(2).nullish(),
    })
    .passthrough();

export type TextBody = z.infer<typeof textBodySchema>;

export const embeddingBodySchema = z
    .object({
        model: z.string().min(1),
        input: z.union([z.string().min(1), z.array(z.string().min(1, 'an input may not be empty')).min(1).max(MAX_EMBEDDING_INPUTS)])
            .transform((i) => (typeof i === 'string' ? [i] : i))
            .refine((i) => i.reduce((n, t) => n + t.length, 0) <= MAX_EMBEDDING_CHARS, `at most ${MAX_EMBEDDING_CHARS} characters in all`),
        encoding_format: z.enum(['float', 'base64']).nullish(),
        dimensions: z.number().int().min(1).max(65_536).nullish(),
    })
    .passthrough();

export type EmbeddingBody = z.infer<typeof embeddingBodySchema>;

/** The first field the node refuses on /v1/completions (with a value other than its default), with why. */
export function unsupportedTextField(json: unknown): { field: string; why: string } | null {
    return unsupportedField(json, UNSUPPORTED_TEXT_FIELDS, (v, f) => v === undefined || v === null || v === false || v === 0 || (f === 'best_of' && v === 1));
}

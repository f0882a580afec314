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

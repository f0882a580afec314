// Reading and checking the caller's request body: bounded in size and time, JSON, the shape of an
// OpenAI chat completion request. Fields the gateway does not need are passed on untouched; the
// worker node checks them (and refuses what it cannot do, docs/HTTP-API.md).
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { Refuse } from './errors';

export function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > limit) {
            reject(Refuse.tooLarge(limit));
            return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        let done = false;
        const finish = (err: Error | null) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            req.off('data', onData);
            req.off('end', onEnd);
            req.off('error', onError);
            if (err) {
                req.resume(); // drain what is left; the response says connection: close
                reject(err);
            } else {
                resolve(Buffer.concat(chunks));
            }
        };
        const onData = (c: Buffer) => {
            size += c.length;
            if (size > limit) finish(Refuse.tooLarge(limit));
            else chunks.push(c);
        };
        const onEnd = () => finish(null);
        const onError = (e: Error) => finish(e);
        const timer = setTimeout(() => finish(Refuse.bodyTimeout(timeoutMs)), timeoutMs);
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
    });
}

const Message = z.object({ role: z.string().min(1).max(64) }).passthrough();

export const ChatRequestSchema = z.object({
    model: z.string().min(1).max(256),
    messages: z.array(Message).min(1).max(10_000),
    stream: z.boolean().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
    max_tokens: z.number().int().min(1).max(10_000_000).nullable().optional(),
    max_completion_tokens: z.number().int().min(1).max(10_000_000).nullable().optional(),
    user: z.string().max(256).optional(),
}).passthrough();

export type ChatRequest = z.infer<typeof ChatRequestSchema>;

export function parseChatRequest(raw: Buffer): ChatRequest {
    let json: unknown;
    try {
        json = JSON.parse(raw.toString('utf8'));
    } catch {
        throw Refuse.invalidJson();
    }
    const r = ChatRequestSchema.safeParse(json);
    if (!r.success) {
        const i = r.error.issues[0];
        throw Refuse.invalidBody(`${i.path.join('.') || 'body'}: ${i.message}`);
    }
    return r.data;
}

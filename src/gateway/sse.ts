// Relaying a worker's stream to the caller as OpenAI server-sent events.
//
// Content chunks (role, deltas, tool calls, finish_reason) are written as they come: the caller
// sees tokens at once. The worker's last chunk, with `usage` and `cocoon_receipt`, is held back
// until the client library has verified that receipt. Then:
//   - receipt good: that chunk is written if the caller asked for stream_options.include_usage
//     (OpenAI's usage chunk: no choices, `usage`, plus `cocoon_receipt`), then `data: [DONE]`;
//   - receipt bad, or the worker cut the stream: an OpenAI error event
//     `data: {"error": {"message", "type", "code"}}` and no [DONE]. Stock clients (openai-python,
//     openai-node) raise an error on it: the text already shown is never reported as a completed,
//     paid answer.
// Headers are sent with the first content chunk, so a worker that fails before it can be replaced
// by another without the caller noticing.
import type { ServerResponse } from 'node:http';
import { errorBody, type GatewayError } from './errors';

export class SseRelay {
    private headersSent = false;
    private held: Record<string, unknown> | null = null;
    private headers: Record<string, string> = {};
    /** When the first chunk went out (performance.now()), or 0. */
    firstByteAt = 0;

    constructor(private readonly res: ServerResponse, private readonly includeUsage: boolean) {}

    get started(): boolean {
        return this.headersSent;
    }

    /** Headers for the response (the worker serving it); only until the stream starts. */
    setHeaders(h: Record<string, string>): void {
        if (!this.headersSent) this.headers = h;
    }

    private start(): void {
        if (this.headersSent) return;
        this.headersSent = true;
        this.res.writeHead(200, {
            'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no', ...this.headers,
        });
        this.res.flushHeaders();
    }

    private write(obj: unknown): void {
        if (this.res.writableEnded || this.res.destroyed) return;
        this.res.write(`data: ${JSON.stringify(obj)}\n\n`);
    }

    /** A chunk from the worker (ClientSession's onChunk). */
    chunk(c: Record<string, unknown>): void {
        if (c.error) return; // the session throws on it; fail() writes the gateway's own error event
        if (c.cocoon_receipt !== undefined || c.usage != null) {
            this.held = c;
            return;
        }
        if (!Array.isArray(c.choices) || c.choices.length === 0) return;
        this.start();
        if (this.firstByteAt === 0) this.firstByteAt = performance.now();
        this.write(c);
    }

    /** The receipt is verified and stored: the usage chunk (if asked for) and [DONE]. */
    finish(extra: Record<string, unknown> = {}): void {
        this.start();
        if (this.includeUsage && this.held) this.write({ ...this.held, ...extra });
        if (!this.res.writableEnded && !this.res.destroyed) this.res.end('data: [DONE]\n\n');
    }

    /** The stream cannot end as a paid answer: an error event, no [DONE]. */
    fail(e: GatewayError): void {
        this.start();
        this.write(errorBody(e));
        if (!this.res.writableEnded && !this.res.destroyed) this.res.end();
    }
}

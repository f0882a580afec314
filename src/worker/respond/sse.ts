// A streamed chat or text completion as server-sent events, the way OpenAI sends them: (chat: a role
// chunk,) content or text (or tool-call) deltas, a finish chunk, a usage chunk carrying the receipt,
// `data: [DONE]`.
//
// Events are collected and written together: at most one write (one TLS record, one syscall) per
// turn of the event loop and per flushMs. The first event after a quiet spell of flushMs goes out in
// the same turn, so a model slower than that sees no delay; a fast one gets a few writes per answer
// instead of one per token. Same bytes, same order.
//
// A stream that cannot be billed (the receipt could not be made durable) or whose backend failed
// ends with an OpenAI-style error event and no [DONE], so a stock client reports an error instead of
// accepting a truncated answer.
import { performance } from 'node:perf_hooks';
import type { ServerResponse } from 'node:http';
import type { Usage } from '../../backend';
import type { PriceSet } from '../../sdk';
import { errorBody, type HttpError } from '../errors';
import type { IssuedReceipt } from '../ledger';
import { usageJson } from '../usage';
import { completionId, receiptJson } from './json';

export class SseWriter {
    readonly id: string;
    private readonly created = Math.floor(Date.now() / 1000);
    private readonly object: string;
    private readonly text: boolean;
    private readonly deltaHead: string;
    private pending = '';
    private flushQueued = false;
    private flushTimer: NodeJS.Timeout | null = null;
    private lastFlush = -Infinity;
    private started = false;

    /** `kind` text: a /v1/completions stream (text_completion chunks, no role chunk). */
    constructor(private readonly res: ServerResponse, private readonly model: string, private readonly flushMs: number, kind: 'chat' | 'text' = 'chat') {
        this.text = kind === 'text';
        this.id = completionId(this.text ? 'cmpl-' : 'chatcmpl-');
        this.object = this.text ? 'text_completion' : 'chat.completion.chunk';
        const modelJson = JSON.stringify(model);
        // A content delta as send(chunk({choices: [{index: 0, delta: {content}, logprobs: null, finish_reason: null}]}))
        // (text: {index: 0, text, logprobs: null, finish_reason: null}) would serialise it, byte for
        // byte, without building and walking the object for every token.
        this.deltaHead = this.text
            ? `data: {"id":"${this.id}","object":"text_completion","created":${this.created},"model":${modelJson},"choices":[{"index":0,"text":`
            : `data: {"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${modelJson},"choices":[{"index":0,"delta":{"content":`;
    }

    get headersSent(): boolean {
        return this.started;
    }

    /** Sends the headers and the role chunk (once). */
    start(): void {
        if (this.started) return;
        this.started = true;
        this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
        if (!this.text) this.send(this.chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }));
    }

    delta(content: string): void {
        this.emit(this.deltaHead + JSON.stringify(content) + (this.text ? ',"logprobs":null,"finish_reason":null}]}\n\n' : '},"logprobs":null,"finish_reason":null}]}\n\n'));
    }

    toolCalls(toolCalls: unknown[]): void {
        this.send(this.chunk({ choices: [{ index: 0, delta: { tool_calls: toolCalls }, logprobs: null, finish_reason: null }] }));
    }

    logprobs(logprobs: unknown): void {
        this.send(this.chunk({ choices: [{ index: 0, delta: {}, logprobs, finish_reason: null }] }));
    }

    finishReason(reason: string): void {
        const choice = this.text ? { index: 0, text: '', logprobs: null, finish_reason: reason } : { index: 0, delta: {}, logprobs: null, finish_reason: reason };
        this.send(this.chunk({ choices: [choice] }));
    }

    /** The usage chunk with the receipt (no choices). */
    receipt(r: IssuedReceipt, usage: Usage, prices: PriceSet): void {
        this.send(this.chunk({ choices: [], usage: usageJson(usage), cocoon_receipt: receiptJson(r, prices) }));
    }

    /** Ends with `data: [DONE]`. */
    done(): void {
        this.end('data: [DONE]\n\n');
    }

    /** Ends with an error event (OpenAI's error body) and no [DONE]. */
    fail(e: HttpError): void {
        this.send(errorBody(e));
        this.end();
    }

    /** The client went away: drop what is pending and close. */
    abandon(): void {
        this.pending = '';
        if (this.flushTimer) clearTimeout(this.flushTimer);
        this.flushTimer = null;
        if (!this.res.writableEnded) this.res.end();
    }

    private chunk(extra: Record<string, unknown>) {
        return { id: this.id, object: this.object, created: this.created, model: this.model, ...extra };
    }

    private send(o: unknown): void {
        this.emit(`data: ${JSON.stringify(o)}\n\n`);
    }

    private readonly flush = () => {
        this.flushQueued = false;
        this.flushTimer = null;
        this.lastFlush = performance.now();
        const out = this.pending;
        this.pending = '';
        if (out.length > 0 && !this.res.writableEnded && !this.res.destroyed) this.res.write(out);
    };

    private emit(event: string): void {
        this.pending += event;
        if (this.flushQueued) return;
        this.flushQueued = true;
        const wait = this.lastFlush + this.flushMs - performance.now();
        if (wait <= 0) setImmediate(this.flush);
        else this.flushTimer = setTimeout(this.flush, wait);
    }

    /** Ends the response with what is pending, then `last`. */
    private end(last = ''): void {
        if (this.flushTimer) clearTimeout(this.flushTimer);
        this.flushTimer = null;
        const out = this.pending + last;
        this.pending = '';
        if (this.res.writableEnded) return;
        if (out.length > 0 && !this.res.destroyed) this.res.end(out);
        else this.res.end();
    }
}

// HTTPS calls to a worker node over a pinned agent: JSON requests and SSE streams.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { ClientError } from './errors';
import type { PinnedAgent } from './tlsPin';

export interface HttpResult {
    status: number;
    headers: IncomingMessage['headers'];
    res: IncomingMessage;
}

/**
 * Sends one request; resolves with the response head (the body is still to be read). `signal` aborts
 * it at any point (the response body, if any, ends with an error).
 */
export function pinnedRequest(agent: PinnedAgent, url: URL, method: 'GET' | 'POST', body: unknown, headers: Record<string, string>, timeoutMs: number, signal?: AbortSignal): Promise<HttpResult> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = https.request(url, {
            method, agent, ...(signal ? { signal } : {}),
            headers: {
                accept: 'application/json, text/event-stream',
                ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
                ...headers,
            },
            timeout: timeoutMs,
        }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, res }));
        req.on('timeout', () => req.destroy(new ClientError('WORKER_UNAVAILABLE', `${method} ${url.pathname} timed out after ${timeoutMs} ms`, 'the worker is overloaded or unreachable; retry later or pick another worker.')));
        req.on('error', (e) => reject(e instanceof ClientError ? e : new ClientError('WORKER_UNAVAILABLE', `${method} ${url.href} failed: ${e.message}`, 'check that the worker node runs and its on-chain endpoint is right; or pick another worker.')));
        req.end(payload);
    });
}

export async function readBody(res: IncomingMessage, limit = 8 * 1024 * 1024): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res) {
        size += (c as Buffer).length;
        if (size > limit) {
            res.destroy();
            throw new ClientError('HTTP_ERROR', `the worker's answer is larger than ${limit} bytes`, 'ask for fewer tokens (max_tokens) or pick another worker.');
        }
        chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
}

/** Yields the `data:` payload of each server-sent event. */
export async function* sseEvents(res: IncomingMessage): AsyncGenerator<string> {
    let buf = '';
    res.setEncoding('utf8');
    for await (const chunk of res) {
        buf += chunk as string;
        let cut: number;
        while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
            const event = buf.slice(0, cut);
            buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
            const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
            if (data.length > 0) yield data;
        }
    }
    const rest = buf.trim();
    if (rest.startsWith('data:')) yield rest.slice(5).trim();
}

const STATUS_HINTS: Record<number, string> = {
    400: 'the request body was refused; check the messages and parameters.',
    402: 'the escrow is missing, closed or too low for this request: top it up (cocoon top-up) or open one (cocoon open-escrow), or lower max_tokens.',
    403: "the escrow does not fit this worker (another worker's escrow, or its price is above your max price): open an escrow with this worker or raise --max-price.",
    404: 'the worker does not serve this path or model; list workers again.',
    413: 'the request is too large; shorten the prompt.',
    429: 'the worker is busy; retry in a moment or pick another worker.',
    503: 'the worker is not ready (backend down or chain unreachable); retry later or pick another worker.',
};

/** An OpenAI-shaped error answer as a ClientError with what to do next. */
export function httpError(status: number, text: string): ClientError {
    let message = text.slice(0, 300);
    let code: unknown;
    try {
        const j = JSON.parse(text);
        if (j?.error?.message) message = String(j.error.message);
        code = j?.error?.code;
    } catch {
        // not JSON: keep the text
    }
    return new ClientError('HTTP_ERROR', `the worker answered ${status}: ${message}`, STATUS_HINTS[status] ?? 'retry later or pick another worker.', { status, code });
}

// The node's error taxonomy: every refusal is an HttpError carrying an OpenAI-shaped body
// ({error: {message, type, code}}) whose message ends with what the caller can do about it. One
// place renders them (sendError), for JSON answers; a stream that already started ends with the same
// body as its last SSE event (respond/sse.ts). docs/HTTP-API.md lists every code.
import type { ServerResponse } from 'node:http';
import { BackendError } from '../backend';

export class HttpError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly type = 'invalid_request_error',
        readonly code: string | null = null,
        /** Extra response headers (retry-after, connection: close, www-authenticate). */
        readonly headers: Record<string, string> = {},
    ) {
        super(message);
        this.name = 'HttpError';
    }
}

export function errorBody(e: HttpError) {
    return { error: { message: e.message, type: e.type, code: e.code } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text).toString(), ...headers });
    res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError, headers: Record<string, string> = {}): void {
    sendJson(res, e.status, errorBody(e), { ...e.headers, ...headers });
}

const AUTH = { 'www-authenticate': 'Bearer realm="cocoon"' };
const MINT = 'mint one with `cocoon api-key --worker <worker> --ttl 7d`';

/** The refusals, by name: each says what went wrong and how to fix it in one line. */
export const Refuse = {
    noApiKey: () => new HttpError(401, `no API key: send "Authorization: Bearer <cocoon API key>"; ${MINT}`, 'invalid_request_error', 'invalid_api_key', AUTH),
    badApiKey: (why: string) => new HttpError(401, `invalid API key: ${why}; ${MINT}`, 'invalid_request_error', 'invalid_api_key', AUTH),
    expiredApiKey: (notAfter: number) =>
        new HttpError(401, `the API key expired at ${new Date(notAfter * 1000).toISOString()}; ${MINT}`, 'invalid_request_error', 'expired_api_key', AUTH),
    spendLimit: (spent: bigint, held: bigint, worst: bigint, limit: bigint) =>
        new HttpError(402,
            `this API key's spend limit of ${limit} nanoton is reached: ${spent} spent, ${held} held by requests in progress, this request may cost up to ${worst}; ` +
            'mint a new key with a higher --limit (cocoon api-key), or lower max_tokens', 'insufficient_quota', 'spend_limit_reached'),
    tooManyAuthFailures: (retryAfterSec: number) =>
        new HttpError(429, `too many failed authentications from your address; retry in ${retryAfterSec} s with a valid API key`, 'rate_limit_error', 'too_many_auth_failures',
            { 'retry-after': String(retryAfterSec) }),
    lookupsBusy: () =>
        new HttpError(429, 'too many lookups of escrows this node has not seen yet; retry in a second', 'rate_limit_error', 'escrow_lookups_busy', { 'retry-after': '1' }),
    tooManyRequests: (max: number) =>
        new HttpError(429, `too many requests in progress (${max}); retry shortly`, 'rate_limit_error', 'too_many_requests', { 'retry-after': '1' }),
    ledgerUnavailable: (reason: string) =>
        new HttpError(503, `this node cannot record receipts right now (${reason}), so it serves nothing it could not bill; retry later or pick another worker`,
            'service_unavailable', 'ledger_unavailable', { 'retry-after': '5' }),
    shuttingDown: () => new HttpError(503, 'the node is shutting down; retry on another worker', 'service_unavailable', 'shutting_down', { connection: 'close' }),
    bodyTimeout: (ms: number) =>
        new HttpError(408, `the request body did not arrive within ${ms} ms; send it in one go`, 'invalid_request_error', 'body_timeout', { connection: 'close' }),
    internal: (e: unknown) => new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', 'internal'),
};

/** Maps a backend failure to what the client sees. */
export function backendHttpError(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    if (e instanceof BackendError) {
        if (e.status === 429) return new HttpError(429, e.message, 'upstream_error', 'backend_busy', { 'retry-after': '1' });
        if (e.status === 400) return new HttpError(400, e.message, 'invalid_request_error', 'backend_refused');
        return new HttpError(502, e.message, 'upstream_error', 'backend_error');
    }
    if (e instanceof Error && e.name === 'TimeoutError') return new HttpError(504, 'the inference backend timed out', 'upstream_error', 'backend_timeout');
    return new HttpError(502, `the inference backend failed: ${(e as Error)?.message ?? String(e)}`, 'upstream_error', 'backend_error');
}

/** Any thrown value as an HttpError (unknown ones become 500 internal). */
export function toHttpError(e: unknown): HttpError {
    return e instanceof HttpError ? e : Refuse.internal(e);
}

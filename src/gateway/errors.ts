// The gateway's refusals: OpenAI-shaped ({error: {message, type, code}}), each message ending with
// what the caller can do. One place renders them as JSON; a stream that already started ends with
// the same body as its last SSE event (sse.ts).
import type { ServerResponse } from 'node:http';

export class GatewayError extends Error {
    constructor(
        readonly status: number,
        message: string,
        readonly type: string,
        readonly code: string,
        readonly headers: Record<string, string> = {},
    ) {
        super(message);
        this.name = 'GatewayError';
    }
}

export function errorBody(e: GatewayError): { error: { message: string; type: string; code: string; param: null } } {
    return { error: { message: e.message, type: e.type, code: e.code, param: null } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
}

export function sendError(res: ServerResponse, e: GatewayError): void {
    sendJson(res, e.status, errorBody(e), e.headers);
}

export const Refuse = {
    unauthorized: () => new GatewayError(401, 'this gateway needs its local API key: send "Authorization: Bearer <key>" (the apiKey of your OpenAI client)',
        'invalid_request_error', 'invalid_api_key', { 'www-authenticate': 'Bearer realm="cocoon-gateway"' }),
    notFound: (method: string, path: string) => new GatewayError(404, `no route ${method} ${path}; the gateway serves /v1/models, /v1/chat/completions, /gateway/status, /healthz and /metrics`,
        'invalid_request_error', 'not_found'),
    method: (path: string, method: string) => new GatewayError(405, `${path} takes ${method}`, 'invalid_request_error', 'method_not_allowed', { allow: method }),
    invalidJson: () => new GatewayError(400, 'the request body is not valid JSON; send an OpenAI chat completion request', 'invalid_request_error', 'invalid_json'),
    invalidBody: (why: string) => new GatewayError(400, `invalid chat completion request: ${why}`, 'invalid_request_error', 'invalid_body'),
    tooLarge: (limit: number) => new GatewayError(413, `the request body is larger than ${limit} bytes; shorten the prompt`, 'invalid_request_error', 'body_too_large', { connection: 'close' }),
    bodyTimeout: (ms: number) => new GatewayError(408, `the request body did not arrive within ${ms} ms; send it at once`, 'invalid_request_error', 'body_timeout', { connection: 'close' }),
    unknownModel: (model: string, known: string[]) => new GatewayError(404,
        `model ${model} is not served by any usable worker (${known.length ? `served now: ${known.join(', ')}` : 'no model is served now'}); pick one from GET /v1/models`,
        'invalid_request_error', 'model_not_found'),
    busy: (max: number) => new GatewayError(429, `the gateway has ${max} requests in progress; retry shortly`, 'rate_limit_error', 'too_many_requests', { 'retry-after': '1' }),
    noWorker: (model: string, why: string, retryAfterSec: number) => new GatewayError(503,
        `no worker can take a ${model} request now (${why}); retry in ${retryAfterSec} s`, 'service_unavailable', 'no_worker_available', { 'retry-after': String(retryAfterSec) }),
    budget: (why: string) => new GatewayError(503, `the escrow budget does not allow this request: ${why}; raise --budget, or wait for idle escrows to close and be withdrawn`,
        'service_unavailable', 'budget_exhausted', { 'retry-after': '30' }),
    workerFailed: (why: string) => new GatewayError(502, `the worker failed: ${why}; retry (another worker is tried first)`, 'upstream_error', 'worker_failed'),
    badReceipt: (worker: string, why: string) => new GatewayError(502,
        `the worker's receipt failed verification (${why}): the answer is withheld and not accepted as paid; worker ${worker} is dropped; retry and another worker serves it`,
        'upstream_error', 'bad_receipt'),
    shuttingDown: () => new GatewayError(503, 'the gateway is shutting down; retry when it is back', 'service_unavailable', 'shutting_down', { connection: 'close' }),
    internal: () => new GatewayError(500, 'internal error in the gateway (logged); retry', 'server_error', 'internal'),
};

/** A worker's own refusal of the caller's request (400, 404, 413): passed on as the worker said it. */
export function passThrough(status: number, message: string, code: string | null): GatewayError {
    return new GatewayError(status, message, 'invalid_request_error', code ?? 'invalid_request');
}

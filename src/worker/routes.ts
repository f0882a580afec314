// Routes: thin handlers that wire the stages together. A chat request goes
//
//   authenticate (headers) -> read the body (size, deadline) -> parse and validate -> build the
//   upstream request -> admit (escrow checks, reservation) -> backend -> receipt (durable) -> respond
//
// and whatever it throws is rendered by the server's one error handler (node.ts) as an OpenAI error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { BackendError, countPromptTokens, countTextTokens, type InferenceBackend } from '../backend';
import type { AdmissionControl, Admission } from './admission';
import { buildUpstream, type Upstream } from './backendCall';
import { describeIssues, parseChatBody, unsupportedField } from './chatBody';
import type { WorkerConfig } from './config';
import { HttpError, backendHttpError, sendJson, toHttpError } from './errors';
import { readBody } from './http';
import type { IssuedReceipt } from './ledger';
import type { WorkerMetrics } from './metrics';
import type { ReceiptIssuer } from './receipts';
import { sendCompletion } from './respond/json';
import { SseWriter } from './respond/sse';
import type { TokenCounter } from './tokenCount';

/** performance.now() at the steps of one chat request, as the node's handler saw them. */
export interface ChatTiming {
    stream: boolean;
    /** The handler starts (headers parsed). */
    start: number;
    /** Authenticated, body read and parsed, escrow checked and the worst case reserved. */
    admitted: number;
    /** The backend's answer is complete (usage known). */
    backendDone: number;
    /** The receipt is signed and durable in the ledger. */
    receipt: number;
    /** The response is handed to the socket. */
    end: number;
}

export interface RouteContext {
    config: WorkerConfig;
    log: Logger;
    metrics: WorkerMetrics;
    backend: InferenceBackend;
    upstreamModel: string;
    admission: AdmissionControl;
    issuer: ReceiptIssuer;
    counter: TokenCounter;
    /** The /attestation document. */
    attestation: () => Promise<Record<string, unknown>>;
    /** The /healthz document and whether it is healthy. */
    health: () => Promise<{ ok: boolean; body: Record<string, unknown> }>;
    models: () => Record<string, unknown>;
    stopping: () => boolean;
    onTiming?: (t: ChatTiming) => void;
}

export const ROUTE_METHODS: Record<string, string> = { '/v1/models': 'GET', '/attestation': 'GET', '/metrics': 'GET', '/healthz': 'GET', '/v1/chat/completions': 'POST' };
export const KNOWN_ROUTES = new Set(Object.keys(ROUTE_METHODS));

/** Dispatches one request; resolves with the route name (for metrics). Throws HttpError. */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<string> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (!KNOWN_ROUTES.has(path)) throw new HttpError(404, `no route ${method} ${path}`, 'invalid_request_error', 'not_found');
    if (ROUTE_METHODS[path] !== method) throw new HttpError(405, `${path} takes ${ROUTE_METHODS[path]}`, 'invalid_request_error', 'method_not_allowed');
    switch (path) {
        case '/v1/models':
            sendJson(res, 200, ctx.models());
            break;
        case '/attestation':
            sendJson(res, 200, await ctx.attestation());
            break;
        case '/metrics': {
            const text = await ctx.metrics.registry.metrics();
            res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
            res.end(text);
            break;
        }
        case '/healthz': {
            const h = await ctx.health();
            sendJson(res, h.ok ? 200 : 503, h.body);
            break;
        }
        default: {
            const t = ctx.metrics.duration.labels({ route: '/v1/chat/completions' }).startTimer();
            try {
                await chat(ctx, req, res);
            } finally {
                t();
            }
        }
    }
    return path;
}

async function chat(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { config } = ctx;
    const t: ChatTiming | null = ctx.onTiming ? { stream: false, start: performance.now(), admitted: 0, backendDone: 0, receipt: 0, end: 0 } : null;
    if (ctx.stopping()) throw new HttpError(503, 'the node is shutting down; retry on another worker', 'service_unavailable', 'shutting_down', { connection: 'close' });
    // who: from the headers alone, before a byte of the body is read
    const principal = await ctx.admission.authenticate(req);
    const raw = await readBody(req, { limit: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs });
    let json: unknown;
    try {
        json = JSON.parse(raw.toString('utf8'));
    } catch {
        throw new HttpError(400, 'the request body is not valid JSON', 'invalid_request_error', 'invalid_json');
    }
    const refused = unsupportedField(json);
    if (refused) throw new HttpError(400, `${refused.why}; remove it`, 'invalid_request_error', 'unsupported_parameter');
    const parsed = parseChatBody(json);
    if (!parsed.success) throw new HttpError(400, `invalid chat completion request: ${describeIssues(parsed.error)}`, 'invalid_request_error', 'invalid_body');
    const body = parsed.data;
    if (body.model !== config.model) throw new HttpError(404, `model ${body.model} is not served here (this node serves ${config.model})`, 'invalid_request_error', 'model_not_found');
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? config.defaultMaxTokens;
    if (maxTokens > config.maxTokensLimit) throw new HttpError(400, `max_tokens ${maxTokens} is above this node's limit of ${config.maxTokensLimit}`, 'invalid_request_error', 'max_tokens_too_large');
    const up = buildUpstream(body, { model: ctx.upstreamModel, maxTokens, features: ctx.backend.features });

    const a = await ctx.admission.admit(principal, up);
    if (t) {
        t.admitted = performance.now();
        t.stream = up.stream;
    }
    let charged = 0n;
    try {
        charged = up.stream ? await chatStream(ctx, res, a, up, t) : await chatWhole(ctx, res, a, up, t);
        if (t && t.receipt > 0) {
            t.end = performance.now();
            ctx.onTiming!(t);
        }
    } finally {
        ctx.admission.release(a, charged);
    }
}

function issue(ctx: RouteContext, a: Admission, promptTokens: number, completionTokens: number): Promise<IssuedReceipt> {
    return ctx.issuer.issue({
        escrow: a.escrow, epoch: a.epoch, price: a.price, maxPrice: a.maxPrice, promptTokens, completionTokens, apiKey: a.principal.key.id,
        trackSpend: a.principal.key.limit > 0n, floor: a.floor,
    });
}

function abortOnClose(res: ServerResponse): AbortController {
    const abort = new AbortController();
    res.on('close', () => {
        if (!res.writableFinished) abort.abort();
    });
    return abort;
}

async function chatWhole(ctx: RouteContext, res: ServerResponse, a: Admission, up: Upstream, t: ChatTiming | null): Promise<bigint> {
    const abort = abortOnClose(res);
    const result = await ctx.backend.complete(up.request, abort.signal).catch((e) => {
        throw backendHttpError(e);
    });
    if (t) t.backendDone = performance.now();
    const receipt = await issue(ctx, a, result.usage.promptTokens, result.usage.completionTokens);
    if (t) t.receipt = performance.now();
    sendCompletion(res, ctx.config.model, result, receipt, a.price);
    return receipt.requestCost;
}

/** Completion tokens of a cut stream and the prompt's tokens, counted off the event loop when large. */
async function cutStreamUsage(ctx: RouteContext, a: Admission, up: Upstream, text: string): Promise<{ prompt: number; completion: number }> {
    const completion = (await ctx.counter.countTexts([text], { deadlineMs: 30_000 })) ?? countTextTokens(text);
    const prompt = a.promptTokens ?? (await ctx.counter.countPrompt(up.request.messages, up.extra, { deadlineMs: 30_000 })) ?? countPromptTokens(up.request.messages, up.extra);
    return { prompt, completion };
}

async function chatStream(ctx: RouteContext, res: ServerResponse, a: Admission, up: Upstream, t: ChatTiming | null): Promise<bigint> {
    const abort = abortOnClose(res);
    const sse = new SseWriter(res, ctx.config.model, ctx.config.streamFlushMs);
    let text = '';
    let end: { finishReason: string; promptTokens: number; completionTokens: number } | null = null;
    let failure: unknown = null;
    try {
        for await (const ev of ctx.backend.stream(up.request, abort.signal)) {
            sse.start();
            switch (ev.type) {
                case 'delta':
                    text += ev.content;
                    sse.delta(ev.content);
                    break;
                case 'tool_calls':
                    text += ev.text;
                    sse.toolCalls(ev.toolCalls);
                    break;
                case 'logprobs':
                    sse.logprobs(ev.logprobs);
                    break;
                case 'end':
                    end = { finishReason: ev.finishReason, promptTokens: ev.usage.promptTokens, completionTokens: ev.usage.completionTokens };
                    break;
            }
        }
    } catch (e) {
        failure = e;
    }
    if (!end) {
        // Aborted by the client or failed upstream: what was generated is still billed (the receipt
        // stays in the ledger and is claimable); with nothing generated, nothing is billed.
        const usage = text.length > 0 ? await cutStreamUsage(ctx, a, up, text) : { prompt: 0, completion: 0 };
        let r: IssuedReceipt | null = null;
        let billing: unknown = null;
        if (usage.completion > 0) r = await issue(ctx, a, usage.prompt, usage.completion).catch((e) => ((billing = e), null));
        if (abort.signal.aborted) {
            ctx.log.info({ escrow: a.escrow.toString(), billed: r ? r.requestTokens.toString() : '0' }, 'client went away during a stream');
            sse.abandon();
            return r?.requestCost ?? 0n;
        }
        const err = billing ? toHttpError(billing) : backendHttpError(failure ?? new BackendError('the inference backend ended the stream without finishing'));
        if (!sse.headersSent) throw err;
        if (r) sse.receipt(r, usage.completion, a.price);
        sse.fail(err);
        return r?.requestCost ?? 0n;
    }
    sse.start();
    sse.finishReason(end.finishReason);
    if (t) t.backendDone = performance.now();
    let r: IssuedReceipt;
    try {
        r = await issue(ctx, a, end.promptTokens, end.completionTokens);
    } catch (e) {
        // the answer cannot be billed: say so in the stream, and no [DONE]
        sse.fail(toHttpError(e));
        return 0n;
    }
    if (t) t.receipt = performance.now();
    sse.receipt(r, end.completionTokens, a.price);
    sse.done();
    return r.requestCost;
}

// Routes: thin handlers that wire the stages together. A paid request (chat, text completion,
// embeddings) goes
//
//   authenticate (headers) -> read the body (size, deadline) -> parse and validate -> the model and
//   its route -> build the upstream request -> admit (escrow checks, reservation) -> backend ->
//   receipt (durable) -> respond
//
// and whatever it throws is rendered by the server's one error handler (lifecycle.ts) as an OpenAI error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { BackendError, countTextTokens, type StreamEvent, type Usage } from '../backend';
import type { AdmissionControl, Admission } from './admission';
import { buildEmbeddingPlan, buildTextPlan, buildUpstream, type RequestPlan } from './backendCall';
import { describeIssues, parseChatBody, unsupportedField } from './chatBody';
import type { Capability, WorkerConfig } from './config';
import { HttpError, backendHttpError, sendJson, toHttpError } from './errors';
import { readBody } from './http';
import type { IssuedReceipt } from './ledger';
import type { WorkerMetrics } from './metrics';
import type { ModelCatalog } from './models';
import { embeddingBodySchema, textBodySchema, unsupportedTextField } from './otherBodies';
import type { ReceiptIssuer } from './receipts';
import { sendCompletion, sendEmbeddings, sendTextCompletion } from './respond/json';
import { SseWriter } from './respond/sse';
import type { TokenCounter } from './tokenCount';
import { usageClasses } from './usage';

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
    /** The models served, their backends and capabilities. */
    catalog: ModelCatalog;
    admission: AdmissionControl;
    issuer: ReceiptIssuer;
    counter: TokenCounter;
    /** The /attestation document. */
    attestation: () => Promise<Record<string, unknown>>;
    /** The /healthz document and whether it is healthy. */
    health: () => Promise<{ ok: boolean; body: Record<string, unknown> }>;
    models: () => Promise<Record<string, unknown>>;
    stopping: () => boolean;
    onTiming?: (t: ChatTiming) => void;
}

export const ROUTE_METHODS: Record<string, string> = {
    '/v1/models': 'GET', '/attestation': 'GET', '/metrics': 'GET', '/healthz': 'GET',
    '/v1/chat/completions': 'POST', '/v1/completions': 'POST', '/v1/embeddings': 'POST',
};

/** The paid routes and the capability each needs. */
const PAID: Record<string, Capability> = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions', '/v1/embeddings': 'embeddings' };
export const KNOWN_ROUTES = new Set(Object.keys(ROUTE_METHODS));

/** Dispatches one request; resolves with the route name (for metrics). Throws HttpError. */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<string> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (!KNOWN_ROUTES.has(path)) throw new HttpError(404, `no route ${method} ${path}`, 'invalid_request_error', 'not_found');
    if (ROUTE_METHODS[path] !== method) throw new HttpError(405, `${path} takes ${ROUTE_METHODS[path]}`, 'invalid_request_error', 'method_not_allowed');
    switch (path) {
        case '/v1/models':
            sendJson(res, 200, await ctx.models());
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
            const t = ctx.metrics.duration.labels({ route: path }).startTimer();
            try {
                await paid(ctx, req, res, PAID[path]);
            } finally {
                t();
            }
        }
    }
    return path;
}

function parsed<T>(r: z.SafeParseReturnType<unknown, T>, what: string): T {
    if (!r.success) throw new HttpError(400, `invalid ${what} request: ${describeIssues(r.error)}`, 'invalid_request_error', 'invalid_body');
    return r.data;
}

/** The body checks and the upstream request of one paid route. */
async function plan(ctx: RouteContext, capability: Capability, json: unknown): Promise<RequestPlan> {
    const { config } = ctx;
    const maxTokensOf = (requested: number | null | undefined) => {
        const maxTokens = requested ?? config.defaultMaxTokens;
        if (maxTokens > config.maxTokensLimit) throw new HttpError(400, `max_tokens ${maxTokens} is above this node's limit of ${config.maxTokensLimit}`, 'invalid_request_error', 'max_tokens_too_large');
        return maxTokens;
    };
    switch (capability) {
        case 'chat': {
            const refused = unsupportedField(json);
            if (refused) throw new HttpError(400, `${refused.why}; remove it`, 'invalid_request_error', 'unsupported_parameter');
            const r = parseChatBody(json);
            if (!r.success) throw new HttpError(400, `invalid chat completion request: ${describeIssues(r.error)}`, 'invalid_request_error', 'invalid_body');
            const body = r.data;
            const served = await ctx.catalog.resolve(body.model, 'chat');
            const maxTokens = maxTokensOf(body.max_completion_tokens ?? body.max_tokens);
            return buildUpstream(body, { model: served.upstreamModel, maxTokens, served });
        }
        case 'completions': {
            const refused = unsupportedTextField(json);
            if (refused) throw new HttpError(400, `${refused.why}; remove it`, 'invalid_request_error', 'unsupported_parameter');
            const body = parsed(textBodySchema.safeParse(json), 'completion');
            const served = await ctx.catalog.resolve(body.model, 'completions');
            if (!served.backend.completeText) throw new HttpError(400, `model ${body.model} has no backend for text completions here`, 'invalid_request_error', 'unsupported_endpoint');
            return buildTextPlan(body, { served, maxTokens: maxTokensOf(body.max_tokens) });
        }
        case 'embeddings': {
            const body = parsed(embeddingBodySchema.safeParse(json), 'embeddings');
            const served = await ctx.catalog.resolve(body.model, 'embeddings');
            if (!served.backend.embed) throw new HttpError(400, `model ${body.model} has no backend for embeddings here`, 'invalid_request_error', 'unsupported_endpoint');
            return buildEmbeddingPlan(body, { served });
        }
    }
}

async function paid(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, capability: Capability): Promise<void> {
    const { config } = ctx;
    const t: ChatTiming | null = ctx.onTiming && capability === 'chat' ? { stream: false, start: performance.now(), admitted: 0, backendDone: 0, receipt: 0, end: 0 } : null;
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
    const up = await plan(ctx, capability, json);

    const a = await ctx.admission.admit(principal, up);
    if (t) {
        t.admitted = performance.now();
        t.stream = up.stream;
    }
    let charged = 0n;
    try {
        switch (up.kind) {
            case 'chat':
                charged = up.stream ? await chatStream(ctx, res, a, up, t) : await chatWhole(ctx, res, a, up, t);
                break;
            case 'completions':
                charged = up.stream ? await textStream(ctx, res, a, up) : await textWhole(ctx, res, a, up);
                break;
            case 'embeddings':
                charged = await embeddings(ctx, res, a, up);
                break;
        }
        if (t && t.receipt > 0) {
            t.end = performance.now();
            ctx.onTiming!(t);
        }
    } finally {
        ctx.admission.release(a, charged);
    }
}

type Plan<K extends RequestPlan['kind']> = Extract<RequestPlan, { kind: K }>;

function issue(ctx: RouteContext, a: Admission, usage: Usage): Promise<IssuedReceipt> {
    return ctx.issuer.issue({
        escrow: a.escrow, epoch: a.epoch, prices: a.prices, caps: a.caps, tokens: usageClasses(usage), apiKey: a.principal.key.id,
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

async function chatWhole(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'chat'>, t: ChatTiming | null): Promise<bigint> {
    const abort = abortOnClose(res);
    const result = await up.served.backend.complete(up.request, abort.signal).catch((e) => {
        throw backendHttpError(e);
    });
    if (t) t.backendDone = performance.now();
    const receipt = await issue(ctx, a, result.usage);
    if (t) t.receipt = performance.now();
    sendCompletion(res, up.served.name, result, receipt, a.prices);
    return receipt.requestCost;
}

async function textWhole(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'completions'>): Promise<bigint> {
    const abort = abortOnClose(res);
    const result = await up.served.backend.completeText!(up.request, abort.signal).catch((e) => {
        throw backendHttpError(e);
    });
    const receipt = await issue(ctx, a, result.usage);
    sendTextCompletion(res, up.served.name, result, receipt, a.prices);
    return receipt.requestCost;
}

async function embeddings(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'embeddings'>): Promise<bigint> {
    const abort = abortOnClose(res);
    const result = await up.served.backend.embed!(up.request, abort.signal).catch((e) => {
        throw backendHttpError(e);
    });
    // embeddings are prompt tokens only, whatever the engine says of completions
    const receipt = await issue(ctx, a, { promptTokens: result.usage.promptTokens, cachedTokens: result.usage.cachedTokens, completionTokens: 0 });
    sendEmbeddings(res, up.served.name, result, receipt, a.prices);
    return receipt.requestCost;
}

/**
 * The usage of a cut stream: the completion tokens of what was generated and the prompt's tokens
 * (all uncached: the engine never said), counted off the event loop when large.
 */
async function cutStreamUsage(ctx: RouteContext, a: Admission, up: Plan<'chat' | 'completions'>, text: string): Promise<Usage> {
    const completion = (await ctx.counter.countTexts([text], { deadlineMs: 30_000 })) ?? countTextTokens(text);
    let prompt = a.promptTokens;
    if (prompt === null) {
        const n = await ctx.counter.countTexts(up.promptTexts.texts, { deadlineMs: 30_000 });
        prompt = up.promptTexts.framing + (n ?? up.promptTexts.texts.reduce((s, x) => s + countTextTokens(x), 0));
    }
    return { promptTokens: prompt, completionTokens: completion };
}

/** Streams the events to the client and bills them; shared by chat and text completions. */
async function streamed(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'chat' | 'completions'>, events: (signal: AbortSignal) => AsyncIterable<StreamEvent>, t: ChatTiming | null): Promise<bigint> {
    const abort = abortOnClose(res);
    const sse = new SseWriter(res, up.served.name, ctx.config.streamFlushMs, up.kind === 'chat' ? 'chat' : 'text');
    let text = '';
    let end: { finishReason: string; usage: Usage } | null = null;
    let failure: unknown = null;
    try {
        for await (const ev of events(abort.signal)) {
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
                    end = { finishReason: ev.finishReason, usage: ev.usage };
                    break;
            }
        }
    } catch (e) {
        failure = e;
    }
    if (!end) {
        // Aborted by the client or failed upstream: what was generated is still billed (the receipt
        // stays in the ledger and is claimable); with nothing generated, nothing is billed.
        const usage = text.length > 0 ? await cutStreamUsage(ctx, a, up, text) : { promptTokens: 0, completionTokens: 0 };
        let r: IssuedReceipt | null = null;
        let billing: unknown = null;
        if (usage.completionTokens > 0) r = await issue(ctx, a, usage).catch((e) => ((billing = e), null));
        if (abort.signal.aborted) {
            ctx.log.info({ escrow: a.escrow.toString(), billed: r ? r.requestTokens.toString() : '0' }, 'client went away during a stream');
            sse.abandon();
            return r?.requestCost ?? 0n;
        }
        const err = billing ? toHttpError(billing) : backendHttpError(failure ?? new BackendError('the inference backend ended the stream without finishing'));
        if (!sse.headersSent) throw err;
        if (r) sse.receipt(r, usage, a.prices);
        sse.fail(err);
        return r?.requestCost ?? 0n;
    }
    sse.start();
    sse.finishReason(end.finishReason);
    if (t) t.backendDone = performance.now();
    let r: IssuedReceipt;
    try {
        r = await issue(ctx, a, end.usage);
    } catch (e) {
        // the answer cannot be billed: say so in the stream, and no [DONE]
        sse.fail(toHttpError(e));
        return 0n;
    }
    if (t) t.receipt = performance.now();
    sse.receipt(r, end.usage, a.prices);
    sse.done();
    return r.requestCost;
}

function chatStream(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'chat'>, t: ChatTiming | null): Promise<bigint> {
    return streamed(ctx, res, a, up, (signal) => up.served.backend.stream(up.request, signal), t);
}

function textStream(ctx: RouteContext, res: ServerResponse, a: Admission, up: Plan<'completions'>): Promise<bigint> {
    return streamed(ctx, res, a, up, (signal) => up.served.backend.streamText!(up.request, signal), null);
}

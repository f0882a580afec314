// The worker node: an OpenAI-compatible HTTPS API in front of an inference backend, paid through
// the client's on-chain ClientEscrow with cumulative receipts signed by the TEE key (notes/http-api.md).
import { createServer as createHttpsServer, Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Address } from '@ton/core';
import type { Logger } from 'pino';
import {
    Chain, Ed25519Key, Sender, SignedStatement, Statement, NO_QUOTE, buildStatementCell, publicKeyToBigInt,
    verifySignedAttestation, workerAddress,
} from '../sdk';
import { generateSelfSignedCert, hex256, tlsKeyHashOfCert } from '../sdk/tls';
import { InferenceBackend, OpenAICompatibleBackend, BackendError, ChatRequest, countPromptTokens, countTextTokens, promptTokensUpperBound } from '../backend';
import { parseWorkerConfig, describeConfig, WorkerConfig, WorkerConfigInput } from './config';
import { createLogger } from './logger';
import { ReceiptLedger, IssuedReceipt } from './ledger';
import { GroupCommitWriter } from './groupCommit';
import { EscrowView, WorkerView, EscrowSnapshot, ESCROW_OPEN, ESCROW_CLOSING, ESCROW_OPENING } from './chainViews';
import { AttestationProvider } from './attestation';
import { createMetrics, WorkerMetrics } from './metrics';
import { ClaimLoop, ClaimOutcome } from './claimer';
import { HttpError, readBody, sendError, sendJson, errorBody } from './http';
import { parseChatBody, describeIssues, ChatBody } from './chatBody';
import { worstCaseCost } from './pricing';

export interface WorkerDeps {
    chain: Chain;
    /** The operator's wallet: pays for Claim messages and receives the payouts. */
    operatorSender: Sender;
    /** The TEE key that signs receipts (inside a TEE it never leaves the enclave). */
    teeKey: Ed25519Key;
    attestationProvider: AttestationProvider;
    /** Default: OpenAICompatibleBackend at config.backend.url. */
    backend?: InferenceBackend;
    /** Bearer token for the upstream backend (never logged). */
    backendApiKey?: string;
    /** TLS certificate; default: config.tls files, else a fresh self-signed one. */
    tls?: { certPem: string; keyPem: string };
    logger?: Logger;
    onClaim?: (c: ClaimOutcome) => void;
    /** Called after every chat request answered in full, with where its time went (benchmarks, tracing). */
    onChatTiming?: (t: ChatTiming) => void;
}

/** performance.now() at the steps of one chat request, as the node's handler saw them. */
export interface ChatTiming {
    stream: boolean;
    /** The handler starts (headers parsed). */
    start: number;
    /** Body read and parsed, escrow checked and the worst case reserved. */
    admitted: number;
    /** The backend's answer is complete (usage known). */
    backendDone: number;
    /** The receipt is signed and durable in the ledger. */
    receipt: number;
    /** The response is handed to the socket. */
    end: number;
}

export interface WorkerNodeHandle {
    url: string;
    port: number;
    config: WorkerConfig;
    worker: Address;
    certPem: string;
    tlsKeyHash: bigint;
    attestation: SignedStatement;
    ledger: ReceiptLedger;
    metrics: WorkerMetrics;
    /** Drops the cached chain reads (after the test or the operator changed something on-chain). */
    refresh(): void;
    /** One pass of the claim loop, now. */
    runClaims(): Promise<ClaimOutcome[]>;
    /** Stops accepting, finishes in-flight requests, stops the claim loop, flushes and closes the ledger. */
    stop(): Promise<void>;
}

/** The receipt as the HTTP API carries it: every integer a decimal string. */
export function receiptJson(r: IssuedReceipt) {
    return {
        escrow: friendly(r.escrow), epoch: r.epoch.toString(), seq: r.seq.toString(), tokens: r.tokens.toString(), cost: r.cost.toString(),
        requestTokens: r.requestTokens.toString(), requestCost: r.requestCost.toString(),
        signature: r.signature.toString('hex'), boc: r.boc.toString('base64'),
    };
}

/** Friendly form of an address (bounceable, url-safe), cached per Address object: the same escrow
 *  objects come back from the parse cache on every request. */
const friendlyNames = new WeakMap<Address, string>();
function friendly(a: Address): string {
    let f = friendlyNames.get(a);
    if (f === undefined) {
        f = a.toString();
        friendlyNames.set(a, f);
    }
    return f;
}

/** Response ids: `chatcmpl-` + 24 hex digits, from a random block refilled every 4096 ids. */
const ID_BATCH = 4096;
let idBlock = Buffer.alloc(0);
let idNext = ID_BATCH;
function completionId(): string {
    if (idNext >= ID_BATCH) {
        idBlock = randomBytes(12 * ID_BATCH);
        idNext = 0;
    }
    const i = idNext++ * 12;
    return 'chatcmpl-' + idBlock.toString('hex', i, i + 12);
}

const ROUTE_METHODS: Record<string, string> = { '/v1/models': 'GET', '/attestation': 'GET', '/metrics': 'GET', '/healthz': 'GET', '/v1/chat/completions': 'POST' };
const KNOWN_ROUTES = new Set(Object.keys(ROUTE_METHODS));

/** Receipts between two `info` summary lines (each receipt is logged at `debug`). */
const RECEIPT_SUMMARY_EVERY = 1000;

interface Admitted {
    escrow: Address;
    snap: EscrowSnapshot;
    price: bigint;
    reserveKey: string;
    reserved: bigint;
}

export async function startWorkerNode(rawConfig: WorkerConfigInput | WorkerConfig, deps: WorkerDeps): Promise<WorkerNodeHandle> {
    const config = parseWorkerConfig(rawConfig);
    const log = deps.logger ?? createLogger(config.logLevel);
    const root = Address.parse(config.root);
    const operator = Address.parse(config.operator);
    const worker = await workerAddress(root, operator);
    const teeKeyInt = publicKeyToBigInt(deps.teeKey.publicKey);
    const ownBackend = deps.backend ? null : new OpenAICompatibleBackend({ baseUrl: config.backend.url, apiKey: deps.backendApiKey, timeoutMs: config.backend.timeoutMs });
    const backend: InferenceBackend = deps.backend ?? ownBackend!;
    const upstreamModel = config.backend.model ?? config.model;

    // TLS: given, from files, or fresh.
    let tls = deps.tls;
    if (!tls && config.tls) {
        try {
            tls = { certPem: readFileSync(config.tls.certFile, 'utf8'), keyPem: readFileSync(config.tls.keyFile, 'utf8') };
        } catch (e) {
            throw new Error(`cannot read the TLS certificate or key (tls.certFile / tls.keyFile): ${(e as Error).message}`);
        }
    }
    if (!tls) tls = await generateSelfSignedCert();
    const tlsKeyHash = tlsKeyHashOfCert(tls.certPem);

    // Attestation of (TEE key, measurement, TLS key) for this operator on this root.
    const now = await deps.chain.now();
    const wanted: Statement = {
        root, operator, issuedAt: now, expiresAt: now + config.attestationTtlSec,
        teeKey: teeKeyInt, measurement: config.measurement, tlsKeyHash, ...NO_QUOTE,
    };
    const { signed: attestation } = await deps.attestationProvider.attest(wanted);
    const got = attestation.statement;
    if (!verifySignedAttestation(attestation)) throw new Error('the attestation provider returned a statement with a bad verifier signature');
    if (!got.root.equals(root) || !got.operator.equals(operator) || got.teeKey !== teeKeyInt || got.tlsKeyHash !== tlsKeyHash || got.measurement !== config.measurement) {
        throw new Error('the attestation provider signed a statement for another root, operator, TEE key, TLS key or measurement');
    }
    if (!buildStatementCell(got).hash().equals(attestation.statementCell.hash())) throw new Error('the attestation statement cell does not match its fields');

    const ledger = new ReceiptLedger(config.dbPath);
    // Receipts of concurrent requests share one durable commit (groupCommit.ts); the writer's thread
    // signs them with the TEE key in the same round trip.
    const writer = new GroupCommitWriter(ledger, undefined, deps.teeKey);
    const metrics = createMetrics(() => ledger.unclaimedTotal());
    const escrows = new EscrowView(deps.chain, config.escrowCacheMs);
    const workerView = new WorkerView(deps.chain, worker, config.workerCacheMs);
    const claimLoop = new ClaimLoop({
        chain: deps.chain, sender: deps.operatorSender, ledger, escrows, threshold: config.claim.threshold, value: config.claim.value,
        intervalMs: config.claim.intervalMs, confirmTimeoutMs: config.claim.confirmTimeoutMs, logger: log, metrics, onClaim: deps.onClaim,
    });

    /** X-Cocoon-Escrow values already parsed (the same few clients send the same header again and again). */
    const parsedEscrows = new Map<string, Address>();
    const MAX_PARSED_ESCROWS = 10_000;
    /** Since the last `info` summary of receipts. */
    const summary = { receipts: 0, tokens: 0n, cost: 0n, since: Date.now() };
    /** Worst-case cost reserved by requests in progress, per escrow epoch. */
    const reservations = new Map<string, bigint>();
    const modelJson = JSON.stringify(config.model);
    const streamFlushMs = config.streamFlushMs;
    const chatDuration = metrics.duration.labels({ route: '/v1/chat/completions' });
    let inflight = 0;
    let stopping = false;
    const idle: (() => void)[] = [];

    // ------------------------------------------------------------------ admission

    async function admit(req: IncomingMessage, body: ChatBody, maxTokens: number): Promise<Admitted> {
        const header = req.headers['x-cocoon-escrow'];
        const value = Array.isArray(header) ? header[0] : header;
        if (!value) throw new HttpError(402, 'no escrow: send the header X-Cocoon-Escrow with the address of your ClientEscrow for this worker', 'payment_required', 'escrow_required');
        let escrow = parsedEscrows.get(value);
        if (!escrow) {
            try {
                escrow = Address.parse(value.trim());
            } catch {
                throw new HttpError(400, `X-Cocoon-Escrow is not a TON address: ${value.slice(0, 80)}`, 'invalid_request_error', 'invalid_escrow');
            }
            if (parsedEscrows.size >= MAX_PARSED_ESCROWS) parsedEscrows.clear();
            parsedEscrows.set(value, escrow);
        }
        const info = await workerView.get();
        if (!info || !info.active) throw new HttpError(503, 'this worker is not active on-chain (not registered, unbonding or attestation expired)', 'service_unavailable', 'worker_inactive');
        if (info.teeKey !== teeKeyInt) throw new HttpError(503, "the Worker contract holds another TEE key than this node's; the operator must re-attest", 'service_unavailable', 'tee_key_mismatch');
        const price = info.price;

        const snap = await escrows.get(escrow);
        if (!snap) throw new HttpError(402, `escrow ${escrow.toString()} does not exist on-chain: open it with OpenEscrow first`, 'payment_required', 'escrow_not_found');
        if (!snap.worker.equals(worker)) throw new HttpError(403, `escrow ${escrow.toString()} belongs to another worker (${snap.worker.toString()})`, 'permission_denied', 'wrong_worker');
        const st = snap.state;
        if (st.state === ESCROW_OPENING) throw new HttpError(402, 'the escrow is still opening: wait for the worker to confirm it on-chain', 'payment_required', 'escrow_not_open');
        if (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING) throw new HttpError(402, 'the escrow is not open', 'payment_required', 'escrow_not_open');
        if (st.state === ESCROW_CLOSING && BigInt(await deps.chain.now()) + BigInt(config.closingMarginSec) >= st.closeAt) {
            throw new HttpError(402, 'the escrow is closing and its claim window is (nearly) over: open a new escrow', 'payment_required', 'escrow_closing');
        }
        if (st.teeKey !== teeKeyInt) throw new HttpError(403, "the escrow holds another TEE key than this node's: send RefreshWorker to the escrow", 'permission_denied', 'escrow_key_mismatch');
        if (price > st.maxPrice) {
            throw new HttpError(403, `the worker's price ${price} nanoton per 1M tokens is above your escrow's cap ${st.maxPrice}`, 'permission_denied', 'price_above_cap');
        }
        const pos = writer.position(escrow, st.epoch);
        if (st.lastSeq > pos.seq) {
            metrics.errors.inc({ kind: 'ledger_behind_chain' });
            log.error({ escrow: escrow.toString(), chainSeq: st.lastSeq.toString(), ledgerSeq: pos.seq.toString() }, 'ledger is behind the chain: refusing to sign (would risk equivocation)');
            throw new HttpError(503, 'this node cannot serve this escrow right now (its receipt ledger is behind the chain)', 'service_unavailable', 'ledger_behind');
        }
        const reserveKey = `${escrow.toRawString()}/${st.epoch}`;
        // deposit + paid is what the client funded this epoch (a claim moves value from one to the
        // other); every receipt issued counts against it, claimed or not, and so does the worst case
        // of every request still in progress.
        const unspent = st.deposit + st.paid - pos.cost;
        if (st.deposit === 0n || unspent <= 0n) throw new HttpError(402, 'the escrow is empty: top it up (TopUpEscrow) or open a new one', 'payment_required', 'escrow_empty');
        const held = reservations.get(reserveKey) ?? 0n;
        const available = unspent - held;
        // The tokenizer is the node's dearest step per request: first try a bound that needs none
        // (UTF-8 bytes >= BPE tokens); only when that does not fit, count exactly. Either way the
        // request is held at no less than its worst case.
        let promptTokens = promptTokensUpperBound(body.messages);
        let worst = worstCaseCost(BigInt(promptTokens + maxTokens), price);
        if (available < worst) {
            promptTokens = countPromptTokens(body.messages);
            worst = worstCaseCost(BigInt(promptTokens + maxTokens), price);
        }
        if (available < worst) {
            throw new HttpError(402,
                `the escrow does not cover this request: worst case ${worst} nanoton ((${promptTokens} prompt + ${maxTokens} max_tokens) x ${price} per 1M), ` +
                `available ${available > 0n ? available : 0n} nanoton${held > 0n ? ` (${held} held by requests in progress)` : ''}`,
                'payment_required', 'insufficient_balance');
        }
        reservations.set(reserveKey, held + worst);
        return { escrow, snap, price, reserveKey, reserved: worst };
    }

    function release(a: Admitted) {
        const left = (reservations.get(a.reserveKey) ?? 0n) - a.reserved;
        if (left > 0n) reservations.set(a.reserveKey, left);
        else reservations.delete(a.reserveKey);
    }

    async function issue(a: Admitted, promptTokens: number, completionTokens: number): Promise<IssuedReceipt> {
        const r = await writer.issue({
            escrow: a.escrow, epoch: a.snap.state.epoch, requestTokens: BigInt(promptTokens + completionTokens), price: a.price,
            maxPrice: a.snap.state.maxPrice,
        });
        metrics.receipts.inc();
        metrics.tokensBy.add('prompt', () => ({ kind: 'prompt' }), promptTokens);
        metrics.tokensBy.add('completion', () => ({ kind: 'completion' }), completionTokens);
        if (log.isLevelEnabled('debug')) {
            log.debug({ escrow: friendly(r.escrow), epoch: r.epoch.toString(), seq: r.seq.toString(), requestTokens: r.requestTokens.toString(), requestCost: r.requestCost.toString(), cost: r.cost.toString() }, 'receipt issued');
        }
        summary.receipts++;
        summary.tokens += r.requestTokens;
        summary.cost += r.requestCost;
        if (summary.receipts >= RECEIPT_SUMMARY_EVERY) logSummary();
        return r;
    }

    function logSummary() {
        if (summary.receipts === 0) return;
        const now = Date.now();
        log.info({ receipts: summary.receipts, tokens: summary.tokens.toString(), cost: summary.cost.toString(), seconds: Math.round((now - summary.since) / 100) / 10 }, 'receipts issued');
        summary.receipts = 0;
        summary.tokens = 0n;
        summary.cost = 0n;
        summary.since = now;
    }

    // ------------------------------------------------------------------ routes

    const onTiming = deps.onChatTiming;

    async function chat(req: IncomingMessage, res: ServerResponse) {
        const t: ChatTiming | null = onTiming ? { stream: false, start: performance.now(), admitted: 0, backendDone: 0, receipt: 0, end: 0 } : null;
        const raw = await readBody(req, config.maxBodyBytes);
        let json: unknown;
        try {
            json = JSON.parse(raw.toString('utf8'));
        } catch {
            throw new HttpError(400, 'the request body is not valid JSON', 'invalid_request_error', 'invalid_json');
        }
        const parsed = parseChatBody(json);
        if (!parsed.success) throw new HttpError(400, `invalid chat completion request: ${describeIssues(parsed.error)}`, 'invalid_request_error', 'invalid_body');
        const body = parsed.data;
        if (body.model !== config.model) throw new HttpError(404, `model ${body.model} is not served here (this node serves ${config.model})`, 'invalid_request_error', 'model_not_found');
        const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? config.defaultMaxTokens;
        if (maxTokens > config.maxTokensLimit) throw new HttpError(400, `max_tokens ${maxTokens} is above this node's limit of ${config.maxTokensLimit}`, 'invalid_request_error', 'max_tokens_too_large');

        const admitted = await admit(req, body, maxTokens);
        if (t) {
            t.admitted = performance.now();
            t.stream = body.stream === true;
        }
        try {
            const upstream: ChatRequest = {
                model: upstreamModel, messages: body.messages, maxTokens,
                temperature: body.temperature ?? undefined, topP: body.top_p ?? undefined, stop: body.stop ?? undefined, seed: body.seed ?? undefined,
            };
            if (body.stream) await chatStream(req, res, admitted, upstream, t);
            else await chatWhole(res, admitted, upstream, t);
            if (t && t.receipt > 0) {
                t.end = performance.now();
                onTiming!(t);
            }
        } finally {
            release(admitted);
        }
    }

    async function chatWhole(res: ServerResponse, a: Admitted, upstream: ChatRequest, t: ChatTiming | null) {
        const abort = new AbortController();
        res.on('close', () => { if (!res.writableFinished) abort.abort(); });
        const result = await backend.complete(upstream, abort.signal).catch((e) => {
            throw backendHttpError(e);
        });
        if (t) t.backendDone = performance.now();
        const receipt = await issue(a, result.usage.promptTokens, result.usage.completionTokens);
        if (t) t.receipt = performance.now();
        const usage = { prompt_tokens: result.usage.promptTokens, completion_tokens: result.usage.completionTokens, total_tokens: result.usage.promptTokens + result.usage.completionTokens };
        sendJson(res, 200, {
            id: completionId(), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: config.model,
            choices: [{ index: 0, message: { role: 'assistant', content: result.content }, finish_reason: result.finishReason, logprobs: null }],
            usage, cocoon_receipt: receiptJson(receipt),
        }, { 'x-cocoon-receipt': receipt.boc.toString('base64') });
    }

    async function chatStream(req: IncomingMessage, res: ServerResponse, a: Admitted, upstream: ChatRequest, t: ChatTiming | null) {
        const abort = new AbortController();
        res.on('close', () => { if (!res.writableFinished) abort.abort(); });
        const id = completionId();
        const created = Math.floor(Date.now() / 1000);
        const chunk = (extra: Record<string, unknown>) => ({ id, object: 'chat.completion.chunk', created, model: config.model, ...extra });
        // Events are collected and written together: at most one write (one TLS record, one syscall)
        // per turn of the event loop (setImmediate runs after the poll phase has handed over every
        // upstream chunk that arrived) and per streamFlushMs. The first event after a quiet spell of
        // streamFlushMs goes out in the same turn, so a model slower than that sees no delay; a fast
        // one (the bench's 1 ms per token) gets a few writes per answer instead of one per token.
        // Same bytes, same order.
        let pending = '';
        let flushQueued = false;
        let flushTimer: NodeJS.Timeout | null = null;
        let lastFlush = -Infinity;
        const flush = () => {
            flushQueued = false;
            flushTimer = null;
            lastFlush = performance.now();
            const out = pending;
            pending = '';
            if (out.length > 0 && !res.writableEnded && !res.destroyed) res.write(out);
        };
        const emit = (event: string) => {
            pending += event;
            if (flushQueued) return;
            flushQueued = true;
            const wait = lastFlush + streamFlushMs - performance.now();
            if (wait <= 0) setImmediate(flush);
            else flushTimer = setTimeout(flush, wait);
        };
        /** Ends the response with what is pending, then `last`. */
        const finish = (last = '') => {
            if (flushTimer) clearTimeout(flushTimer);
            flushTimer = null;
            const out = pending + last;
            pending = '';
            if (res.writableEnded) return;
            if (out.length > 0 && !res.destroyed) res.end(out);
            else res.end();
        };
        const send = (o: unknown) => emit(`data: ${JSON.stringify(o)}\n\n`);
        // A content delta, serialised as send(chunk({choices: [{index: 0, delta: {content}, logprobs: null, finish_reason: null}]}))
        // would, byte for byte, without building and walking the object for every token.
        const deltaHead = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"choices":[{"index":0,"delta":{"content":`;
        const sendDelta = (content: string) => emit(deltaHead + JSON.stringify(content) + '},"logprobs":null,"finish_reason":null}]}\n\n');
        let started = false;
        const start = () => {
            if (started) return;
            started = true;
            res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' });
            send(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }));
        };
        let text = '';
        let end: { finishReason: string; promptTokens: number; completionTokens: number } | null = null;
        let failure: unknown = null;
        try {
            for await (const ev of backend.stream(upstream, abort.signal)) {
                start();
                if (ev.type === 'delta') {
                    text += ev.content;
                    sendDelta(ev.content);
                } else {
                    end = { finishReason: ev.finishReason, promptTokens: ev.usage.promptTokens, completionTokens: ev.usage.completionTokens };
                }
            }
        } catch (e) {
            failure = e;
        }
        if (!end) {
            // Aborted by the client or failed upstream: what was generated is still billed (the receipt
            // stays in the ledger and is claimable); with nothing generated, nothing is billed.
            const completionTokens = countTextTokens(text);
            const r = completionTokens > 0 ? await issue(a, countPromptTokens(upstream.messages), completionTokens) : null;
            if (abort.signal.aborted) {
                log.info({ escrow: a.escrow.toString(), billed: r ? r.requestTokens.toString() : '0' }, 'client went away during a stream');
                pending = '';
                if (flushTimer) clearTimeout(flushTimer);
                if (!res.writableEnded) res.end();
                return;
            }
            const err = backendHttpError(failure ?? new BackendError('the inference backend ended the stream without finishing'));
            if (!started) throw err;
            if (r) send(chunk({ choices: [], usage: usageJson(r.requestTokens, completionTokens), cocoon_receipt: receiptJson(r) }));
            send(errorBody(err));
            finish();
            return;
        }
        start();
        send(chunk({ choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: end.finishReason }] }));
        if (t) t.backendDone = performance.now();
        const r = await issue(a, end.promptTokens, end.completionTokens);
        if (t) t.receipt = performance.now();
        send(chunk({ choices: [], usage: usageJson(r.requestTokens, end.completionTokens), cocoon_receipt: receiptJson(r) }));
        finish('data: [DONE]\n\n');
    }

    function usageJson(requestTokens: bigint, completionTokens: number) {
        const total = Number(requestTokens);
        return { prompt_tokens: total - completionTokens, completion_tokens: completionTokens, total_tokens: total };
    }

    async function attestationRoute(res: ServerResponse) {
        let info = null;
        try {
            info = await workerView.get();
        } catch (e) {
            log.warn({ err: (e as Error).message }, 'cannot read the Worker contract');
        }
        sendJson(res, 200, {
            root: root.toString(), operator: operator.toString(), worker: worker.toString(), model: config.model,
            measurement: hex256(config.measurement), teeKey: hex256(teeKeyInt), tlsKeyHash: hex256(tlsKeyHash),
            expiresAt: attestation.statement.expiresAt, issuedAt: attestation.statement.issuedAt,
            attestationBoc: attestation.cell.toBoc().toString('base64'),
            price: (info?.price ?? 0n).toString(), active: info?.active ?? false,
        });
    }

    async function route(req: IncomingMessage, res: ServerResponse): Promise<string> {
        const path = (req.url ?? '/').split('?')[0];
        const method = req.method ?? 'GET';
        const known = ROUTE_METHODS;
        if (!KNOWN_ROUTES.has(path)) throw new HttpError(404, `no route ${method} ${path}`, 'invalid_request_error', 'not_found');
        if (known[path] !== method) throw new HttpError(405, `${path} takes ${known[path]}`, 'invalid_request_error', 'method_not_allowed');
        switch (path) {
            case '/v1/models':
                sendJson(res, 200, { object: 'list', data: [{ id: config.model, object: 'model', created: attestation.statement.issuedAt, owned_by: 'cocoon' }] });
                return path;
            case '/attestation':
                await attestationRoute(res);
                return path;
            case '/metrics': {
                const text = await metrics.registry.metrics();
                res.writeHead(200, { 'content-type': metrics.registry.contentType });
                res.end(text);
                return path;
            }
            case '/healthz':
                sendJson(res, stopping ? 503 : 200, { ok: !stopping });
                return path;
            default: {
                if (stopping) throw new HttpError(503, 'the node is shutting down', 'service_unavailable', 'shutting_down');
                if (inflight >= config.maxInflight) throw new HttpError(429, `too many requests in progress (${config.maxInflight}); retry shortly`, 'rate_limit_error', 'too_many_requests');
                inflight++;
                metrics.inflight.set(inflight);
                const t = chatDuration.startTimer();
                try {
                    await chat(req, res);
                } finally {
                    t();
                    inflight--;
                    metrics.inflight.set(inflight);
                    if (inflight === 0) idle.splice(0).forEach((f) => f());
                }
                return path;
            }
        }
    }

    // ------------------------------------------------------------------ server

    const sockets = new Set<Socket>();
    const server: Server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
        let routeName = 'unknown';
        route(req, res)
            .then((r) => { routeName = r; })
            .catch((e) => {
                const err = e instanceof HttpError ? e : internalError(e);
                if (!(e instanceof HttpError)) log.error({ err: (e as Error)?.message, path: req.url }, 'request failed');
                if (err.status >= 500) metrics.errors.inc({ kind: err.code ?? 'internal' });
                routeName = (req.url ?? '/').split('?')[0];
                if (!res.headersSent && !res.destroyed) sendError(res, err, err.status === 413 ? { connection: 'close' } : {});
                else if (!res.writableEnded) res.end();
            })
            .finally(() => {
                const route = KNOWN_ROUTES.has(routeName) ? routeName : 'other';
                const status = res.statusCode;
                metrics.requestsBy.add(`${route} ${status}`, () => ({ route, status: String(status) }));
            });
    });
    server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
    });
    server.on('tlsClientError', (e) => log.debug({ err: e.message }, 'TLS handshake failed'));
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
            server.off('error', reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `https://${host}:${port}`;
    claimLoop.start();
    const settings = ledger.settings();
    log.info({
        url, worker: worker.toString(), backend: backend.name, attestation: deps.attestationProvider.kind, tlsKeyHash: hex256(tlsKeyHash),
        teeKey: hex256(teeKeyInt), ledger: { path: config.dbPath, ...settings }, config: describeConfig(config),
    }, 'worker node started');

    let stopped: Promise<void> | null = null;
    const stop = () => {
        if (stopped) return stopped;
        stopped = (async () => {
            stopping = true;
            const closed = new Promise<void>((resolve) => server.close(() => resolve()));
            server.closeIdleConnections();
            if (inflight > 0) {
                await Promise.race([
                    new Promise<void>((resolve) => idle.push(resolve)),
                    new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref()),
                ]);
            }
            await claimLoop.stop();
            server.closeAllConnections();
            for (const s of sockets) s.destroy();
            await closed;
            await writer.close();
            logSummary();
            ledger.close();
            ownBackend?.close();
            log.info({ url }, 'worker node stopped');
        })();
        return stopped;
    };

    return {
        url, port, config, worker, certPem: tls.certPem, tlsKeyHash, attestation, ledger, metrics,
        refresh: () => {
            escrows.invalidate();
            workerView.invalidate();
        },
        runClaims: () => claimLoop.runOnce(),
        stop,
    };
}

function backendHttpError(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    if (e instanceof BackendError) return new HttpError(e.status === 429 ? 429 : 502, e.message, 'upstream_error', 'backend_error');
    if (e instanceof Error && e.name === 'TimeoutError') return new HttpError(504, 'the inference backend timed out', 'upstream_error', 'backend_timeout');
    return new HttpError(502, `the inference backend failed: ${(e as Error)?.message ?? String(e)}`, 'upstream_error', 'backend_error');
}

function internalError(e: unknown): HttpError {
    return new HttpError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', 'internal');
}

/** SIGINT/SIGTERM: graceful stop, then exit. */
export function stopOnSignals(handle: WorkerNodeHandle, log: Logger): void {
    let once = false;
    const onSignal = (sig: NodeJS.Signals) => {
        if (once) return;
        once = true;
        log.info({ signal: sig }, 'stopping');
        handle.stop().then(() => process.exit(0), (e) => {
            log.error({ err: (e as Error).message }, 'unclean stop');
            process.exit(1);
        });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
}


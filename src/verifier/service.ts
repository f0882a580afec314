// `cocoon-verifier serve`: the HTTP service a worker node's quote verifier calls.
//   POST /v1/check   verify a quote (and, given a statement, its REPORTDATA): facts and maxExpiresAt
//   POST /v1/attest  verify, then sign the statement with the quote's facts
//   GET  /v1/info    this verifier's public key, root and policy
//   GET  /healthz, GET /metrics
// Input is validated (zod) under a body size limit and a per-peer token bucket; a refusal is a 4xx
// with a machine-readable reason; one structured log line per request, never the key or the body.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Address } from '@ton/core';
import pino, { Logger } from 'pino';
import { buildStatementCell, keyBinding, signStatementWith } from '../sdk/attestation';
import { Ed25519Key, publicKeyToBigInt } from '../sdk/ed25519';
import { HttpError, readBody, sendJson } from '../worker/http';
import { REDACTED_PATHS } from '../worker/logger';
import { AttestResponse, CheckResponse, Refusal, RefusalReason, attestRequestSchema, checkRequestSchema, hex0x } from './api';
import { Collateral, parseCollateral } from './collateral';
import { parseServiceConfig, ServiceConfig, ServiceConfigInput } from './config';
import { combineWhitelists, MeasurementWhitelist, StaticWhitelist } from './measurements';
import { createVerifierMetrics, VerifierMetrics } from './metrics';
import { remoteWhitelist } from './onchain';
import { parseTdxQuote } from './quote';
import { TokenBuckets } from './rateLimit';
import { VerificationError } from './reasons';
import { CollateralSource, CollateralUnavailableError, FileCollateralSource, PccsCollateralSource } from './sources';
import { factsOf, statementFor } from './statement';
import { TrustAnchor, intelTrustAnchor } from './trust';
import { verifyQuote, Verdict } from './verify';

export interface VerifierServiceDeps {
    /** The signing key (signingKey.ts); only its public key ever leaves this module. */
    key: Ed25519Key;
    /** The root's on-chain whitelist; default: built from config.chain, none without it. */
    chainWhitelist?: MeasurementWhitelist | null;
    /** Default: config.collateral.file or .pccsUrl. */
    collateralSource?: CollateralSource | null;
    /** TESTS ONLY: another root than Intel's. Not reachable from the config or the CLI. */
    anchor?: TrustAnchor;
    /** Milliseconds since the epoch; default Date.now. */
    clock?: () => number;
    logger?: Logger;
}

export interface VerifierServiceHandle {
    url: string;
    port: number;
    config: ServiceConfig;
    verifierKey: bigint;
    metrics: VerifierMetrics;
    /** Stops accepting, lets requests in progress finish (up to shutdownGraceMs), closes. */
    stop(): Promise<void>;
}

export function createVerifierLogger(level: string, destination?: pino.DestinationStream): Logger {
    return pino({ name: 'cocoon-verifier', level, redact: { paths: [...REDACTED_PATHS, 'key', '*.key'], censor: '[redacted]' } }, destination);
}

class Refused extends Error {
    constructor(readonly status: number, readonly body: Refusal) {
        super(body.message);
    }
}

const refuse = (status: number, reason: RefusalReason, message: string, extra: Partial<Refusal> = {}) =>
    new Refused(status, { accepted: false, reason, message, ...extra });

/** HTTP status of a verdict's refusal: 503 when the verifier could not look (try again), else 422. */
function statusOfVerdict(v: Verdict): number {
    return v.reason === 'whitelist_unavailable' ? 503 : 422;
}

/** What a request's log line carries beyond route and status. */
interface LogCtx {
    quoteHash?: string;
}

const ROUTES: Record<string, string> = { '/v1/attest': 'POST', '/v1/check': 'POST', '/v1/info': 'GET', '/healthz': 'GET', '/metrics': 'GET' };

export async function startVerifierService(raw: ServiceConfigInput, deps: VerifierServiceDeps): Promise<VerifierServiceHandle> {
    const config = parseServiceConfig(raw);
    const log = deps.logger ?? createVerifierLogger(config.logLevel);
    const clock = deps.clock ?? (() => Date.now());
    const anchor = deps.anchor ?? intelTrustAnchor();
    const root = Address.parse(config.root);
    const verifierKey = publicKeyToBigInt(deps.key.publicKey);

    const chainWhitelist = deps.chainWhitelist !== undefined ? deps.chainWhitelist
        : config.chain ? remoteWhitelist({ ...config.chain, root, apiKey: process.env.COCOON_TONCENTER_API_KEY }) : null;
    const staticList = config.policy.allowedMeasurements.length ? new StaticWhitelist(config.policy.allowedMeasurements) : null;
    const whitelist = combineWhitelists([staticList, chainWhitelist]);
    if (!whitelist) throw new Error('no image whitelist: set chain (the root\'s whitelist) and/or policy.allowedMeasurements; a verifier must not sign any image');

    const source: CollateralSource | null = deps.collateralSource !== undefined ? deps.collateralSource
        : config.collateral.file ? new FileCollateralSource(config.collateral.file)
        : config.collateral.pccsUrl ? new PccsCollateralSource(config.collateral.pccsUrl, config.collateral)
        : null;
    if (!source && !config.collateral.acceptFromRequest) throw new Error('no collateral source: set collateral.file or collateral.pccsUrl, or collateral.acceptFromRequest');

    const metrics = createVerifierMetrics({ processMetrics: true });
    const buckets = new TokenBuckets(config.rateLimit, clock);
    const nowSec = () => Math.floor(clock() / 1000);

    async function readJson(req: IncomingMessage): Promise<unknown> {
        const body = await readBody(req, config.maxBodyBytes);
        try {
            return JSON.parse(body.toString('utf8'));
        } catch {
            throw refuse(400, 'bad_request', 'the body is not JSON');
        }
    }

    function validate<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: (string | number)[]; message: string }[] } } }, json: unknown): T {
        const r = schema.safeParse(json);
        if (r.success) return r.data;
        const issues = r.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
        throw refuse(400, 'bad_request', 'invalid request: ' + issues.map((i) => `${i.path}: ${i.message}`).join('; '), { issues });
    }

    async function collateralFor(quote: Buffer, given: Record<string, unknown> | undefined): Promise<Collateral | null> {
        if (given) {
            if (!config.collateral.acceptFromRequest) throw refuse(400, 'bad_request', 'this verifier takes no collateral from requests (it uses its own source): leave collateral out');
            try {
                return parseCollateral(given);
            } catch (e) {
                throw refuse(422, 'bad_collateral', (e as Error).message);
            }
        }
        if (!source) return null;
        let parsed;
        try {
            parsed = parseTdxQuote(quote);
        } catch (e) {
            throw refuse(422, 'bad_quote', (e as Error).message);
        }
        try {
            return await source.get(parsed);
        } catch (e) {
            if (e instanceof CollateralUnavailableError) throw refuse(503, 'collateral_unavailable', e.message);
            if (e instanceof VerificationError) throw refuse(422, e.reason, `collateral from ${source.describe}: ${e.message}`);
            throw e;
        }
    }

    async function verify(route: string, quote: Buffer, collateral: Collateral | null, expectedReportData?: Buffer): Promise<Verdict> {
        const t0 = performance.now();
        const v = await verifyQuote(quote, collateral, { now: nowSec(), anchor, policy: config.policy, whitelist, expectedReportData });
        metrics.verifySeconds.observe((performance.now() - t0) / 1000);
        metrics.verdicts.inc({ route, result: v.accepted ? 'accepted' : 'refused', reason: v.reason ?? '' });
        if (!v.accepted) throw refuse(statusOfVerdict(v), v.reason!, v.message);
        return v;
    }

    function checkRoot(r: Address) {
        if (!r.equals(root)) throw refuse(422, 'wrong_root', `this verifier attests for the root ${root.toString()}, not ${r.toString()}`);
    }

    async function check(req: IncomingMessage, ctx: LogCtx): Promise<CheckResponse> {
        const r = validate(checkRequestSchema, await readJson(req));
        if (r.statement) checkRoot(r.statement.root);
        const v = await verify('/v1/check', r.quote, await collateralFor(r.quote, r.collateral), r.statement ? keyBinding(r.statement) : undefined);
        ctx.quoteHash = v.quoteHash;
        const facts = factsOf(v);
        return { accepted: true, facts, maxExpiresAt: facts.maxExpiresAt, checked: v.checked, skipped: v.skipped };
    }

    async function attest(req: IncomingMessage, ctx: LogCtx): Promise<AttestResponse> {
        const r = validate(attestRequestSchema, await readJson(req));
        const st = r.statement;
        checkRoot(st.root);
        const now = nowSec();
        if (Math.abs(st.issuedAt - now) > config.maxClockSkewSec) {
            throw refuse(422, 'issued_at_skew', `issuedAt ${st.issuedAt} is ${st.issuedAt - now} s from this verifier's clock (${now}); the limit is ±${config.maxClockSkewSec} s`);
        }
        const v = await verify('/v1/attest', r.quote, await collateralFor(r.quote, r.collateral), keyBinding(st));
        ctx.quoteHash = v.quoteHash;
        const facts = factsOf(v);
        if (st.expiresAt > facts.maxExpiresAt) {
            throw refuse(422, 'expires_too_late', `expiresAt ${st.expiresAt} is after the latest this verifier signs now, ${facts.maxExpiresAt} (bound by the ${v.leaseBoundBy})`, { maxExpiresAt: facts.maxExpiresAt });
        }
        const statement = statementFor(st, facts);
        const sig = signStatementWith(statement, deps.key);
        metrics.signatures.inc();
        return {
            accepted: true, verifierKey: hex0x(sig.verifierKey, 32), signature: sig.signature.toString('hex'),
            statementBoc: buildStatementCell(statement).toBoc().toString('base64'), facts,
        };
    }

    const inflight = new Set<Promise<void>>();
    let stopping = false;

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const t0 = performance.now();
        const path = (req.url ?? '/').split('?')[0];
        const route = ROUTES[path] ? path : 'other';
        const peer = req.socket.remoteAddress ?? 'unknown';
        const ctx: LogCtx = {};
        let status = 200;
        let reason: string | undefined;
        try {
            if (!ROUTES[path]) throw refuse(404, 'not_found', `no route ${path}: POST /v1/check, POST /v1/attest, GET /v1/info, /healthz, /metrics`);
            if (req.method !== ROUTES[path]) throw refuse(405, 'method_not_allowed', `${path} takes ${ROUTES[path]}`);
            if (path === '/healthz') return sendJson(res, stopping ? 503 : 200, { ok: !stopping, verifierKey: hex0x(verifierKey, 32) });
            if (path === '/metrics') {
                const text = await metrics.registry.metrics();
                res.writeHead(200, { 'content-type': metrics.registry.contentType });
                res.end(text);
                return;
            }
            if (path === '/v1/info') {
                return sendJson(res, 200, {
                    verifierKey: hex0x(verifierKey, 32), root: root.toString(), rootKeyId: anchor.keyId, whitelist: whitelist!.source,
                    collateral: source?.describe ?? null, acceptsRequestCollateral: config.collateral.acceptFromRequest,
                    policy: config.policy, maxClockSkewSec: config.maxClockSkewSec,
                });
            }
            if (stopping) throw refuse(503, 'internal', 'the verifier is shutting down');
            const wait = buckets.take(peer);
            if (wait > 0) {
                metrics.rateLimited.inc();
                res.setHeader('retry-after', String(wait));
                throw refuse(429, 'rate_limited', `too many requests from ${peer}: ${config.rateLimit.burst} at once, then ${config.rateLimit.perSec}/s; retry in ${wait} s`);
            }
            const out = path === '/v1/attest' ? await attest(req, ctx) : await check(req, ctx);
            sendJson(res, 200, out);
        } catch (e) {
            let r: Refused;
            if (e instanceof Refused) r = e;
            else if (e instanceof HttpError) r = refuse(e.status, e.status === 413 ? 'body_too_large' : 'bad_request', e.message);
            else {
                log.error({ err: (e as Error).message, route }, 'internal error');
                r = refuse(500, 'internal', 'internal error (logged)');
            }
            status = r.status;
            reason = r.body.reason;
            if (!res.headersSent) sendJson(res, r.status, r.body);
        } finally {
            metrics.requests.inc({ route, status: String(status) });
            if (route !== '/metrics' && route !== '/healthz') {
                log.info({ route, method: req.method, status, peer, reason, quoteHash: ctx.quoteHash, ms: Math.round(performance.now() - t0) }, 'request');
            }
        }
    }

    const server: Server = createServer((req, res) => {
        const p = handle(req, res).finally(() => inflight.delete(p));
        inflight.add(p);
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    const sockets = new Set<Socket>();
    server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host}:${port}`;
    log.info({ url, verifierKey: hex0x(verifierKey, 32), root: root.toString(), whitelist: whitelist.source, collateral: source?.describe ?? 'request only', policy: config.policy }, 'verifier listening');

    let stopped: Promise<void> | null = null;
    async function stop(): Promise<void> {
        stopped ??= (async () => {
            stopping = true;
            const closed = new Promise<void>((r) => server.close(() => r()));
            server.closeIdleConnections();
            const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
            await Promise.race([Promise.allSettled([...inflight]), delay(config.shutdownGraceMs)]);
            server.closeIdleConnections(); // those whose last request just finished
            await Promise.race([closed, delay(1000)]); // responses still being written get a moment
            for (const s of sockets) s.destroy();
            await closed;
            log.info('verifier stopped');
        })();
        return stopped;
    }

    return { url, port, config, verifierKey, metrics, stop };
}

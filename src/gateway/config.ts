// The gateway's configuration, validated at the edge: every amount in nanoton (bigint), every time
// in seconds or milliseconds as its name says. parseGatewayConfig fills the defaults and refuses
// anything inconsistent with a message naming the field and what to do.
import { isAbsolute, relative, resolve } from 'node:path';
import { z } from 'zod';


const positiveNano = z.bigint().positive();

export const GatewayConfigSchema = z.object({
    /** Loopback only: the gateway holds the wallet's API keys and spends its escrows. */
    host: z.string().default('127.0.0.1'),
    /** 0: any free port. */
    port: z.number().int().min(0).max(65535).default(8080),
    /** If set, callers must send `Authorization: Bearer <apiKey>` (an OpenAI client's apiKey). */
    apiKey: z.string().min(16, 'a local API key needs at least 16 characters').max(512).optional(),

    /** Most TON deposited at once across all escrows (sum of the on-chain deposits), nanoton. */
    budget: positiveNano,
    /** What an escrow is opened with, and topped up back to, nanoton. */
    perWorkerDeposit: positiveNano,
    /** Top up when the escrow's credit (deposit + paid - receipts) falls below this fraction of perWorkerDeposit. */
    topUpBelow: z.number().gt(0).lt(1).default(0.25),
    /**
     * The user's price cap, nanoton per 1M tokens of every token class (prompt, cached, completion): no
     * worker above it in any class is used; escrows are opened with it as the cap of each class.
     */
    maxPrice: positiveNano,
    /** The budget must leave room for escrows with this many workers (failover), and /healthz wants this many usable. */
    minWorkers: z.number().int().min(1).max(64).default(1),
    /** Close an escrow after this long without a request (chain time), then withdraw after its dispute window. */
    idleCloseSec: z.number().int().min(1).default(3600),
    /** Skip workers whose attestation lease ends within this many seconds. */
    leaseMarginSec: z.number().int().min(0).default(300),
    /** A worker that failed before answering is skipped this long. */
    cooldownSec: z.number().int().min(0).default(30),
    /** Keep a conversation (same first messages, or the same `user`) on the same worker while it is usable. */
    sticky: z.boolean().default(false),
    /** Conversations remembered for stickiness (least recently used dropped first). */
    stickyMax: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Requests queued on one escrow at most (an escrow's requests run one after another: its receipts chain). */
    maxQueuePerWorker: z.number().int().min(1).max(1024).default(4),

    maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    bodyTimeoutMs: z.number().int().min(100).default(10_000),
    /** One worker request: no byte from the worker for this long fails it. */
    requestTimeoutMs: z.number().int().min(100).default(120_000),
    /** Requests in progress at once (more get 429). */
    maxInflight: z.number().int().min(1).max(100_000).default(64),
    /** max_tokens assumed for the worst-case cost when the request sets none (the worker node's default). */
    defaultMaxTokens: z.number().int().min(1).default(1024),
    /** Re-read the list of workers this often. */
    refreshSec: z.number().int().min(1).default(30),
    /** Escrow upkeep (idle close, withdrawal, top-ups) this often. */
    tickSec: z.number().int().min(1).default(15),
    /** Shutdown waits this long for requests in progress. */
    shutdownGraceMs: z.number().int().min(0).default(10_000),

    /** Latest receipt per escrow and the dropped workers (mode 0600, outside the working directory). */
    stateDir: z.string().min(1),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type GatewayConfigInput = z.input<typeof GatewayConfigSchema>;
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;

export class GatewayConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'GatewayConfigError';
    }
}

export function isLoopback(host: string): boolean {
    return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** True when `path` is inside `dir` (or is it). */
export function isInside(path: string, dir: string): boolean {
    const rel = relative(resolve(dir), resolve(path));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export function parseGatewayConfig(input: GatewayConfigInput, cwd = process.cwd()): GatewayConfig {
    const r = GatewayConfigSchema.safeParse(input);
    if (!r.success) {
        const i = r.error.issues[0];
        throw new GatewayConfigError(`gateway config: ${i.path.join('.') || '(root)'}: ${i.message}`);
    }
    const c = r.data;
    if (!isLoopback(c.host)) {
        throw new GatewayConfigError(`gateway config: host ${c.host} is not a loopback address; the gateway spends your escrows for whoever reaches it, so it listens on 127.0.0.1 or ::1 only`);
    }
    if (c.perWorkerDeposit > c.budget) {
        throw new GatewayConfigError(`gateway config: perWorkerDeposit (${c.perWorkerDeposit}) is above the budget (${c.budget}); lower it or raise the budget`);
    }
    if (c.perWorkerDeposit * BigInt(c.minWorkers) > c.budget) {
        throw new GatewayConfigError(`gateway config: the budget (${c.budget}) leaves no room for escrows with minWorkers=${c.minWorkers} workers of ${c.perWorkerDeposit} each; raise the budget or lower minWorkers`);
    }
    if (isInside(c.stateDir, cwd)) {
        throw new GatewayConfigError(`gateway config: stateDir ${c.stateDir} is inside the working directory; keep receipts outside it (default ~/.cocoon/gateway)`);
    }
    return c;
}

/** The config as it may be logged (the local API key is never shown). */
export function describeGatewayConfig(c: GatewayConfig): Record<string, unknown> {
    const { apiKey, ...rest } = c;
    const out: Record<string, unknown> = { ...rest, localApiKey: apiKey ? 'set' : 'none' };
    for (const [k, v] of Object.entries(out)) if (typeof v === 'bigint') out[k] = v.toString();
    return out;
}


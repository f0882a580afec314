// The worker node's configuration, validated once at start. Secrets (the TEE key seed, the
// operator's wallet key, an upstream API key) are not part of it: they come through WorkerDeps or
// the CLI's environment, so the config can always be logged.
import { z } from 'zod';
import { Address } from '@ton/core';

const address = z.string().refine((s) => {
    try {
        Address.parse(s);
        return true;
    } catch {
        return false;
    }
}, 'must be a TON address (raw 0:… or user-friendly)');

const nanoton = z
    .union([z.string(), z.number().int(), z.bigint()])
    .transform((v, ctx) => {
        try {
            const b = BigInt(v);
            if (b < 0n) throw new Error();
            return b;
        } catch {
            ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a non-negative integer amount in nanoton' });
            return z.NEVER;
        }
    });

const hex256 = z
    .string()
    .regex(/^0x[0-9a-fA-F]{1,64}$/, 'must be 0x followed by up to 64 hex digits')
    .transform((s) => BigInt(s));

const ms = z.number().int().nonnegative();

export const workerConfigSchema = z
    .object({
        /** Public model name clients ask for (GET /v1/models lists it). */
        model: z.string().min(1),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
        backend: z.object({
            /** OpenAI-compatible base URL of the inference engine, including /v1. */
            url: z.string().url(),
            /** The engine's own model name, if it differs from `model`. */
            model: z.string().min(1).optional(),
            timeoutMs: ms.default(120_000),
        }),
        /** The root contract of the network. */
        root: address,
        /** The operator's wallet: owner of this node's Worker contract and receiver of payouts. */
        operator: address,
        /** TEE measurement of this node's image (whitelisted by the root). */
        measurement: hex256,
        attestationTtlSec: z.number().int().positive().default(7 * 86400),
        tls: z
            .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
            .optional(),
        /** SQLite file of the receipt ledger (the node's only state). */
        dbPath: z.string().min(1),
        maxBodyBytes: z.number().int().positive().default(1024 * 1024),
        /** max_tokens used when a request names none. */
        defaultMaxTokens: z.number().int().positive().default(1024),
        /** Largest max_tokens accepted. */
        maxTokensLimit: z.number().int().positive().default(32_768),
        /** Concurrent chat requests before 429. */
        maxInflight: z.number().int().positive().default(64),
        /**
         * A stream is written to the client at most once per this many ms: tokens that come faster
         * (a fast model) go out together, one TLS record and one syscall; a token after a quiet spell
         * this long is written at once, so a slower model sees no delay. 0 = every turn of the event loop.
         */
        streamFlushMs: ms.max(1000).default(10),
        /** TTL of cached escrow state read from the chain. */
        escrowCacheMs: ms.default(2_000),
        /** TTL of this node's own Worker contract info (price, key, status). */
        workerCacheMs: ms.default(10_000),
        /** Refuse a CLOSING escrow this many seconds before its closeAt (time left to claim). */
        closingMarginSec: z.number().int().nonnegative().default(600),
        claim: z
            .object({
                /** Claim an escrow once its unclaimed receipts are worth this much (nanoton). */
                threshold: nanoton.default(1_000_000_000n),
                /** How often the claim loop runs. */
                intervalMs: z.number().int().positive().default(30_000),
                /** TON attached to each Claim (the rest comes back to the operator). */
                value: nanoton.default(50_000_000n),
                /** How long to wait for a Claim to show on-chain. */
                confirmTimeoutMs: z.number().int().positive().default(90_000),
            })
            .default({}),
        /** In-flight requests get this long to finish at shutdown. */
        shutdownGraceMs: ms.default(10_000),
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .strict()
    .superRefine((c, ctx) => {
        if (c.defaultMaxTokens > c.maxTokensLimit) {
            ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['defaultMaxTokens'], message: 'must not exceed maxTokensLimit' });
        }
    });

export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
export type WorkerConfig = z.output<typeof workerConfigSchema>;

export class ConfigError extends Error {
    constructor(readonly issues: { path: string; message: string }[]) {
        super('invalid worker node configuration:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'));
        this.name = 'ConfigError';
    }
}

/** Validates a raw config; throws ConfigError naming every bad field. */
export function parseWorkerConfig(raw: unknown): WorkerConfig {
    const r = workerConfigSchema.safeParse(raw);
    if (r.success) return r.data;
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message })));
}

/** The config as it may be logged (it holds no secrets; bigints as strings). */
export function describeConfig(c: WorkerConfig): Record<string, unknown> {
    return JSON.parse(JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

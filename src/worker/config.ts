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

const rate = (burst: number, perSec: number) =>
    z.object({ burst: z.number().int().min(1), perSec: z.number().positive() }).strict().default({ burst, perSec });

/** What a model is served for: the OpenAI routes it answers. */
export const CAPABILITIES = ['chat', 'completions', 'embeddings'] as const;
export type Capability = (typeof CAPABILITIES)[number];

const modelName = z.string().min(1).max(64).regex(/^[^,\s](?:[^,]*[^,\s])?$/, 'a model name has no commas and no spaces at either end (as the root lists it)');

/**
 * What the engine supports beyond plain chat; requests using anything else get 400 (never silently
 * dropped). Default: tools and response_format (vLLM, SGLang, llama.cpp, Ollama), no logprobs.
 */
const features = z
    .object({ tools: z.boolean().default(true), responseFormat: z.boolean().default(true), logprobs: z.boolean().default(false) })
    .strict()
    .default({});

const upstream = z.object({
    /** OpenAI-compatible base URL of one engine (one GPU, one process), including /v1. */
    url: z.string().url(),
    /** The engine's own model name, if it differs from the public one. */
    model: z.string().min(1).optional(),
}).strict();

const servedModel = z.object({
    /** Public model name clients ask for; the root must list it for this node's measurement. */
    name: modelName,
    /** The engines serving it: each call goes to the least loaded healthy one. */
    upstreams: z.array(upstream).min(1).max(64),
    /** The routes it is served on (default chat and completions; an embedding model: ["embeddings"]). */
    capabilities: z.array(z.enum(CAPABILITIES)).min(1).default(['chat', 'completions']),
    features,
    timeoutMs: ms.default(120_000),
}).strict();

export type ServedModelConfig = z.output<typeof servedModel>;

export const workerConfigSchema = z
    .object({
        /**
         * One model (with `backend`): the public model name clients ask for. With `models`, the first
         * model's name is filled in (it names the node in /attestation).
         */
        model: modelName.optional(),
        /** Several models, each with its upstreams and capabilities. Give either this or model + backend. */
        models: z.array(servedModel).min(1).max(16).optional(),
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8443),
        /** One model's single engine (the short form of `models`). */
        backend: z.object({
            /** OpenAI-compatible base URL of the inference engine, including /v1. */
            url: z.string().url(),
            /** The engine's own model name, if it differs from `model`. */
            model: z.string().min(1).optional(),
            timeoutMs: ms.default(120_000),
            features,
            /** The routes the model is served on (default chat and completions). */
            capabilities: z.array(z.enum(CAPABILITIES)).min(1).default(['chat', 'completions']),
        }).strict().optional(),
        /** Health checks of the upstreams: GET /models every intervalMs; a failed call leaves an upstream out for cooldownMs. */
        upstreamHealth: z
            .object({ intervalMs: ms.default(10_000), timeoutMs: z.number().int().positive().default(2_000), cooldownMs: ms.default(5_000) })
            .strict()
            .default({}),
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
        /** The whole request body must arrive within this many ms of its headers (408 otherwise). */
        bodyTimeoutMs: z.number().int().positive().default(10_000),
        /** The request line and headers must arrive within this many ms of the connection (or of the previous request). */
        headersTimeoutMs: z.number().int().positive().default(10_000),
        /** A connection with no request in progress is closed after this many ms (TLS handshakes included). */
        idleTimeoutMs: z.number().int().positive().default(30_000),
        /** Open client connections at most (also capped below the process's file limit); the oldest idle one makes room for a new one. */
        maxConnections: z.number().int().positive().default(4096),
        /** Open connections from one peer address at most. */
        maxConnectionsPerPeer: z.number().int().positive().default(256),
        /** Authentication: failed attempts per peer address, chain reads for escrows not in the cache, re-reads after a bad signature. */
        auth: z
            .object({
                failures: rate(10, 1),
                maxPeers: z.number().int().positive().default(10_000),
                unknownEscrows: rate(20, 10),
                rereads: rate(10, 5),
                /** A bad signature re-reads the escrow's client key only if the cached one is older than this (ms). */
                rereadMinAgeMs: ms.default(1000),
                /** Verified API keys remembered (a repeat costs a map lookup, not a signature check). */
                verifiedCache: z.number().int().nonnegative().default(10_000),
            })
            .strict()
            .default({}),
        /** Escrows held in the chain-read cache at most (least recently used go first). */
        escrowCacheMax: z.number().int().positive().default(10_000),
        /** Prompt token counting: small prompts on the event loop, larger in a thread with a deadline. */
        tokenCount: z
            .object({
                syncMaxChars: z.number().int().nonnegative().default(2048),
                deadlineMs: z.number().int().positive().default(1000),
                maxQueue: z.number().int().positive().default(64),
            })
            .strict()
            .default({}),
        /**
         * `auto`: at start, put this start's fresh TEE key on the Worker contract (RegisterWorker with
         * stake 0 from the operator wallet) when the Worker exists. `off`: the operator does it.
         */
        register: z.enum(['auto', 'off']).default('auto'),
        /** A request whose escrow holds an older key of this worker waits this long for RefreshWorker (ms). */
        refreshWaitMs: z.number().int().positive().default(30_000),
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
        /** TTL of this node's own Worker contract info (price, key, status): a new price applies within it. */
        workerCacheMs: ms.default(2_000),
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
        if (c.models && c.backend) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['backend'], message: 'give either models or model + backend, not both' });
        if (!c.models) {
            if (!c.model) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['model'], message: 'Required (or give models)' });
            if (!c.backend) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['backend'], message: 'Required (or give models)' });
        } else {
            const names = new Set<string>();
            c.models.forEach((m, i) => {
                if (names.has(m.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['models', i, 'name'], message: `${m.name} is listed twice` });
                names.add(m.name);
            });
            if (c.model && !names.has(c.model)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['model'], message: 'must be one of the models' });
        }
    })
    .transform((c) => {
        // one form for the rest of the node: models, and model = the first one's name
        const models: ServedModelConfig[] = c.models ?? [{
            name: c.model!, upstreams: [{ url: c.backend!.url, ...(c.backend!.model ? { model: c.backend!.model } : {}) }],
            capabilities: c.backend!.capabilities, features: c.backend!.features, timeoutMs: c.backend!.timeoutMs,
        }];
        return { ...c, model: c.model ?? models[0].name, models };
    });

export type WorkerConfigInput = z.input<typeof workerConfigSchema>;
export type WorkerConfig = z.output<typeof workerConfigSchema>;

export class ConfigError extends Error {
    constructor(readonly issues: { path: string; message: string }[]) {
        super('invalid worker node configuration:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'));
        this.name = 'ConfigError';
    }
}

/** Configs this module produced: parsing one again returns it as is. */
const parsed = new WeakSet<object>();

/** True for the output of parseWorkerConfig. */
export function isParsedWorkerConfig(c: unknown): c is WorkerConfig {
    return typeof c === 'object' && c !== null && parsed.has(c);
}

/** Validates a raw config; throws ConfigError naming every bad field. A config it already parsed is returned as is. */
export function parseWorkerConfig(raw: unknown): WorkerConfig {
    if (isParsedWorkerConfig(raw)) return raw;
    const r = workerConfigSchema.safeParse(raw);
    if (r.success) {
        parsed.add(r.data);
        return r.data;
    }
    throw new ConfigError(r.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message })));
}

/** The config as it may be logged (it holds no secrets; bigints as strings). */
export function describeConfig(c: WorkerConfig): Record<string, unknown> {
    return JSON.parse(JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
}

// The verifier service's configuration, validated once at start. The signing key is not part of it
// (signingKey.ts), so the config can always be logged.
import { Address } from '@ton/core';
import { z } from 'zod';
import { policySchema } from './policy';

const address = z.string().refine((s) => {
    try {
        Address.parse(s);
        return true;
    } catch {
        return false;
    }
}, 'must be a TON address (raw 0:… or user-friendly)');

export const serviceConfigSchema = z
    .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8090),
        /** The root contract this verifier's key is whitelisted on: statements for another root are refused. */
        root: address,
        /** Read the root's measurement whitelist from this network (with `endpoint`, a toncenter JSON-RPC URL). */
        chain: z
            .object({
                network: z.enum(['testnet', 'mainnet']),
                endpoint: z.string().url().optional(),
                /** Whitelist answers are cached this long. */
                cacheMs: z.number().int().nonnegative().default(30_000),
            })
            .strict()
            .optional(),
        policy: policySchema.default({}),
        /** A statement's issuedAt may differ from this service's clock by this much. */
        maxClockSkewSec: z.number().int().nonnegative().max(3600).default(300),
        collateral: z
            .object({
                /** A collateral JSON file (offline; re-read when it changes). */
                file: z.string().min(1).optional(),
                /** A PCCS or Intel PCS base URL. */
                pccsUrl: z.string().url().optional(),
                timeoutMs: z.number().int().positive().default(15_000),
                refreshSec: z.number().int().positive().default(3600),
                /** Use collateral a request brings (it is verified like any other). */
                acceptFromRequest: z.boolean().default(true),
            })
            .strict()
            .refine((c) => !(c.file && c.pccsUrl), 'give collateral.file or collateral.pccsUrl, not both')
            .default({}),
        maxBodyBytes: z.number().int().positive().max(16 * 1024 * 1024).default(256 * 1024),
        rateLimit: z
            .object({ burst: z.number().int().min(1).default(10), perSec: z.number().positive().default(2), maxPeers: z.number().int().positive().default(10_000) })
            .strict()
            .default({}),
        shutdownGraceMs: z.number().int().nonnegative().default(10_000),
        logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .strict();

export type ServiceConfigInput = z.input<typeof serviceConfigSchema>;
export type ServiceConfig = z.output<typeof serviceConfigSchema>;

export class VerifierConfigError extends Error {
    constructor(readonly issues: { path: string; message: string }[]) {
        super('invalid verifier configuration:\n' + issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n'));
        this.name = 'VerifierConfigError';
    }
}

export function parseServiceConfig(raw: unknown): ServiceConfig {
    const r = serviceConfigSchema.safeParse(raw);
    if (r.success) return r.data;
    throw new VerifierConfigError(r.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message })));
}

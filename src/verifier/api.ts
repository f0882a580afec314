// The verifier service's HTTP API: request schemas (zod) and the response shapes, shared with the
// worker node's client (src/worker/attestation.ts). Integers that can exceed 2^53 travel as 0x hex.
import { Address } from '@ton/core';
import { z } from 'zod';
import type { CollateralInput } from './collateral';
import type { Reason } from './reasons';

const address = z.string().max(100).transform((s, ctx) => {
    try {
        return Address.parse(s);
    } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a TON address (raw 0:… or user-friendly)' });
        return z.NEVER;
    }
});

const hexU256 = z.string().regex(/^0x[0-9a-fA-F]{1,64}$/, 'must be 0x followed by 1 to 64 hex digits').transform((s) => BigInt(s));
const unixTime = z.number().int().min(0).max(2 ** 32 - 1);
/** A TDX quote is ~5-8 KB; 64 KB of base64 leaves room and bounds the work. */
const quoteB64 = z
    .string()
    .min(1)
    .max(64 * 1024)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64')
    .transform((s) => Buffer.from(s, 'base64'));

/** The part of a statement that exists before the quote: its REPORTDATA binds these. */
export const bindingSchema = z.object({ root: address, operator: address, teeKey: hexU256, tlsKeyHash: hexU256 }).strict();

export const statementRequestSchema = bindingSchema
    .extend({ issuedAt: unixTime, expiresAt: unixTime })
    .strict()
    .refine((s) => s.expiresAt > s.issuedAt, { message: 'expiresAt must be after issuedAt', path: ['expiresAt'] });

export const attestRequestSchema = z
    .object({ quote: quoteB64, collateral: z.record(z.unknown()).optional(), statement: statementRequestSchema })
    .strict();

/** /v1/check: the statement is optional (without it REPORTDATA is not checked) and has no times. */
export const checkRequestSchema = z
    .object({ quote: quoteB64, collateral: z.record(z.unknown()).optional(), statement: bindingSchema.optional() })
    .strict();

export type AttestRequest = z.output<typeof attestRequestSchema>;
export type CheckRequest = z.output<typeof checkRequestSchema>;

/** What a client sends (JSON). */
export interface AttestRequestJson {
    quote: string;
    collateral?: CollateralInput;
    statement: { root: string; operator: string; teeKey: string; tlsKeyHash: string; issuedAt: number; expiresAt: number };
}
export interface CheckRequestJson {
    quote: string;
    collateral?: CollateralInput;
    statement?: { root: string; operator: string; teeKey: string; tlsKeyHash: string };
}

/** The quote's facts a verifier puts in the statement (0x hex; tcbStatus as the statement's code). */
export interface QuoteFacts {
    measurement: string;
    tcbStatus: number;
    tcbStatusName: string;
    advisories: string[];
    fmspc: string;
    quoteHash: string;
    /** The latest expiresAt this verifier signs now (collateral nextUpdate, certificates, max TTL). */
    maxExpiresAt: number;
}

export interface CheckResponse {
    accepted: true;
    facts: QuoteFacts;
    maxExpiresAt: number;
    checked: string[];
    skipped: string[];
}

export interface AttestResponse {
    accepted: true;
    /** 0x hex ed25519 public key of this verifier. */
    verifierKey: string;
    /** hex, 64 bytes: ed25519 over the statement cell's hash. */
    signature: string;
    /** base64 BOC of the statement cell signed (docs/SIGNING.md). */
    statementBoc: string;
    facts: QuoteFacts;
}

export type RefusalReason = Reason | 'bad_request' | 'body_too_large' | 'rate_limited' | 'not_found' | 'method_not_allowed'
    | 'wrong_root' | 'issued_at_skew' | 'expires_too_late' | 'collateral_unavailable' | 'internal';

export interface Refusal {
    accepted: false;
    reason: RefusalReason;
    message: string;
    /** On expires_too_late (and refusals after the quote checked out): the latest expiresAt accepted. */
    maxExpiresAt?: number;
    issues?: { path: string; message: string }[];
}

export const hex0x = (b: Buffer | bigint, bytes: number) =>
    '0x' + (typeof b === 'bigint' ? b.toString(16).padStart(bytes * 2, '0') : b.toString('hex'));

// Input of the dashboard's JSON API, validated at the edge (zod): addresses, nanoton amounts as
// decimal strings, the client key as 64 hex digits. Anything else is refused with 400.
import { Address } from '@ton/core';
import { z } from 'zod';

export const addressSchema = z.string().trim().min(1).max(100).transform((s, ctx) => {
    try {
        return Address.parse(s);
    } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be a TON address (EQ…/UQ…/kQ…/0Q… or 0:<64 hex>)' });
        return z.NEVER;
    }
});

/** nanoton as a decimal string (what TonConnect carries), at most 2^64. */
export const nanoSchema = z.string().regex(/^\d{1,20}$/, 'must be nanoton as a decimal string').transform((s) => BigInt(s))
    .refine((v) => v < 1n << 64n, 'is too large');

export const keySchema = z.string().regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be 64 hex digits (an ed25519 public key)')
    .transform((s) => BigInt('0x' + s.replace(/^0x/, '')));

export const actionSchema = z.discriminatedUnion('op', [
    z.object({ op: z.literal('openEscrow'), from: addressSchema, worker: addressSchema, deposit: nanoSchema, maxPrice: nanoSchema.optional(), clientKey: keySchema }).strict(),
    z.object({ op: z.literal('topUpEscrow'), from: addressSchema, worker: addressSchema, amount: nanoSchema }).strict(),
    z.object({ op: z.literal('closeEscrow'), from: addressSchema, worker: addressSchema }).strict(),
    z.object({ op: z.literal('withdrawEscrow'), from: addressSchema, worker: addressSchema }).strict(),
    z.object({ op: z.literal('claimRewards'), from: addressSchema }).strict(),
    z.object({ op: z.literal('unbond'), from: addressSchema }).strict(),
    z.object({ op: z.literal('withdrawStake'), from: addressSchema }).strict(),
]);

export const devSendSchema = z.object({ account: addressSchema, request: z.unknown() }).strict();

/** Sandbox only: move the local chain's clock (past a dispute window, say): 1 s to 60 days. */
export const advanceSchema = z.object({ seconds: z.number().int().min(1).max(60 * 86400) }).strict();

export const eventsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

export function firstIssue(e: z.ZodError): string {
    const i = e.issues[0];
    return `${i.path.join('.') || 'body'}: ${i.message}`;
}

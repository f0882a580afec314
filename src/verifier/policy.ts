// What the verifier accepts beyond a genuine quote: TCB statuses, how long an attestation may last,
// which images. Defaults are the safe ones; every knob is validated where it is read.
import { z } from 'zod';

/** dcap-qvl's TCB status names, best first. `Revoked` is never accepted (dcap-qvl refuses it too). */
export const TCB_STATUS_NAMES = [
    'UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded',
] as const;
export type AcceptableTcbStatus = (typeof TCB_STATUS_NAMES)[number];

export const DEFAULT_MAX_ATTESTATION_TTL_SEC = 7 * 86400;
export const MAX_MAX_ATTESTATION_TTL_SEC = 90 * 86400;

/** 32 bytes of hex, 0x optional, as lowercase hex without 0x. */
export const hex32 = z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, 'must be 64 hex digits (32 bytes), 0x optional')
    .transform((s) => s.replace(/^0x/, '').toLowerCase());

export const policySchema = z
    .object({
        /** TCB statuses accepted (default UpToDate only). */
        acceptedTcbStatuses: z.array(z.enum(TCB_STATUS_NAMES)).min(1).default(['UpToDate']),
        /** An attestation lease ends no later than now + this (and no later than the collateral's nextUpdate). */
        maxAttestationTtlSec: z.number().int().positive().max(MAX_MAX_ATTESTATION_TTL_SEC).default(DEFAULT_MAX_ATTESTATION_TTL_SEC),
        /** Images accepted besides those the root contract whitelists (hex sha256 image hashes). */
        allowedMeasurements: z.array(hex32).default([]),
    })
    .strict();

export type PolicyInput = z.input<typeof policySchema>;
export type Policy = z.output<typeof policySchema>;

export const DEFAULT_POLICY: Policy = policySchema.parse({});

export function parsePolicy(raw: unknown): Policy {
    const r = policySchema.safeParse(raw ?? {});
    if (r.success) return r.data;
    throw new Error('invalid verifier policy: ' + r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
}

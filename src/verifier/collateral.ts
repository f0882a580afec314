// Quote collateral (Intel's TCB info, QE identity, CRLs and their issuer chains), in dcap-qvl's
// shape, validated once: where it comes from (a file, a request, a PCCS) does not change what is
// checked, since every piece is verified up to the pinned root (verify.ts).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Collateral as DcapCollateral } from '@phala/dcap-qvl';
import { VerificationError } from './reasons';

const bytes = z.union([
    z.string().regex(/^([0-9a-fA-F]{2})*$/, 'must be hex'),
    z.array(z.number().int().min(0).max(255)),
]).transform((v) => (typeof v === 'string' ? Buffer.from(v, 'hex') : Buffer.from(v)));

const pem = z.string().min(1).max(64 * 1024).refine((s) => s.includes('-----BEGIN CERTIFICATE-----'), 'must hold PEM certificates');

export const collateralSchema = z.object({
    pck_crl_issuer_chain: pem,
    root_ca_crl: bytes,
    pck_crl: bytes,
    tcb_info_issuer_chain: pem,
    tcb_info: z.string().min(2).max(256 * 1024),
    tcb_info_signature: bytes,
    qe_identity_issuer_chain: pem,
    qe_identity: z.string().min(2).max(64 * 1024),
    qe_identity_signature: bytes,
    /** The PCK chain, when a PCCS supplied it (quotes with an encrypted PPID); else the quote's own. */
    pck_certificate_chain: pem.nullish(),
});

/** Collateral as the verifier holds it: byte fields as Buffers. */
export type Collateral = z.output<typeof collateralSchema>;
export type CollateralInput = z.input<typeof collateralSchema>;

/** Validates collateral from anywhere; throws VerificationError('bad_collateral') naming the fields. */
export function parseCollateral(raw: unknown): Collateral {
    const r = collateralSchema.safeParse(raw);
    if (r.success) return r.data;
    const fields = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new VerificationError('bad_collateral', `the collateral is not valid: ${fields}`);
}

export function readCollateralFile(file: string): Collateral {
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (e) {
        throw new Error(`cannot read the collateral file ${file}: ${(e as Error).message}`);
    }
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (e) {
        throw new Error(`the collateral file ${file} is not JSON: ${(e as Error).message}`);
    }
    return parseCollateral(json);
}

/** The form dcap-qvl's verify() takes (hex strings for the byte fields). */
export function toDcapCollateral(c: Collateral): DcapCollateral & { pck_certificate_chain?: string } {
    const out: DcapCollateral & { pck_certificate_chain?: string } = {
        pck_crl_issuer_chain: c.pck_crl_issuer_chain, root_ca_crl: c.root_ca_crl.toString('hex'), pck_crl: c.pck_crl.toString('hex'),
        tcb_info_issuer_chain: c.tcb_info_issuer_chain, tcb_info: c.tcb_info, tcb_info_signature: c.tcb_info_signature.toString('hex'),
        qe_identity_issuer_chain: c.qe_identity_issuer_chain, qe_identity: c.qe_identity,
        qe_identity_signature: c.qe_identity_signature.toString('hex'),
    };
    if (c.pck_certificate_chain) out.pck_certificate_chain = c.pck_certificate_chain;
    return out;
}

/** JSON-safe collateral (hex byte fields), e.g. to send in a request body. */
export function collateralToJson(c: Collateral): CollateralInput {
    return toDcapCollateral(c) as CollateralInput;
}

export interface CollateralDates {
    tcbInfo: { issueDate: number; nextUpdate: number; fmspc: string; tcbEvaluationDataNumber: number | null };
    qeIdentity: { issueDate: number; nextUpdate: number };
}

function date(s: unknown, what: string): number {
    const t = typeof s === 'string' ? Date.parse(s) : NaN;
    if (!Number.isFinite(t)) throw new VerificationError('bad_collateral', `${what} is not a date: ${JSON.stringify(s)}`);
    return t / 1000;
}

/** Issue and next-update times of the signed JSON documents (their windows are checked in verify.ts). */
export function collateralDates(c: Collateral): CollateralDates {
    let tcb: any;
    let qe: any;
    try {
        tcb = JSON.parse(c.tcb_info);
        qe = JSON.parse(c.qe_identity);
    } catch (e) {
        throw new VerificationError('bad_collateral', `tcb_info or qe_identity is not JSON: ${(e as Error).message}`);
    }
    if (typeof tcb?.fmspc !== 'string' || !/^[0-9a-fA-F]{12}$/.test(tcb.fmspc)) throw new VerificationError('bad_collateral', 'tcb_info.fmspc is not 6 bytes of hex');
    return {
        tcbInfo: {
            issueDate: date(tcb.issueDate, 'tcb_info.issueDate'), nextUpdate: date(tcb.nextUpdate, 'tcb_info.nextUpdate'), fmspc: tcb.fmspc.toLowerCase(),
            tcbEvaluationDataNumber: Number.isInteger(tcb.tcbEvaluationDataNumber) ? tcb.tcbEvaluationDataNumber : null,
        },
        qeIdentity: { issueDate: date(qe?.issueDate, 'qe_identity.issueDate'), nextUpdate: date(qe?.nextUpdate, 'qe_identity.nextUpdate') },
    };
}

// A client that trusts no verifier checks the worker's TDX quote itself, with the verifier's own
// code (src/verifier), before it sends a prompt: the quote the node serves at /attestation must be
// the one the on-chain statement names (sha256), pass Intel's chain (root pinned) and the policy
// (TCB status, not a debug TD), show the image the statement and the root's whitelist name, and
// bind (REPORTDATA) exactly the worker's TEE key, TLS key, operator and root.
import { createHash } from 'node:crypto';
import type { Address } from '@ton/core';
import { keyBinding, type WorkerInfo } from '../sdk';
import { verifyQuote, parseTdxQuote, DEFAULT_POLICY, type CollateralSource, type Policy, type TrustAnchor, type Verdict } from '../verifier';
import { ClientError } from './errors';

export interface QuoteCheckOptions {
    /** Where Intel's collateral comes from: a file (FileCollateralSource) or a PCCS (PccsCollateralSource). */
    collateral: CollateralSource;
    /** Default: the verifier's defaults (UpToDate only, debug TDs refused). */
    policy?: Policy;
    /** Tests only: their own root instead of Intel's pinned one (never set from configuration). */
    anchor?: TrustAnchor;
}

export interface QuoteCheckInput {
    /** The quote the node serves (its /attestation `evidence`), or null when it serves none. */
    quote: Buffer | null;
    root: Address;
    operator: Address;
    /** The Worker contract's info(): the statement in force (TEE key, TLS key hash, measurement, quote hash). */
    info: WorkerInfo;
    /** Whether the root whitelists an image (its isMeasurementAllowed getter). */
    measurementAllowed: (measurement: bigint) => Promise<boolean>;
    /** Check time, unix seconds. */
    now: number;
}

const refuse = (msg: string, details: Record<string, unknown> = {}) =>
    new ClientError('QUOTE_REFUSED', `the worker's TDX quote does not check out: ${msg}`,
        'pick another worker (cocoon workers); your prompt was not sent.', details);

/** Throws ClientError('QUOTE_REFUSED') naming the first check that failed; returns the verdict otherwise. */
export async function checkWorkerQuote(i: QuoteCheckInput, o: QuoteCheckOptions): Promise<Verdict> {
    if (!i.quote) throw refuse('the node serves no quote (a development attestation, or none at all)');
    const hash = BigInt('0x' + createHash('sha256').update(i.quote).digest('hex'));
    if (hash !== i.info.quoteHash) {
        throw refuse(`it is not the quote the on-chain statement names (sha256 0x${hash.toString(16)} vs 0x${i.info.quoteHash.toString(16)})`);
    }
    let collateral;
    try {
        collateral = await o.collateral.get(parseTdxQuote(i.quote));
    } catch (e) {
        throw refuse(`no collateral to check it with (${o.collateral.describe}): ${(e as Error).message}`);
    }
    const v = await verifyQuote(i.quote, collateral, {
        now: i.now, anchor: o.anchor, policy: o.policy ?? DEFAULT_POLICY,
        whitelist: { source: 'the root', isAllowed: (m) => i.measurementAllowed(BigInt('0x' + m.toString('hex'))) },
        expectedReportData: keyBinding({ root: i.root, operator: i.operator, teeKey: i.info.teeKey, tlsKeyHash: i.info.tlsKeyHash }),
    });
    if (!v.accepted) throw refuse(`${v.reason}: ${v.message}`, { verdict: v });
    if (v.measurement === null || BigInt('0x' + v.measurement) !== i.info.measurement) {
        throw refuse(`the quote shows image 0x${v.measurement}, the statement names 0x${i.info.measurement.toString(16)}`, { verdict: v });
    }
    return v;
}

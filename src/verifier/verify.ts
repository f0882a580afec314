// One quote, one verdict: the quote's Intel chain and signatures (evidence.ts, then dcap-qvl with
// the pinned root), then the policy on the authenticated TD report: not a debug TD, TD attributes,
// TCB status, measurement whitelisted, REPORTDATA equal to the expected key binding. Without
// collateral the policy still runs on the parsed report, the verdict is never "accepted", and the
// output lists what was skipped.
import { createHash } from 'node:crypto';
import { QuoteVerifier } from '@phala/dcap-qvl';
import { Collateral, toDcapCollateral } from './collateral';
import { checkEvidence } from './evidence';
import { MeasurementWhitelist } from './measurements';
import { DEFAULT_POLICY, Policy } from './policy';
import { parseTdxQuote } from './quote';
import { classifyDcapError, Reason, VerificationError } from './reasons';
import { intelTrustAnchor, TrustAnchor } from './trust';

/** The checks, in the order they run; a verdict lists each as checked or skipped. */
export const CHECKS = ['quote_format', 'intel_chain', 'collateral_window', 'tcb_status', 'debug', 'td_attributes', 'measurement', 'report_data'] as const;
export type Check = (typeof CHECKS)[number];

export interface VerifyOptions {
    /** Check time, unix seconds. */
    now: number;
    /** Default: Intel's root, pinned (trust.ts). Tests pass their own root here, never through config. */
    anchor?: TrustAnchor;
    /** TCB statuses, lease length, static measurement list; default DEFAULT_POLICY. */
    policy?: Policy;
    /** The image whitelist; null or absent: the measurement check is skipped. */
    whitelist?: MeasurementWhitelist | null;
    /** The 64 bytes REPORTDATA must equal (the key binding); absent: the check is skipped. */
    expectedReportData?: Buffer;
}

export interface Verdict {
    accepted: boolean;
    reason: Reason | null;
    message: string;
    /** dcap-qvl's TCB status name (null when the chain was not checked or no level matched). */
    status: string | null;
    advisories: string[];
    /** Hex image hash, sha256(MRTD‖…‖RTMR3‖zeros). */
    measurement: string | null;
    debug: boolean | null;
    /** Hex REPORTDATA (64 bytes). */
    reportData: string | null;
    /** Hex sha256 of the quote bytes. */
    quoteHash: string;
    /** Hex FMSPC (6 bytes) from the PCK certificate; null when the chain was not checked. */
    fmspc: string | null;
    version: number | null;
    checked: Check[];
    skipped: Check[];
    /** Latest expiresAt this verifier would sign (unix seconds); null unless the evidence checked out. */
    maxExpiresAt: number | null;
    /** What bounds maxExpiresAt: "TCB info", "PCK CRL", "certificate", "maxAttestationTtlSec", … */
    leaseBoundBy: string | null;
}

/** Runs every check it can; never throws for a bad quote or collateral (the verdict says why). */
export async function verifyQuote(quoteBytes: Uint8Array, collateral: Collateral | null, opts: VerifyOptions): Promise<Verdict> {
    if (!Number.isSafeInteger(opts.now) || opts.now < 0) throw new Error('verifyQuote: now must be unix seconds');
    const anchor = opts.anchor ?? intelTrustAnchor();
    const policy = opts.policy ?? DEFAULT_POLICY;
    const v: Verdict = {
        accepted: false, reason: null, message: '', status: null, advisories: [], measurement: null, debug: null, reportData: null,
        quoteHash: createHash('sha256').update(quoteBytes).digest('hex'), fmspc: null, version: null, checked: [], skipped: [],
        maxExpiresAt: null, leaseBoundBy: null,
    };
    const done = (c: Check) => v.checked.push(c);
    // Skipped: what the inputs leave out, known before any check runs (so a refusal lists them too).
    if (!collateral) v.skipped.push('intel_chain', 'collateral_window', 'tcb_status');
    if (!opts.whitelist) v.skipped.push('measurement');
    if (!opts.expectedReportData) v.skipped.push('report_data');
    try {
        const q = parseTdxQuote(quoteBytes);
        v.version = q.version;
        v.measurement = q.measurement.toString('hex');
        v.debug = q.attributes.debug;
        v.reportData = q.report.reportData.toString('hex');
        done('quote_format');

        if (collateral) {
            const ev = checkEvidence(q, collateral, anchor, opts.now);
            v.fmspc = ev.fmspc.toString('hex');
            let report;
            try {
                // dcap-qvl prefers a PCK chain in the collateral to the quote's own: hand it only when the quote has none
                const used = q.pckChainPem ? { ...collateral, pck_certificate_chain: null } : collateral;
                report = QuoteVerifier.newWithRootCa(anchor.der).verify(q.bytes, toDcapCollateral(used), opts.now);
            } catch (e) {
                const message = (e as Error).message;
                const invalidStatus = /^TCB status is invalid: (\w+)/.exec(message);
                if (invalidStatus) v.status = invalidStatus[1]; // e.g. Revoked: say which
                throw new VerificationError(classifyDcapError(message), `dcap-qvl: ${message}`);
            }
            v.status = report.status;
            v.advisories = [...report.advisory_ids];
            done('intel_chain');
            done('collateral_window');
            const bounds: [string, number][] = [
                [ev.collateralNextUpdateOf, ev.collateralNextUpdate], ['certificate', ev.certificatesNotAfter],
                ['maxAttestationTtlSec', opts.now + policy.maxAttestationTtlSec],
            ];
            bounds.sort((a, b) => a[1] - b[1]);
            v.maxExpiresAt = Math.floor(bounds[0][1]);
            v.leaseBoundBy = bounds[0][0];
        }

        if (q.attributes.debug) throw new VerificationError('debug', `the TD runs in debug mode (td_attributes ${q.attributes.hex} has the DEBUG bit): the host can read its memory`);
        done('debug');
        if (q.attributes.reservedBits) throw new VerificationError('td_attributes', `td_attributes ${q.attributes.hex} has reserved bits set`);
        if (!q.attributes.septVeDisable) throw new VerificationError('td_attributes', `td_attributes ${q.attributes.hex}: SEPT_VE_DISABLE is off`);
        if (q.report.mrServiceTd && q.report.mrServiceTd.some((b) => b !== 0)) throw new VerificationError('td_attributes', 'the TD is bound to a service TD (MRSERVICETD is not zero)');
        done('td_attributes');

        if (collateral) {
            if (!(policy.acceptedTcbStatuses as readonly string[]).includes(v.status!)) {
                throw new VerificationError('tcb_status', `TCB status ${v.status}${v.advisories.length ? ` (${v.advisories.join(', ')})` : ''} is not accepted; accepted: ${policy.acceptedTcbStatuses.join(', ')}`);
            }
            done('tcb_status');
        }

        if (opts.whitelist) {
            let allowed: boolean;
            try {
                allowed = await opts.whitelist.isAllowed(q.measurement);
            } catch (e) {
                throw new VerificationError('whitelist_unavailable', `could not check the measurement: ${(e as Error).message}`);
            }
            if (!allowed) throw new VerificationError('measurement_not_allowed', `measurement ${v.measurement} is not allowed by the ${opts.whitelist.source}`);
            done('measurement');
        }

        if (opts.expectedReportData) {
            if (opts.expectedReportData.length !== 64) throw new Error('expectedReportData must be 64 bytes');
            if (!q.report.reportData.equals(opts.expectedReportData)) {
                throw new VerificationError('report_data_mismatch', `REPORTDATA ${v.reportData} is not the expected ${opts.expectedReportData.toString('hex')}`);
            }
            done('report_data');
        }

        if (!collateral) throw new VerificationError('collateral_missing', 'no collateral: the Intel chain, the TCB status and the collateral window were not checked');
        v.accepted = true;
        v.message = 'accepted';
    } catch (e) {
        if (!(e instanceof VerificationError)) throw e;
        v.reason = e.reason;
        v.message = e.message;
        v.maxExpiresAt = null;
        v.leaseBoundBy = null;
    }
    // checks after a refusal are neither checked nor skipped: the refusal came first
    return v;
}

/** The verdict as printed and served. */
export function verdictJson(v: Verdict): Verdict {
    return { ...v, advisories: [...v.advisories], checked: [...v.checked], skipped: [...v.skipped] };
}

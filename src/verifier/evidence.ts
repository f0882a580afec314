// Everything of the collateral the verifier checks itself before dcap-qvl runs: each chain ends at
// the pinned root and is well formed, the CRLs are signed by the right CA and current, nothing used
// is revoked, the signed documents are inside their windows, the FMSPC of the PCK certificate is
// the one of the TCB info. It also yields the times that bound the attestation lease.
import { X509Certificate } from 'node:crypto';
import { utils as dcapUtils } from '@phala/dcap-qvl';
import { checkChain, parsePemChain } from './chains';
import { checkCrl, CheckedCrl, serialHex } from './crl';
import { Collateral, collateralDates } from './collateral';
import { ParsedQuote } from './quote';
import { VerificationError } from './reasons';
import { TrustAnchor } from './trust';

export interface EvidenceFacts {
    /** FMSPC of the platform, from its PCK certificate (6 bytes). */
    fmspc: Buffer;
    /** The collateral's earliest nextUpdate (TCB info, QE identity, root CA CRL, PCK CRL), unix seconds. */
    collateralNextUpdate: number;
    /** Which document that is. */
    collateralNextUpdateOf: string;
    /** Earliest notAfter of every certificate used, unix seconds. */
    certificatesNotAfter: number;
}

const iso = (t: number) => new Date(t * 1000).toISOString();

function checkWindow(what: string, issued: number, next: number, now: number) {
    if (now < issued) throw new VerificationError('collateral_not_yet_valid', `${what} is issued ${iso(issued)}, after the check time ${iso(now)}`);
    if (now > next) throw new VerificationError('collateral_expired', `${what} expired: its nextUpdate ${iso(next)} is before the check time ${iso(now)}`);
}

function notRevoked(cert: X509Certificate, crl: CheckedCrl, crlName: string, what: string) {
    if (crl.revoked.has(serialHex(Buffer.from(cert.serialNumber, 'hex')))) {
        throw new VerificationError('certificate_revoked', `${what}: "${cert.subject.replace(/\n/g, ', ')}" is revoked by the ${crlName}`);
    }
}

export function fmspcOfPckCert(cert: X509Certificate): Buffer {
    try {
        return Buffer.from(dcapUtils.getFmspc(dcapUtils.getIntelExtension(cert.raw)));
    } catch (e) {
        throw new VerificationError('bad_certificate_chain', `the PCK certificate has no readable Intel SGX extension (FMSPC): ${(e as Error).message}`);
    }
}

/** Checks the collateral and the quote's PCK chain against the anchor at `now` (unix seconds). */
export function checkEvidence(quote: ParsedQuote, c: Collateral, anchor: TrustAnchor, now: number): EvidenceFacts {
    // The quote's own PCK chain when it carries one; the collateral's only for an encrypted PPID.
    const pckPem = quote.pckChainPem ?? c.pck_certificate_chain;
    if (!pckPem) throw new VerificationError('bad_certificate_chain', 'the quote carries no PCK certificate chain (certification data type 5) and the collateral gives none');
    const chains = {
        pck: checkChain(parsePemChain(pckPem, 'PCK certificate chain'), anchor, now, 'PCK certificate chain'),
        tcb: checkChain(parsePemChain(c.tcb_info_issuer_chain, 'TCB info issuer chain'), anchor, now, 'TCB info issuer chain'),
        qe: checkChain(parsePemChain(c.qe_identity_issuer_chain, 'QE identity issuer chain'), anchor, now, 'QE identity issuer chain'),
        crl: checkChain(parsePemChain(c.pck_crl_issuer_chain, 'PCK CRL issuer chain'), anchor, now, 'PCK CRL issuer chain', { leafIsCa: true }),
    };
    const [pckLeaf, pckCa] = chains.pck.certs;

    const dates = collateralDates(c);
    checkWindow('TCB info', dates.tcbInfo.issueDate, dates.tcbInfo.nextUpdate, now);
    checkWindow('QE identity', dates.qeIdentity.issueDate, dates.qeIdentity.nextUpdate, now);
    const rootCrl = checkCrl(c.root_ca_crl, anchor.cert, now, 'root CA CRL');
    // The PCK CRL must come from the CA that issued this PCK certificate (Platform or Processor CA).
    const pckCrl = checkCrl(c.pck_crl, pckCa, now, 'PCK CRL');

    notRevoked(pckLeaf, pckCrl, 'PCK CRL', 'PCK certificate chain');
    for (const chain of Object.values(chains)) {
        for (const cert of chain.certs.slice(0, -1)) if (cert.verify(anchor.cert.publicKey)) notRevoked(cert, rootCrl, 'root CA CRL', 'certificate chains');
    }

    const fmspc = fmspcOfPckCert(pckLeaf);
    if (fmspc.toString('hex') !== dates.tcbInfo.fmspc) {
        throw new VerificationError('bad_collateral', `the TCB info is for FMSPC ${dates.tcbInfo.fmspc}, the platform's PCK certificate says ${fmspc.toString('hex')}`);
    }

    const next: [string, number][] = [
        ['TCB info', dates.tcbInfo.nextUpdate], ['QE identity', dates.qeIdentity.nextUpdate],
        ['root CA CRL', rootCrl.nextUpdate], ['PCK CRL', pckCrl.nextUpdate],
    ];
    next.sort((a, b) => a[1] - b[1]);
    return {
        fmspc, collateralNextUpdate: next[0][1], collateralNextUpdateOf: next[0][0],
        certificatesNotAfter: Math.min(...Object.values(chains).map((ch) => ch.notAfter)),
    };
}

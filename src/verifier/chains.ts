// Certificate chains of a quote and its collateral (PCK chain, TCB info and QE identity issuer
// chains, PCK CRL issuer chain): each must be well formed and end at the pinned root key. dcap-qvl
// checks the signatures up to the root it is handed; this adds what it leaves out: the pin on the
// chain's top, issuer names, and CA flags on every issuer (an end-entity key must not issue).
import { X509Certificate } from 'node:crypto';
import { TrustAnchor, keyIdOf } from './trust';
import { VerificationError } from './reasons';

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** The certificates of a PEM chain, leaf first; throws bad_certificate_chain when there are none. */
export function parsePemChain(pem: string, what: string): X509Certificate[] {
    const out: X509Certificate[] = [];
    for (const m of pem.matchAll(PEM_CERT)) {
        try {
            out.push(new X509Certificate(Buffer.from(m[1].replace(/\s+/g, ''), 'base64')));
        } catch (e) {
            throw new VerificationError('bad_certificate_chain', `${what}: a certificate does not parse: ${(e as Error).message}`);
        }
    }
    if (out.length === 0) throw new VerificationError('bad_certificate_chain', `${what}: no PEM certificate found`);
    return out;
}

const subjectOf = (c: X509Certificate) => c.subject.replace(/\n/g, ', ');

export interface CheckedChain {
    certs: X509Certificate[];
    /** Earliest notAfter of the chain and the anchor (unix seconds): an attestation lease ends before it. */
    notAfter: number;
}

/**
 * Checks a chain (leaf first) against the anchor at `now`: the top certificate is the anchor's key
 * (by its pinned key id) or is signed by it; each certificate is issued and signed by the next,
 * which is a CA; the first is an end-entity (or a CA when `leafIsCa`: a CRL issuer chain); every
 * certificate is valid at `now`.
 */
export function checkChain(certs: X509Certificate[], anchor: TrustAnchor, now: number, what: string, opts: { leafIsCa?: boolean } = {}): CheckedChain {
    if (certs.length < 2) throw new VerificationError('bad_certificate_chain', `${what}: a chain needs at least a leaf and its issuer, got ${certs.length} certificate(s)`);
    const top = certs[certs.length - 1];
    let topId: string;
    try {
        topId = keyIdOf(top);
    } catch (e) {
        throw new VerificationError('untrusted_root', `${what}: ${(e as Error).message}`);
    }
    if (topId !== anchor.keyId && !top.verify(anchor.cert.publicKey)) {
        throw new VerificationError('untrusted_root', `${what} ends at "${subjectOf(top)}" (key id ${topId.slice(0, 16)}…), not at the pinned ${anchor.name} (key id ${anchor.keyId.slice(0, 16)}…)`);
    }
    if (certs[0].ca !== (opts.leafIsCa ?? false)) throw new VerificationError('bad_certificate_chain', `${what}: the first certificate "${subjectOf(certs[0])}" ${certs[0].ca ? 'is' : 'is not'} a CA certificate`);
    for (let i = 0; i + 1 < certs.length; i++) {
        const [cert, issuer] = [certs[i], certs[i + 1]];
        if (!issuer.ca) throw new VerificationError('bad_certificate_chain', `${what}: "${subjectOf(issuer)}" issues a certificate but is not a CA`);
        if (!cert.checkIssued(issuer)) throw new VerificationError('bad_certificate_chain', `${what}: "${subjectOf(cert)}" is not issued by "${subjectOf(issuer)}"`);
        if (!cert.verify(issuer.publicKey)) throw new VerificationError('bad_signature', `${what}: the signature of "${subjectOf(cert)}" does not verify under "${subjectOf(issuer)}"`);
    }
    let notAfter = Date.parse(anchor.cert.validTo) / 1000;
    for (const c of certs) {
        const from = Date.parse(c.validFrom) / 1000;
        const to = Date.parse(c.validTo) / 1000;
        if (now < from || now > to) {
            throw new VerificationError('certificate_expired', `${what}: "${subjectOf(c)}" is valid from ${c.validFrom} to ${c.validTo}, not at ${new Date(now * 1000).toISOString()}`);
        }
        notAfter = Math.min(notAfter, to);
    }
    return { certs, notAfter };
}

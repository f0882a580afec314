// Certificate revocation lists of the collateral (Intel root CA CRL, PCK CA CRL). dcap-qvl only
// looks for revoked serial numbers in them; here each is checked to be signed by its issuer and
// current at the check time, and its nextUpdate bounds the attestation lease.
import { verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificateList } from '@peculiar/asn1-x509';
import { VerificationError } from './reasons';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

export interface CheckedCrl {
    thisUpdate: number;
    nextUpdate: number;
    /** Serial numbers (lowercase hex, no leading zero bytes) of the revoked certificates. */
    revoked: Set<string>;
}

export function serialHex(bytes: ArrayBuffer | Uint8Array): string {
    let hex = Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString('hex');
    while (hex.startsWith('00') && hex.length > 2) hex = hex.slice(2);
    return hex.toLowerCase();
}

/** Parses a DER CRL and checks its signature by `issuer` and its window at `now` (unix seconds). */
export function checkCrl(der: Buffer, issuer: X509Certificate, now: number, what: string): CheckedCrl {
    let crl: CertificateList;
    try {
        crl = AsnConvert.parse(der, CertificateList);
    } catch (e) {
        throw new VerificationError('bad_collateral', `${what}: not a DER CRL: ${(e as Error).message}`);
    }
    if (crl.signatureAlgorithm.algorithm !== ECDSA_WITH_SHA256 || !crl.tbsCertListRaw) {
        throw new VerificationError('bad_collateral', `${what}: signed with ${crl.signatureAlgorithm.algorithm}, expected ecdsa-with-SHA256`);
    }
    const ok = cryptoVerify('sha256', Buffer.from(crl.tbsCertListRaw), issuer.publicKey, Buffer.from(crl.signature));
    if (!ok) throw new VerificationError('bad_signature', `${what}: the CRL is not signed by "${issuer.subject.replace(/\n/g, ', ')}"`);
    const tbs = crl.tbsCertList;
    if (!tbs.nextUpdate) throw new VerificationError('bad_collateral', `${what}: the CRL has no nextUpdate`);
    const thisUpdate = tbs.thisUpdate.getTime().getTime() / 1000;
    const nextUpdate = tbs.nextUpdate.getTime().getTime() / 1000;
    const at = new Date(now * 1000).toISOString();
    if (now < thisUpdate) throw new VerificationError('collateral_not_yet_valid', `${what}: issued ${new Date(thisUpdate * 1000).toISOString()}, after the check time ${at}`);
    if (now > nextUpdate) throw new VerificationError('collateral_expired', `${what}: its nextUpdate ${new Date(nextUpdate * 1000).toISOString()} is before the check time ${at}`);
    const revoked = new Set((tbs.revokedCertificates ?? []).map((r) => serialHex(r.userCertificate)));
    return { thisUpdate, nextUpdate, revoked };
}

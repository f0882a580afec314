// The trust anchor: Intel's SGX/TDX root CA, pinned by the SHA-384 of its public key point
// (0x04 || X || Y), the same identity Telegram's Cocoon pins. dcap-qvl embeds a root certificate and
// trusts whatever root it is handed: the verifier hands it one whose key matches the pin, and checks
// that every chain of a quote and its collateral ends at that key (chains.ts).
import { createHash, X509Certificate } from 'node:crypto';
import { constants as dcapConstants } from '@phala/dcap-qvl';

/** SHA-384 of the uncompressed P-256 point of the Intel SGX Root CA key. */
export const INTEL_ROOT_KEY_ID = '46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef31463613de1570d516200993';

export interface TrustAnchor {
    /** DER of the root certificate handed to dcap-qvl. */
    readonly der: Buffer;
    readonly cert: X509Certificate;
    /** SHA-384 hex of 0x04 || X || Y of its key. */
    readonly keyId: string;
    /** For messages: "Intel SGX Root CA" or the name a test gave its own root. */
    readonly name: string;
}

/** 0x04 || X || Y of a P-256 public key; throws for any other key type. */
export function p256Point(cert: X509Certificate): Buffer {
    const key = cert.publicKey;
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error(`${cert.subject}: the key is not ECDSA P-256`);
    }
    const jwk = key.export({ format: 'jwk' });
    return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
}

/** The pinned identity of a certificate's key: SHA-384 hex of its uncompressed point. */
export function keyIdOf(cert: X509Certificate): string {
    return createHash('sha384').update(p256Point(cert)).digest('hex');
}

/** A trust anchor from a root certificate, refused unless its key is the pinned one. */
export function trustAnchor(der: Buffer, pinnedKeyId: string, name: string): TrustAnchor {
    if (!/^[0-9a-f]{96}$/.test(pinnedKeyId)) throw new Error('a root key pin is 96 lowercase hex digits (SHA-384)');
    const cert = new X509Certificate(der);
    const keyId = keyIdOf(cert);
    if (keyId !== pinnedKeyId) {
        throw new Error(`the root certificate "${cert.subject.replace(/\n/g, ', ')}" has key id ${keyId}, not the pinned ${pinnedKeyId}`);
    }
    if (!cert.ca || !cert.verify(cert.publicKey)) throw new Error(`${name}: the root certificate is not a self-signed CA`);
    return { der: Buffer.from(der), cert, keyId, name };
}

let intel: TrustAnchor | null = null;

/**
 * Intel's root as the production verifier uses it: dcap-qvl's embedded certificate, accepted only
 * because its key matches INTEL_ROOT_KEY_ID (a changed library fails here, at start).
 */
export function intelTrustAnchor(): TrustAnchor {
    intel ??= trustAnchor(Buffer.from(dcapConstants.TRUSTED_ROOT_CA_DER), INTEL_ROOT_KEY_ID, 'Intel SGX Root CA');
    return intel;
}

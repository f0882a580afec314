// The TLS side of attestation: a worker node's certificate is bound to its attestation statement by
// `tlsKeyHash` = sha256 over the DER SubjectPublicKeyInfo of the certificate's public key, read as a
// 256-bit unsigned integer. The client recomputes it from the certificate the TLS handshake shows.
import { createHash, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

/** sha256(DER SubjectPublicKeyInfo of the certificate's key) as a 256-bit integer. */
export function tlsKeyHashOfCert(certPem: string | Buffer): bigint {
    const cert = new X509Certificate(certPem);
    const spki = cert.publicKey.export({ format: 'der', type: 'spki' });
    return BigInt('0x' + createHash('sha256').update(spki).digest('hex'));
}

/** `0x` + 64 hex digits, as GET /attestation and the logs show 256-bit values. */
export function hex256(v: bigint): string {
    return '0x' + v.toString(16).padStart(64, '0');
}

export interface SelfSignedCert {
    certPem: string;
    keyPem: string;
}

export interface SelfSignedOptions {
    /** Subject common name (default `cocoon-worker`). */
    commonName?: string;
    /** DNS names in subjectAltName (default `localhost`). */
    dnsNames?: string[];
    /** IP addresses in subjectAltName (default `127.0.0.1`). */
    ipAddresses?: string[];
    days?: number;
    keySize?: number;
}

/**
 * A fresh self-signed certificate (RSA, sha256). Its key never leaves the process unless the caller
 * writes it out; clients pin it through the attested tlsKeyHash, not through a CA.
 */
export function generateSelfSignedCert(opts: SelfSignedOptions = {}): Promise<SelfSignedCert> {
    const dns = opts.dnsNames ?? ['localhost'];
    const ips = opts.ipAddresses ?? ['127.0.0.1'];
    const attrs = [{ name: 'commonName', value: opts.commonName ?? 'cocoon-worker' }];
    const extensions = [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
            name: 'subjectAltName',
            altNames: [...dns.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
        },
    ];
    return new Promise((resolve, reject) => {
        generate(attrs, { days: opts.days ?? 365, keySize: opts.keySize ?? 2048, algorithm: 'sha256', extensions }, (err, pems) => {
            if (err || !pems) return reject(err ?? new Error('certificate generation failed'));
            resolve({ certPem: pems.cert, keyPem: pems.private });
        });
    });
}

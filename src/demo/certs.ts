// A self-signed TLS certificate for a worker node, over an RSA key generated natively by Node
// (selfsigned's own key generation is pure JavaScript and takes seconds per key on a small machine).
import { generateKeyPairSync } from 'node:crypto';
import { generate } from 'selfsigned';

export interface NodeCert {
    certPem: string;
    keyPem: string;
}

export function fastSelfSignedCert(commonName = 'cocoon-worker', ip = '127.0.0.1'): NodeCert {
    const kp = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const attrs = [{ name: 'commonName', value: commonName }];
    const extensions = [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip }] },
    ];
    // `keyPair` is accepted by selfsigned 2.x (index.js) but missing from its type declarations.
    const opts = { days: 30, algorithm: 'sha256', extensions, keyPair: { privateKey: kp.privateKey, publicKey: kp.publicKey } };
    const pems = (generate as unknown as (a: typeof attrs, o: typeof opts) => { cert: string; private: string })(attrs, opts);
    return { certPem: pems.cert, keyPem: pems.private };
}

// ed25519 with Node's native implementation (OpenSSL): an order of magnitude faster than pure JS.
// Keys are 32-byte seeds, interchangeable with @ton/crypto's keyPairFromSeed.
import { createPrivateKey, createPublicKey, KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519Key {
    /** 32-byte public key, as the contracts store it (uint256). */
    publicKey: Buffer;
    /** Never logged or serialised by the SDK. */
    privateKey: KeyObject;
}

export function keyFromSeed(seed: Buffer): Ed25519Key {
    if (seed.length !== 32) throw new Error(`an ed25519 seed is 32 bytes, got ${seed.length}`);
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) as Buffer;
    return { publicKey: spki.subarray(SPKI_PREFIX.length), privateKey };
}

export function signHash(hash: Buffer, key: Ed25519Key): Buffer {
    return nodeSign(null, hash, key.privateKey);
}

export function verifyHash(hash: Buffer, signature: Buffer, publicKey: Buffer): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    const pub = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return nodeVerify(null, hash, pub, signature);
}

export function publicKeyToBigInt(publicKey: Buffer): bigint {
    return BigInt('0x' + publicKey.toString('hex'));
}

export function bigIntToPublicKey(k: bigint): Buffer {
    return Buffer.from(k.toString(16).padStart(64, '0'), 'hex');
}

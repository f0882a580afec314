// API keys: a capability the client signs with the key its ClientEscrow holds (`clientKey`), so that
// only the holder of that key can spend the escrow at a worker node. Byte layout in docs/SIGNING.md.
//
//   token   = "cocoon_" || base64url( payload || signature )       (no padding; 163 characters)
//   payload = version u8 (1) || tag u32 "CAPI" || escrow.workchain i8 || escrow.hash (32)
//             || notAfter u32 || limit u64 (nanoton, 0 = none) || nonce u64           (58 bytes)
//   signature = ed25519(clientKey, payload)                                            (64 bytes)
//
// The escrow address already names the worker, the root and the network (it derives from them), so a
// key is worthless anywhere else; the tag keeps it from passing as any other signed payload; the nonce
// tells two keys with the same terms apart (and is the key id people see).
import { createHash, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { Address } from '@ton/core';
import { bigIntToPublicKey, type Ed25519Key } from './ed25519';

export const API_KEY_PREFIX = 'cocoon_';
export const API_KEY_VERSION = 1;
/** "CAPI" */
export const TAG_API_KEY = 0x43415049;
export const API_KEY_PAYLOAD_BYTES = 58;
const TOKEN_BYTES = API_KEY_PAYLOAD_BYTES + 64;
const U64 = (1n << 64n) - 1n;

export interface ApiKeyTerms {
    /** The ClientEscrow the key spends. */
    escrow: Address;
    /** Unix time after which the key is refused. */
    notAfter: number;
    /** Most nanoton the key may spend in all (receipts issued under it); 0n = no limit beyond the escrow. */
    limit: bigint;
    /** Tells keys with the same terms apart; random by default. */
    nonce: bigint;
}

export interface ApiKey extends ApiKeyTerms {
    version: number;
    /** The 58 signed bytes. */
    payload: Buffer;
    signature: Buffer;
    /** Stable id of the key (hex of the first 16 bytes of sha256(payload)): what logs and the spend ledger name. */
    id: string;
}

export class ApiKeyFormatError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'ApiKeyFormatError';
    }
}

function check(t: ApiKeyTerms): void {
    if (!Number.isInteger(t.notAfter) || t.notAfter <= 0 || t.notAfter > 0xffffffff) throw new Error('notAfter must be a unix time (1..2^32-1)');
    if (t.limit < 0n || t.limit > U64) throw new Error('limit must be 0 (none) or a nanoton amount below 2^64');
    if (t.nonce < 0n || t.nonce > U64) throw new Error('nonce must be an unsigned 64-bit integer');
}

/** The bytes the client key signs. */
export function apiKeyPayload(t: ApiKeyTerms): Buffer {
    check(t);
    const b = Buffer.alloc(API_KEY_PAYLOAD_BYTES);
    b.writeUInt8(API_KEY_VERSION, 0);
    b.writeUInt32BE(TAG_API_KEY, 1);
    b.writeInt8(t.escrow.workChain, 5);
    t.escrow.hash.copy(b, 6);
    b.writeUInt32BE(t.notAfter, 38);
    b.writeBigUInt64BE(t.limit, 42);
    b.writeBigUInt64BE(t.nonce, 50);
    return b;
}

export function apiKeyId(payload: Buffer): string {
    return createHash('sha256').update(payload).digest().subarray(0, 16).toString('hex');
}

/** Signs an API key with the client key. `nonce` defaults to 8 random bytes. */
export function mintApiKey(t: Omit<ApiKeyTerms, 'nonce'> & { nonce?: bigint }, clientKey: Ed25519Key): string {
    const terms: ApiKeyTerms = { ...t, nonce: t.nonce ?? randomBytes(8).readBigUInt64BE() };
    const payload = apiKeyPayload(terms);
    const signature = nodeSign(null, payload, clientKey.privateKey);
    return API_KEY_PREFIX + Buffer.concat([payload, signature]).toString('base64url');
}

/**
 * Parses a token (with or without the `Bearer ` scheme) without checking its signature. Throws
 * ApiKeyFormatError naming what is wrong. Work is bounded: anything longer than a token is refused
 * before it is decoded.
 */
export function parseApiKey(token: string): ApiKey {
    let t = token.trim();
    if (/^bearer\s+/i.test(t)) t = t.replace(/^bearer\s+/i, '');
    if (!t.startsWith(API_KEY_PREFIX)) throw new ApiKeyFormatError(`not a Cocoon API key (it must start with "${API_KEY_PREFIX}")`);
    const body = t.slice(API_KEY_PREFIX.length);
    if (body.length !== Math.ceil((TOKEN_BYTES * 4) / 3) || !/^[A-Za-z0-9_-]+$/.test(body)) {
        throw new ApiKeyFormatError(`a Cocoon API key is "${API_KEY_PREFIX}" and ${Math.ceil((TOKEN_BYTES * 4) / 3)} base64url characters`);
    }
    const raw = Buffer.from(body, 'base64url');
    if (raw.length !== TOKEN_BYTES) throw new ApiKeyFormatError('the API key does not decode to 122 bytes');
    const payload = raw.subarray(0, API_KEY_PAYLOAD_BYTES);
    const version = payload.readUInt8(0);
    if (version !== API_KEY_VERSION) throw new ApiKeyFormatError(`API key version ${version} is not supported (this node speaks version ${API_KEY_VERSION})`);
    if (payload.readUInt32BE(1) !== TAG_API_KEY) throw new ApiKeyFormatError('the API key carries the wrong domain tag');
    const escrow = new Address(payload.readInt8(5), Buffer.from(payload.subarray(6, 38)));
    return {
        version, escrow, notAfter: payload.readUInt32BE(38), limit: payload.readBigUInt64BE(42), nonce: payload.readBigUInt64BE(50),
        payload: Buffer.from(payload), signature: Buffer.from(raw.subarray(API_KEY_PAYLOAD_BYTES)), id: apiKeyId(payload),
    };
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A client public key (uint256, as the escrow stores it) as a Node KeyObject: build once, verify many times. */
export function clientPublicKeyObject(clientKey: bigint): KeyObject {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, bigIntToPublicKey(clientKey)]), format: 'der', type: 'spki' });
}

/** True when `k` is signed by `clientKey` (a uint256 or a KeyObject made by clientPublicKeyObject). */
export function verifyApiKey(k: ApiKey, clientKey: bigint | KeyObject): boolean {
    if (k.signature.length !== 64) return false;
    if (typeof clientKey === 'bigint' && clientKey === 0n) return false;
    const pub = typeof clientKey === 'bigint' ? clientPublicKeyObject(clientKey) : clientKey;
    try {
        return nodeVerify(null, k.payload, pub, k.signature);
    } catch {
        return false;
    }
}

// The attestation statement verifiers sign, byte for byte as docs/SIGNING.md specifies, and the
// key binding a TEE puts in its quote's REPORTDATA.
import { createHash } from 'node:crypto';
import { Address, beginCell, Cell } from '@ton/core';
import { TAG_ATTESTATION } from './contracts';
import { Ed25519Key, publicKeyToBigInt, signHash, verifyHash, bigIntToPublicKey } from './ed25519';

export interface Statement {
    root: Address;
    operator: Address;
    /** Unix time the attestation lease ends (no later than the quote collateral's nextUpdate). */
    expiresAt: number;
    issuedAt: number;
    teeKey: bigint;
    measurement: bigint;
    tlsKeyHash: bigint;
    /** sha256 of the TDX quote the verifiers checked; 0 for a development attestation (no quote). */
    quoteHash: bigint;
    /** TCB_STATUS of the quote; TCB_STATUS.None (255) without a quote. */
    tcbStatus: number;
    /** The platform's FMSPC (6 bytes); 0 without a quote. */
    fmspc: bigint;
}

/** A development statement carries no quote: these are its quote facts. */
export const NO_QUOTE = { quoteHash: 0n, tcbStatus: 255, fmspc: 0n } as const;

/** TCB status codes as statements carry them (Intel's TCB level status strings). */
export const TCB_STATUS = {
    UpToDate: 0,
    SWHardeningNeeded: 1,
    ConfigurationNeeded: 2,
    ConfigurationAndSWHardeningNeeded: 3,
    OutOfDate: 4,
    OutOfDateConfigurationNeeded: 5,
    Revoked: 6,
    None: 255,
} as const;
export type TcbStatusName = keyof typeof TCB_STATUS;

/** Intel's status string -> its code; throws on a status this project does not know. */
export function tcbStatusCode(name: string): number {
    if (!Object.prototype.hasOwnProperty.call(TCB_STATUS, name)) throw new Error(`unknown TCB status "${name}"`);
    return TCB_STATUS[name as TcbStatusName];
}

/** A code -> Intel's status string ("Unknown(n)" for codes this project does not define). */
export function tcbStatusName(code: number): string {
    const e = Object.entries(TCB_STATUS).find(([, v]) => v === code);
    return e ? e[0] : `Unknown(${code})`;
}

export interface VerifierSignature {
    verifierKey: bigint;
    signature: Buffer;
}

export interface SignedStatement {
    statement: Statement;
    statementCell: Cell;
    /** Verifier signatures over the statement cell's hash, keys strictly ascending. */
    signatures: VerifierSignature[];
    /** The SignedAttestation cell carried by RegisterWorker. */
    cell: Cell;
}

const U256 = (1n << 256n) - 1n;
const U48 = (1n << 48n) - 1n;

function checkU256(name: string, v: bigint) {
    if (v < 0n || v > U256) throw new Error(`${name} must be a 256-bit unsigned integer`);
}

function checkUint(name: string, v: number, bits: number) {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new Error(`${name} must be a ${bits}-bit unsigned integer`);
}

export function buildStatementCell(s: Statement): Cell {
    checkU256('teeKey', s.teeKey);
    checkU256('measurement', s.measurement);
    checkU256('tlsKeyHash', s.tlsKeyHash);
    checkU256('quoteHash', s.quoteHash);
    checkUint('expiresAt', s.expiresAt, 32);
    checkUint('issuedAt', s.issuedAt, 32);
    checkUint('tcbStatus', s.tcbStatus, 8);
    if (s.fmspc < 0n || s.fmspc > U48) throw new Error('fmspc must be a 48-bit unsigned integer (6 bytes)');
    const keys = beginCell().storeUint(s.teeKey, 256).storeUint(s.measurement, 256).storeUint(s.tlsKeyHash, 256).endCell();
    return beginCell()
        .storeUint(TAG_ATTESTATION, 32)
        .storeAddress(s.root)
        .storeAddress(s.operator)
        .storeUint(s.expiresAt, 32)
        .storeUint(s.issuedAt, 32)
        .storeUint(s.quoteHash, 256)
        .storeUint(s.tcbStatus, 8)
        .storeUint(s.fmspc, 48)
        .storeRef(keys)
        .endCell();
}

export function parseStatementCell(c: Cell): Statement {
    const s = c.beginParse();
    const tag = s.loadUint(32);
    if (BigInt(tag) !== TAG_ATTESTATION) throw new Error(`not an attestation statement (tag 0x${tag.toString(16)})`);
    const root = s.loadAddress();
    const operator = s.loadAddress();
    const expiresAt = s.loadUint(32);
    const issuedAt = s.loadUint(32);
    const quoteHash = s.loadUintBig(256);
    const tcbStatus = s.loadUint(8);
    const fmspc = s.loadUintBig(48);
    const k = s.loadRef().beginParse();
    return {
        root, operator, expiresAt, issuedAt, teeKey: k.loadUintBig(256), measurement: k.loadUintBig(256), tlsKeyHash: k.loadUintBig(256),
        quoteHash, tcbStatus, fmspc,
    };
}

/** One verifier's signature over the statement (ed25519 over the cell hash). */
export function signStatementWith(s: Statement, verifier: Ed25519Key): VerifierSignature {
    return { verifierKey: publicKeyToBigInt(verifier.publicKey), signature: signHash(buildStatementCell(s).hash(), verifier) };
}

/** The SignedAttestation of `s` with these signatures (sorted by key; a key given twice throws). */
export function signedAttestation(s: Statement, sigs: VerifierSignature[]): SignedStatement {
    const statementCell = buildStatementCell(s);
    const signatures = sortSignatures(sigs);
    return { statement: s, statementCell, signatures, cell: signedAttestationCell(statementCell, signatures) };
}

/** signedAttestation(s, [one verifier's signature]): the single-verifier (quorum 1) form. */
export function signStatement(s: Statement, verifier: Ed25519Key): SignedStatement {
    return signedAttestation(s, [signStatementWith(s, verifier)]);
}

function sortSignatures(sigs: VerifierSignature[]): VerifierSignature[] {
    if (sigs.length === 0) throw new Error('an attestation needs at least one verifier signature');
    const sorted = [...sigs].sort((a, b) => (a.verifierKey < b.verifierKey ? -1 : a.verifierKey > b.verifierKey ? 1 : 0));
    for (let i = 0; i < sorted.length; i++) {
        checkU256('verifierKey', sorted[i].verifierKey);
        if (sorted[i].signature.length !== 64) throw new Error('an ed25519 signature is 64 bytes');
        if (i > 0 && sorted[i].verifierKey === sorted[i - 1].verifierKey) throw new Error('the same verifier key signed twice: each verifier counts once');
    }
    return sorted;
}

/**
 * SignedAttestation cell: the first (lowest) key and its signature inline with a reference to the
 * statement, then a list of VerifierSig cells (key, signature, maybe next) in ascending key order.
 */
export function signedAttestationCell(statementCell: Cell, sigs: VerifierSignature[]): Cell {
    const sorted = sortSignatures(sigs);
    let next: Cell | null = null;
    for (let i = sorted.length - 1; i >= 1; i--) {
        next = beginCell().storeUint(sorted[i].verifierKey, 256).storeBuffer(sorted[i].signature).storeMaybeRef(next).endCell();
    }
    return beginCell().storeUint(sorted[0].verifierKey, 256).storeBuffer(sorted[0].signature).storeRef(statementCell).storeMaybeRef(next).endCell();
}

/** Parses a SignedAttestation cell (signatures as they are, in their order on the wire). */
export function parseSignedAttestation(c: Cell): SignedStatement {
    const s = c.beginParse();
    const signatures: VerifierSignature[] = [{ verifierKey: s.loadUintBig(256), signature: s.loadBuffer(64) }];
    const statementCell = s.loadRef();
    let next = s.loadMaybeRef();
    while (next) {
        const n = next.beginParse();
        signatures.push({ verifierKey: n.loadUintBig(256), signature: n.loadBuffer(64) });
        next = n.loadMaybeRef();
        if (signatures.length > 64) throw new Error('a SignedAttestation with more than 64 signatures');
    }
    return { signatures, statementCell, statement: parseStatementCell(statementCell), cell: c };
}

/** Checks every verifier signature off-chain, and their strictly ascending order (the root does the same on-chain). */
export function verifySignedAttestation(a: SignedStatement): boolean {
    const h = a.statementCell.hash();
    for (let i = 0; i < a.signatures.length; i++) {
        const v = a.signatures[i];
        if (i > 0 && v.verifierKey <= a.signatures[i - 1].verifierKey) return false;
        if (!verifyHash(h, v.signature, bigIntToPublicKey(v.verifierKey))) return false;
    }
    return a.signatures.length > 0;
}

// ------------------------------------------------------------------ key binding (TDX REPORTDATA)

export const KEY_BINDING_DOMAIN = 'cocoon-ton/tdx-binding/v1';

export interface KeyBinding {
    root: Address;
    operator: Address;
    teeKey: bigint;
    tlsKeyHash: bigint;
}

function u256(v: bigint): Buffer {
    checkU256('binding value', v);
    return Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
}

function addrBytes(a: Address): Buffer {
    const wc = Buffer.alloc(1);
    wc.writeInt8(a.workChain);
    return Buffer.concat([wc, a.hash]);
}

/**
 * The 64 bytes a TEE puts in its quote's REPORTDATA: SHA-512 of the domain string, root, operator,
 * TEE key and TLS key hash — the part of the statement that exists before the quote does.
 */
export function keyBinding(b: KeyBinding): Buffer {
    return createHash('sha512')
        .update(Buffer.from(KEY_BINDING_DOMAIN, 'ascii'))
        .update(addrBytes(b.root))
        .update(addrBytes(b.operator))
        .update(u256(b.teeKey))
        .update(u256(b.tlsKeyHash))
        .digest();
}

// The attestation statement a verifier signs, byte for byte as docs/SIGNING.md specifies.
import { Address, beginCell, Cell } from '@ton/core';
import { TAG_ATTESTATION } from './contracts';
import { Ed25519Key, publicKeyToBigInt, signHash, verifyHash, bigIntToPublicKey } from './ed25519';

export interface Statement {
    root: Address;
    operator: Address;
    expiresAt: number;
    issuedAt: number;
    teeKey: bigint;
    measurement: bigint;
    tlsKeyHash: bigint;
}

export interface SignedStatement {
    verifierKey: bigint;
    signature: Buffer;
    statement: Statement;
    statementCell: Cell;
    /** The SignedAttestation cell carried by RegisterWorker. */
    cell: Cell;
}

const U256 = (1n << 256n) - 1n;

function checkU256(name: string, v: bigint) {
    if (v < 0n || v > U256) throw new Error(`${name} must be a 256-bit unsigned integer`);
}

export function buildStatementCell(s: Statement): Cell {
    checkU256('teeKey', s.teeKey);
    checkU256('measurement', s.measurement);
    checkU256('tlsKeyHash', s.tlsKeyHash);
    const keys = beginCell().storeUint(s.teeKey, 256).storeUint(s.measurement, 256).storeUint(s.tlsKeyHash, 256).endCell();
    return beginCell()
        .storeUint(TAG_ATTESTATION, 32)
        .storeAddress(s.root)
        .storeAddress(s.operator)
        .storeUint(s.expiresAt, 32)
        .storeUint(s.issuedAt, 32)
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
    const k = s.loadRef().beginParse();
    return { root, operator, expiresAt, issuedAt, teeKey: k.loadUintBig(256), measurement: k.loadUintBig(256), tlsKeyHash: k.loadUintBig(256) };
}

export function signStatement(s: Statement, verifier: Ed25519Key): SignedStatement {
    const statementCell = buildStatementCell(s);
    const signature = signHash(statementCell.hash(), verifier);
    const verifierKey = publicKeyToBigInt(verifier.publicKey);
    return { verifierKey, signature, statement: s, statementCell, cell: signedAttestationCell(verifierKey, signature, statementCell) };
}

export function signedAttestationCell(verifierKey: bigint, signature: Buffer, statementCell: Cell): Cell {
    if (signature.length !== 64) throw new Error('an ed25519 signature is 64 bytes');
    return beginCell().storeUint(verifierKey, 256).storeBuffer(signature).storeRef(statementCell).endCell();
}

export function parseSignedAttestation(c: Cell): SignedStatement {
    const s = c.beginParse();
    const verifierKey = s.loadUintBig(256);
    const signature = s.loadBuffer(64);
    const statementCell = s.loadRef();
    return { verifierKey, signature, statementCell, statement: parseStatementCell(statementCell), cell: c };
}

/** Checks the verifier's signature off-chain (the root does the same on-chain). */
export function verifySignedAttestation(a: SignedStatement): boolean {
    return verifyHash(a.statementCell.hash(), a.signature, bigIntToPublicKey(a.verifierKey));
}

// The cumulative usage receipt a worker's TEE key signs, byte for byte as docs/SIGNING.md specifies.
import { createHash } from 'node:crypto';
import { Address, beginCell, Cell } from '@ton/core';
import { TAG_RECEIPT } from './contracts';
import { Ed25519Key, signHash, verifyHash } from './ed25519';

/**
 * A cumulative receipt of one escrow epoch. Token classes are disjoint: prompt tokens not served
 * from a cache, cached prompt tokens, completion tokens (reasoning tokens count as completion).
 */
export interface UsageReceipt {
    escrow: Address;
    epoch: bigint;
    seq: bigint;
    promptTokens: bigint;
    cachedTokens: bigint;
    completionTokens: bigint;
    cost: bigint; // nanoton
}

/** Tokens of every class in a receipt (or a usage). */
export function receiptTokens(r: { promptTokens: bigint; cachedTokens: bigint; completionTokens: bigint }): bigint {
    return r.promptTokens + r.cachedTokens + r.completionTokens;
}

export interface SignedUsageReceipt {
    receipt: UsageReceipt;
    cell: Cell;
    signature: Buffer;
}

const U64 = (1n << 64n) - 1n;

function checkReceipt(r: UsageReceipt): void {
    for (const [k, v] of [['epoch', r.epoch], ['seq', r.seq], ['promptTokens', r.promptTokens], ['cachedTokens', r.cachedTokens], ['completionTokens', r.completionTokens]] as const) {
        if (v < 0n || v > U64) throw new Error(`receipt ${k} must fit in 64 bits`);
    }
    if (r.cost < 0n || r.cost >= 1n << 120n) throw new Error('receipt cost must fit in 120 bits');
}

export function buildReceiptCell(r: UsageReceipt): Cell {
    checkReceipt(r);
    return beginCell()
        .storeUint(TAG_RECEIPT, 32)
        .storeAddress(r.escrow)
        .storeUint(r.epoch, 64)
        .storeUint(r.seq, 64)
        .storeUint(r.promptTokens, 64)
        .storeUint(r.cachedTokens, 64)
        .storeUint(r.completionTokens, 64)
        .storeCoins(r.cost)
        .endCell();
}

export function parseReceiptCell(c: Cell): UsageReceipt {
    const s = c.beginParse();
    const tag = s.loadUint(32);
    if (BigInt(tag) !== TAG_RECEIPT) throw new Error(`not a receipt (tag 0x${tag.toString(16)})`);
    return {
        escrow: s.loadAddress(), epoch: s.loadUintBig(64), seq: s.loadUintBig(64),
        promptTokens: s.loadUintBig(64), cachedTokens: s.loadUintBig(64), completionTokens: s.loadUintBig(64), cost: s.loadCoins(),
    };
}

export function signReceipt(r: UsageReceipt, teeKey: Ed25519Key): SignedUsageReceipt {
    const cell = buildReceiptCell(r);
    return { receipt: r, cell, signature: signHash(cell.hash(), teeKey) };
}

export function verifyReceipt(s: SignedUsageReceipt, teePublicKey: Buffer): boolean {
    return verifyHash(s.cell.hash(), s.signature, teePublicKey);
}

/** SignedReceipt cell (signature + ref receipt), as SlashProof carries it and nodes store it. */
export function signedReceiptCell(s: SignedUsageReceipt): Cell {
    return beginCell().storeBuffer(s.signature).storeRef(s.cell).endCell();
}

export function parseSignedReceiptCell(c: Cell): SignedUsageReceipt {
    const sl = c.beginParse();
    const signature = sl.loadBuffer(64);
    const cell = sl.loadRef();
    return { signature, cell, receipt: parseReceiptCell(cell) };
}

// ------------------------------------------------------------------ native fast path
// The same bytes as above without @ton/core's Cell (whose hashing is pure-JS sha256): a receipt is
// one ordinary cell without references, so its representation hash is
// sha256(d1 = 0, d2 = floor(bits/8) + ceil(bits/8), data padded with a 1 bit then zeros), and the
// SignedReceipt BOC is two cells (the signature with one reference, then the receipt) in the layout
// Cell.toBoc() writes (no index, CRC32-C). Checked byte for byte against @ton/core in tests.

/** Bits of a receipt cell: tag 32 + address 267 + epoch, seq and three token classes 5 x 64 + coins 4 + 8 x (bytes of cost). */
function receiptDataBits(costBytes: number): number {
    return 32 + 267 + 320 + 4 + 8 * costBytes;
}

function bigBytes(v: bigint): Buffer {
    if (v === 0n) return Buffer.alloc(0);
    const h = v.toString(16);
    return Buffer.from(h.length % 2 ? '0' + h : h, 'hex');
}

/** Writes bits MSB first into a zeroed buffer. */
class BitWriter {
    pos = 0;
    constructor(readonly buf: Buffer) {}
    byte(b: number): void {
        const sh = this.pos & 7;
        const i = this.pos >> 3;
        if (sh === 0) this.buf[i] = b;
        else {
            this.buf[i] |= b >> sh;
            this.buf[i + 1] |= (b << (8 - sh)) & 0xff;
        }
        this.pos += 8;
    }
    bytes(b: Uint8Array): void {
        for (let i = 0; i < b.length; i++) this.byte(b[i]);
    }
    bits(v: number, n: number): void {
        for (let k = n - 1; k >= 0; k--) {
            if ((v >> k) & 1) this.buf[this.pos >> 3] |= 0x80 >> (this.pos & 7);
            this.pos++;
        }
    }
}

const u64 = (v: bigint) => {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(v);
    return b;
};

/**
 * The receipt cell's descriptors and padded data, as its representation starts: [d1, d2, data...].
 * Same range checks as buildReceiptCell.
 */
export function receiptCellRepr(r: UsageReceipt): Buffer {
    checkReceipt(r);
    const cost = bigBytes(r.cost);
    const bits = receiptDataBits(cost.length);
    const dataBytes = Math.ceil(bits / 8);
    const out = Buffer.alloc(2 + dataBytes);
    out[0] = 0; // no refs, ordinary, level 0
    out[1] = Math.floor(bits / 8) + dataBytes;
    const w = new BitWriter(out.subarray(2));
    w.bytes(u64(TAG_RECEIPT).subarray(4));
    w.bits(0b100, 3); // addr_std, no anycast
    w.byte(r.escrow.workChain & 0xff);
    w.bytes(r.escrow.hash);
    w.bytes(u64(r.epoch));
    w.bytes(u64(r.seq));
    w.bytes(u64(r.promptTokens));
    w.bytes(u64(r.cachedTokens));
    w.bytes(u64(r.completionTokens));
    w.bits(cost.length, 4);
    w.bytes(cost);
    if (bits % 8 !== 0) w.bits(1, 1); // completion tag
    return out;
}

/** buildReceiptCell(r).hash(), with Node's native sha256: what the TEE key signs. */
export function receiptCellHash(r: UsageReceipt): Buffer {
    return createHash('sha256').update(receiptCellRepr(r)).digest();
}

const CRC32C_TABLE = (() => {
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
        t[n] = c;
    }
    return t;
})();

function crc32c(b: Uint8Array, end: number): number {
    let crc = -1;
    for (let i = 0; i < end; i++) crc = CRC32C_TABLE[(crc ^ b[i]) & 0xff] ^ (crc >>> 8);
    return crc ^ -1;
}

/**
 * signedReceiptCell({receipt: r, signature}).toBoc(), byte for byte, without building cells. `repr`
 * may be passed when receiptCellRepr(r) was computed already.
 */
export function signedReceiptBoc(r: UsageReceipt, signature: Buffer, repr: Buffer = receiptCellRepr(r)): Buffer {
    if (signature.length !== 64) throw new Error('a receipt signature is 64 bytes');
    const rootSize = 2 + 64 + 1; // d1 d2, 512 bits, one 1-byte ref index
    const childSize = repr.length; // d1 d2 data, no refs
    const total = rootSize + childSize; // < 256: offset_bytes = 1
    const out = Buffer.alloc(11 + total + 4);
    out.writeUInt32BE(0xb5ee9c72, 0);
    out[4] = 0x41; // no index, crc32c, no cache bits, flags 0, size_bytes 1
    out[5] = 1; // offset_bytes
    out[6] = 2; // cells
    out[7] = 1; // roots
    out[8] = 0; // absent
    out[9] = total;
    out[10] = 0; // root index
    out[11] = 1; // d1: one ref
    out[12] = 128; // d2: 512 bits
    signature.copy(out, 13);
    out[77] = 1; // the ref: cell index 1
    repr.copy(out, 78);
    out.writeInt32LE(crc32c(out, 11 + total), 11 + total);
    return out;
}

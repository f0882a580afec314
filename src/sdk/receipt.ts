// The cumulative usage receipt a worker's TEE key signs, byte for byte as docs/SIGNING.md specifies.
import { Address, beginCell, Cell } from '@ton/core';
import { TAG_RECEIPT } from './contracts';
import { Ed25519Key, signHash, verifyHash } from './ed25519';

export interface UsageReceipt {
    escrow: Address;
    epoch: bigint;
    seq: bigint;
    tokens: bigint;
    cost: bigint; // nanoton
}

export interface SignedUsageReceipt {
    receipt: UsageReceipt;
    cell: Cell;
    signature: Buffer;
}

const U64 = (1n << 64n) - 1n;

export function buildReceiptCell(r: UsageReceipt): Cell {
    for (const [k, v] of [['epoch', r.epoch], ['seq', r.seq], ['tokens', r.tokens]] as const) {
        if (v < 0n || v > U64) throw new Error(`receipt ${k} must fit in 64 bits`);
    }
    if (r.cost < 0n || r.cost >= 1n << 120n) throw new Error('receipt cost must fit in 120 bits');
    return beginCell()
        .storeUint(TAG_RECEIPT, 32)
        .storeAddress(r.escrow)
        .storeUint(r.epoch, 64)
        .storeUint(r.seq, 64)
        .storeUint(r.tokens, 64)
        .storeCoins(r.cost)
        .endCell();
}

export function parseReceiptCell(c: Cell): UsageReceipt {
    const s = c.beginParse();
    const tag = s.loadUint(32);
    if (BigInt(tag) !== TAG_RECEIPT) throw new Error(`not a receipt (tag 0x${tag.toString(16)})`);
    return { escrow: s.loadAddress(), epoch: s.loadUintBig(64), seq: s.loadUintBig(64), tokens: s.loadUintBig(64), cost: s.loadCoins() };
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

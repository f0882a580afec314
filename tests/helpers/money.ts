// Value-flow accounting over sandbox transactions: what wallets sent into our contracts, what our
// contracts paid out to wallets, and what our contracts' transactions burned in fees.
import { Blockchain, BlockchainTransaction, SendMessageResult } from '@ton/sandbox';
import { Address, Cell, Message } from '@ton/core';
import {
    loadEscrowPayout, loadEscrowRefund, loadRewardsPaid, loadSlashBounty, loadTreasuryWithdrawn,
    loadStakeWithdrawn, loadProtocolFee,
} from '../../src/sdk';

export const OP = {
    EscrowPayout: 0xc0c00403,
    EscrowRefund: 0xc0c00404,
    RewardsPaid: 0xc0c00402,
    SlashBounty: 0xc0c00405,
    TreasuryWithdrawn: 0xc0c00406,
    StakeWithdrawn: 0xc0c00401,
    ProtocolFee: 0xc0c00112,
    Excesses: 0xd53276db,
} as const;

/** One internal message our contracts sent to a wallet (an address outside the tracked set). */
export interface Payment {
    from: Address;
    to: Address;
    value: bigint;       // coins the message carried (what the wallet is credited)
    op: number | null;
    amount: bigint | null; // the `amount` field of a payout body, if the op has one
    body: Cell;
}

export interface Flow {
    fromWallets: bigint; // value of messages from wallets that our contracts' transactions received
    toWallets: bigint;   // value of messages our contracts sent to wallets
    fees: bigint;        // total fees of our contracts' transactions + forward fees of their outbound messages
}

function opOf(body: Cell): number | null {
    const s = body.beginParse();
    return s.remainingBits >= 32 ? s.loadUint(32) : null;
}

/** The `amount` carried by a payout body (every payout message puts it right after the opcode). */
export function payoutAmount(body: Cell): bigint | null {
    const op = opOf(body);
    const s = body.beginParse();
    switch (op) {
        case OP.EscrowPayout: return loadEscrowPayout(s).amount;
        case OP.EscrowRefund: return loadEscrowRefund(s).amount;
        case OP.RewardsPaid: return loadRewardsPaid(s).amount;
        case OP.SlashBounty: return loadSlashBounty(s).amount;
        case OP.TreasuryWithdrawn: return loadTreasuryWithdrawn(s).amount;
        case OP.StakeWithdrawn: return loadStakeWithdrawn(s).amount;
        case OP.ProtocolFee: return loadProtocolFee(s).amount;
        default: return null;
    }
}

function outMessages(tx: BlockchainTransaction): Message[] {
    return tx.outMessages.values();
}

function destOf(tx: BlockchainTransaction): Address | null {
    const m = tx.inMessage;
    if (!m || m.info.type !== 'internal') return null;
    return m.info.dest;
}

/** The set of our contracts' addresses and the arithmetic of value crossing its border. */
export class Ledger {
    private readonly ours = new Set<string>();

    constructor(addresses: Address[] = []) {
        for (const a of addresses) this.add(a);
    }

    add(a: Address): void { this.ours.add(a.toRawString()); }
    has(a: Address): boolean { return this.ours.has(a.toRawString()); }
    addresses(): Address[] { return [...this.ours].map((s) => Address.parseRaw(s)); }

    /** Transactions that ran on one of our contracts. */
    ourTransactions(txs: BlockchainTransaction[]): BlockchainTransaction[] {
        return txs.filter((tx) => {
            const d = destOf(tx);
            return d !== null && this.has(d);
        });
    }

    flow(txs: BlockchainTransaction[]): Flow {
        let fromWallets = 0n;
        let toWallets = 0n;
        let fees = 0n;
        for (const tx of this.ourTransactions(txs)) {
            const m = tx.inMessage!;
            if (m.info.type === 'internal' && !this.has(m.info.src)) fromWallets += m.info.value.coins;
            fees += tx.totalFees.coins;
            for (const o of outMessages(tx)) {
                if (o.info.type !== 'internal') continue; // external-out fees are inside totalFees
                fees += o.info.forwardFee;
                if (!this.has(o.info.dest)) toWallets += o.info.value.coins;
            }
        }
        return { fromWallets, toWallets, fees };
    }

    /** Messages our contracts sent to wallets. */
    payments(txs: BlockchainTransaction[]): Payment[] {
        const out: Payment[] = [];
        for (const tx of this.ourTransactions(txs)) {
            for (const o of outMessages(tx)) {
                if (o.info.type !== 'internal' || this.has(o.info.dest)) continue;
                const op = opOf(o.body);
                let amount: bigint | null = null;
                try { amount = payoutAmount(o.body); } catch { amount = null; }
                out.push({ from: o.info.src, to: o.info.dest, value: o.info.value.coins, op, amount, body: o.body });
            }
        }
        return out;
    }

    async balances(chain: Blockchain): Promise<Map<string, bigint>> {
        const m = new Map<string, bigint>();
        for (const s of this.ours) m.set(s, (await chain.getContract(Address.parseRaw(s))).balance);
        return m;
    }

    async totalHeld(chain: Blockchain): Promise<bigint> {
        let t = 0n;
        for (const v of (await this.balances(chain)).values()) t += v;
        return t;
    }
}

/** Payments of one op to one address. */
export function paymentsTo(ps: Payment[], to: Address, op?: number): Payment[] {
    return ps.filter((p) => p.to.equals(to) && (op === undefined || p.op === op));
}

/** Value credited to `to` by messages in these transactions (from anyone). */
export function receivedBy(res: SendMessageResult | BlockchainTransaction[], to: Address): bigint {
    const txs = Array.isArray(res) ? res : res.transactions;
    let v = 0n;
    for (const tx of txs) {
        const m = tx.inMessage;
        if (m && m.info.type === 'internal' && m.info.dest.equals(to)) v += m.info.value.coins;
    }
    return v;
}

/** The exit code of the compute phase of the (first) transaction on `addr`, or null. */
export function exitCodeAt(res: SendMessageResult, addr: Address): number | null {
    for (const tx of res.transactions) {
        const m = tx.inMessage;
        if (!m || m.info.type !== 'internal' || !m.info.dest.equals(addr)) continue;
        const d: any = tx.description;
        if (d.type !== 'generic' || d.computePhase.type !== 'vm') return null;
        return d.computePhase.exitCode;
    }
    return null;
}

/** Every transaction in the result succeeded (compute and action phases). */
export function allSucceeded(res: SendMessageResult): boolean {
    return res.transactions.every((tx) => {
        const d: any = tx.description;
        if (d.type !== 'generic') return true;
        if (d.aborted) return false;
        if (d.computePhase.type === 'vm' && !d.computePhase.success) return false;
        return !d.actionPhase || d.actionPhase.success;
    });
}

export interface Tracked {
    res: SendMessageResult;
    flow: Flow;
    payments: Payment[];
    /** Change of the summed balance of our contracts. */
    heldDelta: bigint;
}

/**
 * Runs `send` and checks conservation across our contracts: what wallets sent in equals what our
 * contracts now hold more, plus what they paid out to wallets, plus the fees of their transactions.
 */
export async function tracked(ledger: Ledger, chain: Blockchain, send: () => Promise<SendMessageResult>): Promise<Tracked> {
    const before = await ledger.totalHeld(chain);
    const res = await send();
    const after = await ledger.totalHeld(chain);
    const flow = ledger.flow(res.transactions);
    const heldDelta = after - before;
    expect(flow.fromWallets).toBe(heldDelta + flow.toWallets + flow.fees);
    return { res, flow, payments: ledger.payments(res.transactions), heldDelta };
}

/** A getter result with every Address turned into its raw string, for deep equality. */
export function plain<T>(v: T): unknown {
    if (v instanceof Address) return v.toRawString();
    if (v instanceof Cell) return v.hash().toString('hex');
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') {
        const o: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) o[k] = plain(x);
        return o;
    }
    return v;
}

// ---------------------------------------------------------------- slashing proofs

import { signedReceiptCell, signReceipt, publicKeyToBigInt, type SignedUsageReceipt, type Ed25519Key, type SlashProof } from '../../src/sdk';

/** The SlashProof message for two receipts signed by `key` (the TEE key, or its public key). */
export function slashProofBody(a: SignedUsageReceipt, b: SignedUsageReceipt, key: Ed25519Key | bigint, queryId = 0n): SlashProof {
    const k = typeof key === 'bigint' ? key : publicKeyToBigInt(key.publicKey);
    return { $$type: 'SlashProof', queryId, key: k, sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b) };
}

/** Two receipts for one escrow epoch with the same seq and different totals. */
export function equivocatingPair(escrow: Address, epoch: bigint, tee: Ed25519Key, seq = 1n): [SignedUsageReceipt, SignedUsageReceipt] {
    return [
        signReceipt({ escrow, epoch, seq, promptTokens: 600n, cachedTokens: 100n, completionTokens: 300n, cost: 100n }, tee),
        signReceipt({ escrow, epoch, seq, promptTokens: 600n, cachedTokens: 100n, completionTokens: 300n, cost: 200n }, tee),
    ];
}

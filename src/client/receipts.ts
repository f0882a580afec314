// Verification of the cumulative receipts a worker attaches to each answer, and the client's book
// of the latest verified receipt per escrow (what it would show in a dispute).
import { Address, Cell } from '@ton/core';
import { readFileSync, existsSync } from 'node:fs';
import { parseSignedReceiptCell, verifyReceipt, bigIntToPublicKey, type SignedUsageReceipt } from '../sdk';
import { ClientError } from './errors';
import { cumulativeCost, requestCost, TOKENS_PER_PRICE_UNIT } from './pricing';
import { writeFileAtomic } from './atomicFile';

/** `cocoon_receipt` as the worker sends it (docs/HTTP-API.md): every integer a decimal string. */
export interface WireReceipt {
    escrow: string;
    epoch: string;
    seq: string;
    tokens: string;
    cost: string;
    requestTokens: string;
    requestCost: string;
    signature: string; // hex
    boc: string;       // base64 SignedReceipt cell
    /** The price the worker charged this request at (nanoton per 1M tokens), when it says. */
    price?: string;
}

export interface VerifiedReceipt {
    escrow: Address;
    epoch: bigint;
    seq: bigint;
    tokens: bigint;
    cost: bigint;
    requestTokens: bigint;
    requestCost: bigint;
    signed: SignedUsageReceipt;
    boc: string;
    /** The TEE key that signed it (the worker's key when it was verified); undefined in receipts stored before keys were recorded. */
    signer?: bigint;
    /** The price (nanoton per 1M tokens) its increment was checked against. */
    price?: bigint;
    /** Set when the worker's new key continued from totals below the previous receipt (it lost receipts: in the client's favour). */
    note?: string;
}

/** What the receipt must agree with: chain state and the usage the answer showed. */
export interface ReceiptContext {
    escrow: Address;
    /** The escrow's epoch read from the chain. */
    epoch: bigint;
    /** The worker's attested TEE key read from the chain (Worker.info().teeKey). */
    teeKey: bigint;
    /** The worker's price read from the chain before the request (nanoton per 1M tokens). */
    price: bigint;
    /**
     * Other prices in force for this request (docs/SIGNING.md "Pricing rule"): the price read after
     * the answer, and the one read before the previous request (a node's cached price may lag one
     * change behind).
     */
    prices?: bigint[];
    /** The client's cap in the escrow, if known. */
    maxPrice?: bigint;
    /** usage.total_tokens of the answer this receipt came with. */
    usageTokens: bigint;
    /** The last receipt this client verified for the escrow (same epoch), if any. */
    previous?: VerifiedReceipt;
    /** The escrow's last settled receipt on-chain (lastSeq/lastTokens/lastCost), a floor when no previous is known. */
    settled?: { seq: bigint; tokens: bigint; cost: bigint };
    /** The TEE key the escrow holds (read after the answer): needed when the worker's key changed since the previous receipt. */
    escrowKey?: bigint;
    /**
     * An earlier request failed after it was sent (cut stream, timeout): the worker may have billed
     * it with a receipt this client never saw, so the totals may have grown by more than this
     * request. Seq and totals must still grow.
     */
    gapAllowed?: boolean;
}

const DEC = /^(0|[1-9][0-9]*)$/;

function bad(code: 'BAD_RECEIPT' | 'BAD_RECEIPT_SIGNATURE' | 'COST_MISMATCH' | 'STALE_RECEIPT', msg: string, details: Record<string, unknown> = {}): ClientError {
    const hints = {
        BAD_RECEIPT: 'the worker sent a receipt the client cannot use; stop using this worker and keep your last good receipt.',
        BAD_RECEIPT_SIGNATURE: "the receipt is not signed by the worker's attested TEE key; stop using this worker (the answer did not come from the attested enclave).",
        COST_MISMATCH: 'the worker charged more (or differently) than its on-chain price for the usage shown; stop using it and close the escrow.',
        STALE_RECEIPT: 'the worker reused or rolled back its counters (possible equivocation); keep both receipts as a slash proof and close the escrow.',
    } as const;
    return new ClientError(code, `receipt rejected: ${msg}`, hints[code], details);
}

function dec(w: WireReceipt, k: keyof WireReceipt): bigint {
    const v = w[k];
    if (typeof v !== 'string' || !DEC.test(v)) throw bad('BAD_RECEIPT', `field ${k} is not a decimal string`);
    return BigInt(v);
}

/**
 * What a request of `n` tokens costs after the totals (t0 tokens, c0 nanoton) at price p, the way
 * the worker signs it: the increment of the cumulative formula, floor(t1*p/1e6) - floor(t0*p/1e6),
 * with the cumulative cost kept within the escrow's cap floor(t1*maxPrice/1e6) (never below c0).
 */
export function expectedRequestCost(t0: bigint, c0: bigint, n: bigint, price: bigint, maxPrice?: bigint): bigint {
    const t1 = t0 + n;
    let c1 = c0 + requestCost(t0, n, price);
    if (maxPrice !== undefined) {
        const cap = cumulativeCost(t1, maxPrice);
        if (c1 > cap) c1 = cap < c0 ? c0 : cap;
    }
    return c1 - c0;
}

/** Parses and checks a receipt; throws a ClientError naming the first check that failed. */
export function verifyWireReceipt(w: WireReceipt, ctx: ReceiptContext): VerifiedReceipt {
    if (!w || typeof w !== 'object') throw bad('BAD_RECEIPT', 'the answer carries no cocoon_receipt');
    const f = {
        epoch: dec(w, 'epoch'), seq: dec(w, 'seq'), tokens: dec(w, 'tokens'), cost: dec(w, 'cost'),
        requestTokens: dec(w, 'requestTokens'), requestCost: dec(w, 'requestCost'),
    };
    let signed: SignedUsageReceipt;
    try {
        signed = parseSignedReceiptCell(Cell.fromBase64(w.boc));
    } catch (e) {
        throw bad('BAD_RECEIPT', `boc is not a SignedReceipt cell (${(e as Error).message})`);
    }
    const r = signed.receipt;
    // The JSON fields are a convenience: they must say exactly what the signed cell says.
    let escrow: Address;
    try {
        escrow = Address.parse(w.escrow);
    } catch {
        throw bad('BAD_RECEIPT', `escrow ${w.escrow} is not an address`);
    }
    if (!escrow.equals(r.escrow) || f.epoch !== r.epoch || f.seq !== r.seq || f.tokens !== r.tokens || f.cost !== r.cost) {
        throw bad('BAD_RECEIPT', 'the JSON fields differ from the signed cell');
    }
    if (typeof w.signature !== 'string' || w.signature.replace(/^0x/, '').toLowerCase() !== signed.signature.toString('hex')) {
        throw bad('BAD_RECEIPT', 'the signature field differs from the signed cell');
    }
    if (!verifyReceipt(signed, bigIntToPublicKey(ctx.teeKey))) {
        throw bad('BAD_RECEIPT_SIGNATURE', 'signature does not verify against the on-chain TEE key');
    }
    if (!r.escrow.equals(ctx.escrow)) throw bad('BAD_RECEIPT', `receipt is for escrow ${r.escrow.toString()}, not ${ctx.escrow.toString()}`);
    if (r.epoch !== ctx.epoch) throw bad('BAD_RECEIPT', `receipt is for epoch ${r.epoch}, the escrow is in epoch ${ctx.epoch}`);

    // Usage and cost: the request's increment, at a price in force for it (docs/SIGNING.md).
    if (f.requestTokens !== ctx.usageTokens) {
        throw bad('COST_MISMATCH', `requestTokens ${f.requestTokens} but the answer's usage shows ${ctx.usageTokens} tokens`);
    }
    if (f.requestTokens > r.tokens) throw bad('BAD_RECEIPT', 'requestTokens exceeds the cumulative tokens');
    if (f.requestCost > r.cost) throw bad('COST_MISMATCH', `request cost ${f.requestCost} exceeds the cumulative cost ${r.cost}`);
    const start = { tokens: r.tokens - f.requestTokens, cost: r.cost - f.requestCost };
    const prices = [ctx.price, ...(ctx.prices ?? [])].filter((p, i, a) => a.indexOf(p) === i);
    const price = prices.find((p) => f.requestCost === expectedRequestCost(start.tokens, start.cost, f.requestTokens, p, ctx.maxPrice));
    if (price === undefined) {
        const expected = expectedRequestCost(start.tokens, start.cost, f.requestTokens, ctx.price, ctx.maxPrice);
        throw bad('COST_MISMATCH', `request cost ${f.requestCost} for ${f.requestTokens} tokens is not the increment at the price in force (${prices.join(' or ')} per 1M: ${expected})`,
            { expected, got: f.requestCost });
    }
    if (ctx.maxPrice !== undefined && r.cost * TOKENS_PER_PRICE_UNIT > r.tokens * ctx.maxPrice) {
        throw bad('COST_MISMATCH', 'cost is above the escrow price cap');
    }

    // Continuity: against the last receipt this client holds (exact), else against the chain (floor).
    let note: string | undefined;
    const prev = ctx.previous && ctx.previous.epoch === r.epoch ? ctx.previous : undefined;
    const sameKey = prev && (prev.signer === undefined || prev.signer === ctx.teeKey);
    if (prev && sameKey) {
        if (r.seq <= prev.seq) throw bad('STALE_RECEIPT', `seq ${r.seq} does not grow past ${prev.seq}`, { previous: prev.seq, got: r.seq });
        if (start.tokens < prev.tokens || start.cost < prev.cost) {
            throw bad('STALE_RECEIPT', `the totals before this request (${start.tokens} tokens, ${start.cost} nanoton) went below the previous receipt's (${prev.tokens}, ${prev.cost})`);
        }
        if ((start.tokens !== prev.tokens || start.cost !== prev.cost) && !ctx.gapAllowed) {
            throw bad('COST_MISMATCH', `cumulative tokens ${r.tokens} should be ${prev.tokens} + ${f.requestTokens}: tokens were billed that no answer showed`);
        }
    } else {
        if (prev) {
            // The worker restarted with a new key (attested on-chain). Its receipts continue from its
            // ledger or from what the chain settled; the old key's receipts no longer pay once the
            // escrow holds the new key, so that must be so before lower totals are accepted.
            if (ctx.escrowKey !== undefined && ctx.escrowKey !== ctx.teeKey) {
                throw bad('BAD_RECEIPT', "the receipt is signed by the worker's new key but the escrow still holds the old one");
            }
            if (start.tokens < prev.tokens || start.cost < prev.cost) {
                if (ctx.escrowKey === undefined) throw bad('STALE_RECEIPT', 'the worker changed keys and went below your previous receipt; the escrow key is unknown');
                note = `the worker's new key continued from ${start.tokens} tokens, below your previous receipt's ${prev.tokens} (it lost receipts; you are not billed twice)`;
            }
        }
        if (ctx.settled) {
            const s = ctx.settled;
            if (r.seq <= s.seq || start.tokens < s.tokens || start.cost < s.cost) {
                throw bad('STALE_RECEIPT', `receipt (seq ${r.seq}, from ${start.tokens} tokens) does not continue from the one settled on-chain (seq ${s.seq}, ${s.tokens} tokens)`);
            }
        }
    }
    return {
        escrow: r.escrow, epoch: r.epoch, seq: r.seq, tokens: r.tokens, cost: r.cost, requestTokens: f.requestTokens, requestCost: f.requestCost, signed, boc: w.boc,
        signer: ctx.teeKey, price, ...(note ? { note } : {}),
    };
}

interface StoredReceipt { escrow: string; epoch: string; seq: string; tokens: string; cost: string; requestTokens: string; requestCost: string; boc: string; signer?: string; price?: string }

/**
 * The latest verified receipt per escrow; optionally persisted to a JSON file (the CLI and the
 * gateway do), rewritten atomically (mode 0600) before accept() returns: a crash leaves the previous
 * or the new list, never a torn file.
 */
export class ReceiptBook {
    private readonly latestBy = new Map<string, VerifiedReceipt>();
    private readonly queues = new Map<string, Promise<unknown>>();
    private readonly gaps = new Set<string>();

    constructor(private readonly file?: string) {
        if (file && existsSync(file)) {
            const rows = JSON.parse(readFileSync(file, 'utf8')) as StoredReceipt[];
            for (const s of rows) {
                const signed = parseSignedReceiptCell(Cell.fromBase64(s.boc));
                this.latestBy.set(signed.receipt.escrow.toRawString(), {
                    ...signed.receipt, requestTokens: BigInt(s.requestTokens), requestCost: BigInt(s.requestCost), signed, boc: s.boc,
                    ...(s.signer ? { signer: BigInt(s.signer) } : {}), ...(s.price ? { price: BigInt(s.price) } : {}),
                });
            }
        }
    }

    latest(escrow: Address): VerifiedReceipt | undefined {
        return this.latestBy.get(escrow.toRawString());
    }

    all(): VerifiedReceipt[] {
        return [...this.latestBy.values()];
    }

    /** Verifies against the stored latest receipt and keeps it if it passes. */
    accept(w: WireReceipt, ctx: Omit<ReceiptContext, 'previous' | 'gapAllowed'>): VerifiedReceipt {
        const key = ctx.escrow.toRawString();
        const v = verifyWireReceipt(w, { ...ctx, previous: this.latest(ctx.escrow), gapAllowed: this.gaps.has(key) });
        this.gaps.delete(key);
        this.latestBy.set(key, v);
        this.save();
        return v;
    }

    /**
     * Runs `fn` after every earlier call for the same escrow has finished: requests on one escrow are
     * sequential, so each receipt must extend the previous one exactly.
     */
    exclusive<T>(escrow: Address, fn: () => Promise<T>): Promise<T> {
        const key = escrow.toRawString();
        const prev = this.queues.get(key) ?? Promise.resolve();
        const run = prev.then(fn, fn);
        const tail = run.catch(() => undefined);
        this.queues.set(key, tail);
        void tail.then(() => {
            if (this.queues.get(key) === tail) this.queues.delete(key);
        });
        return run;
    }

    /** A request on this escrow failed after it was sent: its receipt may be missing here. */
    markGap(escrow: Address): void {
        this.gaps.add(escrow.toRawString());
    }

    /** Forget an escrow (after withdrawal its epoch is over). */
    forget(escrow: Address): void {
        this.latestBy.delete(escrow.toRawString());
        this.save();
    }

    private save(): void {
        if (!this.file) return;
        const rows: StoredReceipt[] = this.all().map((v) => ({
            escrow: v.escrow.toString(), epoch: v.epoch.toString(), seq: v.seq.toString(), tokens: v.tokens.toString(),
            cost: v.cost.toString(), requestTokens: v.requestTokens.toString(), requestCost: v.requestCost.toString(), boc: v.boc,
            ...(v.signer !== undefined ? { signer: '0x' + v.signer.toString(16) } : {}), ...(v.price !== undefined ? { price: v.price.toString() } : {}),
        }));
        writeFileAtomic(this.file, JSON.stringify(rows, null, 2));
    }
}

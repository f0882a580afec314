// Verification of the cumulative receipts a worker attaches to each answer, and the client's book
// of the latest verified receipt per escrow (what it would show in a dispute).
import { Address, Cell } from '@ton/core';
import { readFileSync, existsSync } from 'node:fs';
import {
    parseSignedReceiptCell, verifyReceipt, bigIntToPublicKey, receiptTokens, nextCost, capCost, classTokens, samePrices,
    type SignedUsageReceipt, type ClassTokens, type PriceSet,
} from '../sdk';
import { ClientError } from './errors';
import { writeFileAtomic } from './atomicFile';

/** `cocoon_receipt` as the worker sends it (docs/HTTP-API.md): every integer a decimal string. */
export interface WireReceipt {
    escrow: string;
    epoch: string;
    seq: string;
    promptTokens: string;
    cachedTokens: string;
    completionTokens: string;
    /** The three classes together. */
    tokens: string;
    cost: string;
    requestPromptTokens: string;
    requestCachedTokens: string;
    requestCompletionTokens: string;
    requestTokens: string;
    requestCost: string;
    signature: string; // hex
    boc: string;       // base64 SignedReceipt cell
    /** The prices the worker charged this request at (nanoton per 1M tokens of each class), when it says. */
    prices?: { prompt: string; cached: string; completion: string };
}

export interface VerifiedReceipt extends ClassTokens {
    escrow: Address;
    epoch: bigint;
    seq: bigint;
    /** The three classes together. */
    tokens: bigint;
    cost: bigint;
    /** This request's tokens per class. */
    request: ClassTokens;
    requestTokens: bigint;
    requestCost: bigint;
    signed: SignedUsageReceipt;
    boc: string;
    /** The TEE key that signed it (the worker's key when it was verified); undefined in receipts stored before keys were recorded. */
    signer?: bigint;
    /** The prices (nanoton per 1M tokens of each class) its increment was checked against. */
    prices?: PriceSet;
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
    /** The worker's prices read from the chain before the request (nanoton per 1M tokens of each class). */
    prices: PriceSet;
    /**
     * Other prices in force for this request (docs/SIGNING.md "Pricing rule"): those read after the
     * answer, and those read before the previous request (a node's cached prices may lag one change
     * behind).
     */
    otherPrices?: PriceSet[];
    /** The client's caps in the escrow, if known. */
    caps?: PriceSet;
    /** The tokens per class the answer's usage shows (usageClassesOf). */
    usage: ClassTokens;
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

/** OpenAI's usage object of an answer (chat, text completion, embeddings). */
export interface UsageJson {
    prompt_tokens: number;
    completion_tokens?: number;
    total_tokens: number;
    prompt_tokens_details?: { cached_tokens?: number } | null;
    completion_tokens_details?: { reasoning_tokens?: number } | null;
}

const DEC = /^(0|[1-9][0-9]*)$/;

function bad(code: 'BAD_RECEIPT' | 'BAD_RECEIPT_SIGNATURE' | 'COST_MISMATCH' | 'STALE_RECEIPT', msg: string, details: Record<string, unknown> = {}): ClientError {
    const hints = {
        BAD_RECEIPT: 'the worker sent a receipt the client cannot use; stop using this worker and keep your last good receipt.',
        BAD_RECEIPT_SIGNATURE: "the receipt is not signed by the worker's attested TEE key; stop using this worker (the answer did not come from the attested enclave).",
        COST_MISMATCH: 'the worker charged more (or differently) than its on-chain prices for the usage shown; stop using it and close the escrow.',
        STALE_RECEIPT: 'the worker reused or rolled back its counters (possible equivocation); keep both receipts as a slash proof and close the escrow.',
    } as const;
    return new ClientError(code, `receipt rejected: ${msg}`, hints[code], details);
}

function dec(w: Record<string, unknown>, k: string): bigint {
    const v = w[k];
    if (typeof v !== 'string' || !DEC.test(v)) throw bad('BAD_RECEIPT', `field ${k} is not a decimal string`);
    return BigInt(v);
}

const nonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The classes an answer's usage shows: prompt_tokens less the cached ones, the cached ones, and
 * completion_tokens (reasoning included; none for embeddings). Throws BAD_RECEIPT on a usage that
 * is not one.
 */
export function usageClassesOf(u: UsageJson | undefined): ClassTokens {
    if (!u || !nonNegInt(u.prompt_tokens) || !nonNegInt(u.total_tokens) || (u.completion_tokens !== undefined && !nonNegInt(u.completion_tokens))) {
        throw new ClientError('BAD_RECEIPT', 'the answer shows no usable usage', 'the worker does not follow the Cocoon API; pick another worker.');
    }
    const cached = u.prompt_tokens_details?.cached_tokens ?? 0;
    const completion = u.completion_tokens ?? 0;
    if (!nonNegInt(cached) || cached > u.prompt_tokens || u.total_tokens !== u.prompt_tokens + completion) {
        throw new ClientError('BAD_RECEIPT', 'the answer\'s usage does not add up (cached above prompt, or total not prompt + completion)', 'the worker does not follow the Cocoon API; pick another worker.');
    }
    return { promptTokens: BigInt(u.prompt_tokens - cached), cachedTokens: BigInt(cached), completionTokens: BigInt(completion) };
}

const NO_CAPS: PriceSet = { prompt: 1n << 64n, cached: 1n << 64n, completion: 1n << 64n };

/**
 * What a request of `request` tokens costs after the totals `t0` (and cost c0) at `prices`, the way
 * the worker signs it (docs/SIGNING.md "Pricing rule"): per class, the increment of
 * floor(T_c x p_c / 1e6), the cumulative cost kept within the escrow's caps (never below c0).
 */
export function expectedRequestCost(t0: ClassTokens, c0: bigint, request: ClassTokens, prices: PriceSet, caps?: PriceSet): bigint {
    return nextCost(t0, c0, request, prices, caps ?? NO_CAPS).cost - c0;
}

const sub = (a: ClassTokens, b: ClassTokens): ClassTokens =>
    ({ promptTokens: a.promptTokens - b.promptTokens, cachedTokens: a.cachedTokens - b.cachedTokens, completionTokens: a.completionTokens - b.completionTokens });
const below = (a: ClassTokens, b: ClassTokens) => a.promptTokens < b.promptTokens || a.cachedTokens < b.cachedTokens || a.completionTokens < b.completionTokens;
const same = (a: ClassTokens, b: ClassTokens) => a.promptTokens === b.promptTokens && a.cachedTokens === b.cachedTokens && a.completionTokens === b.completionTokens;
const show = (t: ClassTokens) => `${t.promptTokens} prompt, ${t.cachedTokens} cached, ${t.completionTokens} completion`;
const showPrices = (p: PriceSet) => `${p.prompt}/${p.cached}/${p.completion}`;

/** Parses and checks a receipt; throws a ClientError naming the first check that failed. */
export function verifyWireReceipt(w: WireReceipt, ctx: ReceiptContext): VerifiedReceipt {
    if (!w || typeof w !== 'object') throw bad('BAD_RECEIPT', 'the answer carries no cocoon_receipt');
    const o = w as unknown as Record<string, unknown>;
    const f = {
        epoch: dec(o, 'epoch'), seq: dec(o, 'seq'), promptTokens: dec(o, 'promptTokens'), cachedTokens: dec(o, 'cachedTokens'),
        completionTokens: dec(o, 'completionTokens'), tokens: dec(o, 'tokens'), cost: dec(o, 'cost'),
        requestTokens: dec(o, 'requestTokens'), requestCost: dec(o, 'requestCost'),
    };
    const request: ClassTokens = { promptTokens: dec(o, 'requestPromptTokens'), cachedTokens: dec(o, 'requestCachedTokens'), completionTokens: dec(o, 'requestCompletionTokens') };
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
    if (!escrow.equals(r.escrow) || f.epoch !== r.epoch || f.seq !== r.seq || !same(f, r) || f.cost !== r.cost || f.tokens !== receiptTokens(r) || f.requestTokens !== receiptTokens(request)) {
        throw bad('BAD_RECEIPT', 'the JSON fields differ from the signed cell (or do not add up)');
    }
    if (typeof w.signature !== 'string' || w.signature.replace(/^0x/, '').toLowerCase() !== signed.signature.toString('hex')) {
        throw bad('BAD_RECEIPT', 'the signature field differs from the signed cell');
    }
    if (!verifyReceipt(signed, bigIntToPublicKey(ctx.teeKey))) {
        throw bad('BAD_RECEIPT_SIGNATURE', 'signature does not verify against the on-chain TEE key');
    }
    if (!r.escrow.equals(ctx.escrow)) throw bad('BAD_RECEIPT', `receipt is for escrow ${r.escrow.toString()}, not ${ctx.escrow.toString()}`);
    if (r.epoch !== ctx.epoch) throw bad('BAD_RECEIPT', `receipt is for epoch ${r.epoch}, the escrow is in epoch ${ctx.epoch}`);

    // Usage and cost: the request's increment per class, at prices in force for it (docs/SIGNING.md).
    if (!same(request, ctx.usage)) {
        throw bad('COST_MISMATCH', `the receipt bills ${show(request)} tokens but the answer's usage shows ${show(ctx.usage)}`);
    }
    if (below(r, request)) throw bad('BAD_RECEIPT', 'the request\'s tokens exceed the cumulative tokens');
    if (f.requestCost > r.cost) throw bad('COST_MISMATCH', `request cost ${f.requestCost} exceeds the cumulative cost ${r.cost}`);
    const start = { ...sub(r, request), cost: r.cost - f.requestCost };
    const candidates = [ctx.prices, ...(ctx.otherPrices ?? [])].filter((p, i, a) => a.findIndex((q) => samePrices(p, q)) === i);
    const prices = candidates.find((p) => f.requestCost === expectedRequestCost(start, start.cost, request, p, ctx.caps));
    if (prices === undefined) {
        const expected = expectedRequestCost(start, start.cost, request, ctx.prices, ctx.caps);
        throw bad('COST_MISMATCH', `request cost ${f.requestCost} for ${show(request)} tokens is not the increment at the prices in force (${candidates.map(showPrices).join(' or ')} per 1M: ${expected})`,
            { expected, got: f.requestCost });
    }
    if (ctx.caps !== undefined && r.cost > capCost(r, ctx.caps)) {
        throw bad('COST_MISMATCH', 'cost is above the escrow\'s price caps for these tokens');
    }

    // Continuity: against the last receipt this client holds (exact), else against the chain (floor).
    let note: string | undefined;
    const prev = ctx.previous && ctx.previous.epoch === r.epoch ? ctx.previous : undefined;
    const sameKey = prev && (prev.signer === undefined || prev.signer === ctx.teeKey);
    if (prev && sameKey) {
        if (r.seq <= prev.seq) throw bad('STALE_RECEIPT', `seq ${r.seq} does not grow past ${prev.seq}`, { previous: prev.seq, got: r.seq });
        if (below(start, prev) || start.cost < prev.cost) {
            throw bad('STALE_RECEIPT', `the totals before this request (${show(start)} tokens, ${start.cost} nanoton) went below the previous receipt's (${show(prev)}, ${prev.cost})`);
        }
        if ((!same(start, prev) || start.cost !== prev.cost) && !ctx.gapAllowed) {
            throw bad('COST_MISMATCH', `cumulative tokens ${show(r)} should be the previous receipt's plus this request's: tokens were billed that no answer showed`);
        }
    } else {
        if (prev) {
            // The worker restarted with a new key (attested on-chain). Its receipts continue from its
            // ledger or from what the chain settled; the old key's receipts no longer pay once the
            // escrow holds the new key, so that must be so before lower totals are accepted.
            if (ctx.escrowKey !== undefined && ctx.escrowKey !== ctx.teeKey) {
                throw bad('BAD_RECEIPT', "the receipt is signed by the worker's new key but the escrow still holds the old one");
            }
            if (below(start, prev) || start.cost < prev.cost) {
                if (ctx.escrowKey === undefined) throw bad('STALE_RECEIPT', 'the worker changed keys and went below your previous receipt; the escrow key is unknown');
                note = `the worker's new key continued from ${show(start)} tokens, not above your previous receipt's ${show(prev)} in every class (it lost receipts; you are not billed twice)`;
            }
        }
        if (ctx.settled) {
            const s = ctx.settled;
            if (r.seq <= s.seq || receiptTokens(start) < s.tokens || start.cost < s.cost) {
                throw bad('STALE_RECEIPT', `receipt (seq ${r.seq}, from ${receiptTokens(start)} tokens) does not continue from the one settled on-chain (seq ${s.seq}, ${s.tokens} tokens)`);
            }
        }
    }
    return {
        escrow: r.escrow, epoch: r.epoch, seq: r.seq, ...classTokens(r), tokens: receiptTokens(r), cost: r.cost, request, requestTokens: f.requestTokens,
        requestCost: f.requestCost, signed, boc: w.boc, signer: ctx.teeKey, prices: { prompt: prices.prompt, cached: prices.cached, completion: prices.completion },
        ...(note ? { note } : {}),
    };
}

interface StoredReceipt {
    escrow: string; epoch: string; seq: string; promptTokens: string; cachedTokens: string; completionTokens: string; cost: string;
    requestPromptTokens: string; requestCachedTokens: string; requestCompletionTokens: string; requestCost: string; boc: string; signer?: string;
    prices?: { prompt: string; cached: string; completion: string };
}

/**
 * The latest verified receipt per escrow; optionally persisted to a JSON file (the CLI and the
 * gateway do), rewritten atomically (mode 0600) before accept() returns: a crash leaves the previous
 * or the new list, never a torn file.
 */
export class ReceiptBook {
    private readonly latestBy = new Map<string, VerifiedReceipt>();
    private readonly queues = new Map<string, Promise<unknown>>();
    private readonly gaps = new Set<string>();
    /** Rows this version cannot read (receipts of the single-price contracts, tag CRCT): kept as they were. */
    private readonly legacy: unknown[] = [];

    constructor(private readonly file?: string) {
        if (file && existsSync(file)) {
            const rows = JSON.parse(readFileSync(file, 'utf8')) as StoredReceipt[];
            for (const s of rows) {
                let signed: SignedUsageReceipt;
                try {
                    signed = parseSignedReceiptCell(Cell.fromBase64(s.boc));
                } catch {
                    this.legacy.push(s);
                    continue;
                }
                const request = {
                    promptTokens: BigInt(s.requestPromptTokens ?? '0'), cachedTokens: BigInt(s.requestCachedTokens ?? '0'), completionTokens: BigInt(s.requestCompletionTokens ?? '0'),
                };
                this.latestBy.set(signed.receipt.escrow.toRawString(), {
                    ...signed.receipt, tokens: receiptTokens(signed.receipt), request, requestTokens: receiptTokens(request), requestCost: BigInt(s.requestCost), signed, boc: s.boc,
                    ...(s.signer ? { signer: BigInt(s.signer) } : {}),
                    ...(s.prices ? { prices: { prompt: BigInt(s.prices.prompt), cached: BigInt(s.prices.cached), completion: BigInt(s.prices.completion) } } : {}),
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
            escrow: v.escrow.toString(), epoch: v.epoch.toString(), seq: v.seq.toString(),
            promptTokens: v.promptTokens.toString(), cachedTokens: v.cachedTokens.toString(), completionTokens: v.completionTokens.toString(), cost: v.cost.toString(),
            requestPromptTokens: v.request.promptTokens.toString(), requestCachedTokens: v.request.cachedTokens.toString(),
            requestCompletionTokens: v.request.completionTokens.toString(), requestCost: v.requestCost.toString(), boc: v.boc,
            ...(v.signer !== undefined ? { signer: '0x' + v.signer.toString(16) } : {}),
            ...(v.prices !== undefined ? { prices: { prompt: v.prices.prompt.toString(), cached: v.prices.cached.toString(), completion: v.prices.completion.toString() } } : {}),
        }));
        writeFileAtomic(this.file, JSON.stringify([...rows, ...this.legacy], null, 2));
    }
}

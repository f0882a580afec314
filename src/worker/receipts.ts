// Receipts: the only module that holds the TEE key. From an admission and the usage of the answer
// it signs the next cumulative receipt of the escrow epoch and makes it durable in the ledger (group
// commit, groupCommit.ts) before it is released. It also tells the truth about the ledger: after a
// failed commit (disk full, I/O error) the node is unhealthy and refuses to serve (503 with the
// reason) until a probe write goes through again.
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import type { ClassTokens, Ed25519Key, PriceSet } from '../sdk';
import { publicKeyToBigInt, NO_TOKENS } from '../sdk';
import { GroupCommitWriter } from './groupCommit';
import type { IssuedReceipt, LedgerPosition, ReceiptLedger } from './ledger';
import type { WorkerMetrics } from './metrics';
import { HttpError, Refuse } from './errors';

/** Receipts between two `info` summary lines (each receipt is logged at `debug`). */
const RECEIPT_SUMMARY_EVERY = 1000;

export interface ReceiptIssuerOptions {
    ledger: ReceiptLedger;
    /** The TEE key: lives in memory only, handed to the writer's thread. */
    teeKey: Ed25519Key;
    metrics: WorkerMetrics;
    log: Logger;
    /** While unhealthy, a probe write is tried this often (ms, default 2000). */
    probeMs?: number;
    /** PRAGMAs for the writer's connection (tests play a full disk). */
    writerPragmas?: string[];
}

export interface IssueInput {
    escrow: Address;
    epoch: bigint;
    /** The Worker's prices in force for the request (per class, nanoton per 1M tokens). */
    prices: PriceSet;
    /** The escrow's caps per class. */
    caps: PriceSet;
    /** The request's tokens per class (uncached prompt, cached prompt, completion). */
    tokens: ClassTokens;
    /** The API key id the receipt is recorded under (null: a carry-over). */
    apiKey: string | null;
    /** The key has a spend limit: its total in the ledger grows by this receipt's cost. */
    trackSpend?: boolean;
    /** The escrow's settled position on-chain (for an escrow epoch this key has not signed for). */
    floor: LedgerPosition | null;
}

export interface LedgerHealth {
    ok: boolean;
    /** Why not, when not ok. */
    reason?: string;
    since?: number;
}

export class ReceiptIssuer {
    /** The public half of the TEE key, as the contracts store it. */
    readonly teeKey: bigint;
    private readonly writer: GroupCommitWriter;
    private state: LedgerHealth = { ok: true };
    private probeTimer: NodeJS.Timeout | null = null;
    private closed = false;
    private readonly summary = { receipts: 0, tokens: 0n, cost: 0n, since: Date.now() };

    constructor(private readonly o: ReceiptIssuerOptions) {
        this.teeKey = publicKeyToBigInt(o.teeKey.publicKey);
        o.ledger.recordTeeKey(this.teeKey);
        this.writer = new GroupCommitWriter(o.ledger, {
            signingKey: o.teeKey, pragmas: o.writerPragmas,
            onCommit: (ok, error) => (ok ? this.healthy() : this.unhealthy(error ?? 'unknown error')),
        });
        o.metrics.ledgerHealthy.set(1);
    }

    health(): LedgerHealth {
        return this.state;
    }

    /** The furthest position known for the escrow epoch (memory, in-flight groups, disk). */
    known(escrow: Address, epoch: bigint): LedgerPosition {
        return this.writer.known(escrow, epoch);
    }

    /** True once this key (this process) has signed for the escrow epoch. */
    hasSigned(escrow: Address, epoch: bigint): boolean {
        return this.writer.hasSigned(escrow, epoch);
    }

    /** Signs and commits the next receipt; throws HttpError 503 ledger_unavailable when the ledger cannot take it. */
    async issue(i: IssueInput): Promise<IssuedReceipt> {
        if (!this.state.ok) throw Refuse.ledgerUnavailable(this.state.reason!);
        let r: IssuedReceipt;
        try {
            r = await this.writer.issue({
                escrow: i.escrow, epoch: i.epoch, request: i.tokens, prices: i.prices, caps: i.caps,
                apiKey: i.apiKey, trackSpend: i.trackSpend, floor: i.floor,
            });
        } catch (e) {
            const reason = (e as Error).message;
            this.o.log.error({ escrow: i.escrow.toString(), err: reason }, 'a receipt could not be made durable: the answer is not billed');
            this.o.metrics.errors.inc({ kind: 'ledger_write' });
            throw e instanceof HttpError ? e : Refuse.ledgerUnavailable(reason.replace(/^the receipt ledger could not commit: /, 'the receipt ledger could not commit: '));
        }
        const m = this.o.metrics;
        m.receipts.inc();
        if (i.tokens.promptTokens > 0n) m.tokensBy.add('prompt', () => ({ kind: 'prompt' }), Number(i.tokens.promptTokens));
        if (i.tokens.cachedTokens > 0n) m.tokensBy.add('cached', () => ({ kind: 'cached' }), Number(i.tokens.cachedTokens));
        if (i.tokens.completionTokens > 0n) m.tokensBy.add('completion', () => ({ kind: 'completion' }), Number(i.tokens.completionTokens));
        if (this.o.log.isLevelEnabled('debug')) {
            this.o.log.debug({
                escrow: r.escrow.toString(), epoch: r.epoch.toString(), seq: r.seq.toString(), requestTokens: r.requestTokens.toString(),
                requestCost: r.requestCost.toString(), cost: r.cost.toString(), apiKey: i.apiKey,
            }, 'receipt issued');
        }
        this.summary.receipts++;
        this.summary.tokens += r.requestTokens;
        this.summary.cost += r.requestCost;
        if (this.summary.receipts >= RECEIPT_SUMMARY_EVERY) this.logSummary();
        return r;
    }

    /**
     * A receipt of no tokens that carries the escrow epoch's totals over to this key (after the
     * escrow was refreshed to it): what the older key signed and was not claimed stays payable.
     */
    carryOver(escrow: Address, epoch: bigint, caps: PriceSet, floor: LedgerPosition): Promise<IssuedReceipt> {
        return this.issue({ escrow, epoch, prices: caps, caps, tokens: NO_TOKENS, apiKey: null, floor });
    }

    private healthy(): void {
        if (this.state.ok) return;
        this.o.log.warn({ was: this.state.reason }, 'the receipt ledger takes writes again');
        this.state = { ok: true };
        this.o.metrics.ledgerHealthy.set(1);
        if (this.probeTimer) clearTimeout(this.probeTimer);
        this.probeTimer = null;
    }

    private unhealthy(reason: string): void {
        const wasOk = this.state.ok;
        this.state = { ok: false, reason: `the receipt ledger cannot write: ${reason}`, since: this.state.since ?? Date.now() };
        this.o.metrics.ledgerHealthy.set(0);
        if (wasOk) this.o.log.error({ err: reason, ledger: this.o.ledger.path }, 'the receipt ledger failed a commit: refusing new requests until it takes writes again');
        this.scheduleProbe();
    }

    private scheduleProbe(): void {
        if (this.probeTimer || this.closed) return;
        this.probeTimer = setTimeout(async () => {
            this.probeTimer = null;
            const err = await this.writer.probe().catch((e) => (e as Error).message);
            if (err === null) this.healthy();
            else {
                this.state = { ...this.state, reason: `the receipt ledger cannot write: ${err}` };
                this.scheduleProbe();
            }
        }, this.o.probeMs ?? 2000);
        this.probeTimer.unref();
    }

    /** Tries a write now (health checks, tests); resolves with the health after it. */
    async probe(): Promise<LedgerHealth> {
        const err = await this.writer.probe().catch((e) => (e as Error).message);
        if (err === null) this.healthy();
        else this.unhealthy(err);
        return this.state;
    }

    logSummary(): void {
        const s = this.summary;
        if (s.receipts === 0) return;
        const now = Date.now();
        this.o.log.info({ receipts: s.receipts, tokens: s.tokens.toString(), cost: s.cost.toString(), seconds: Math.round((now - s.since) / 100) / 10 }, 'receipts issued');
        s.receipts = 0;
        s.tokens = 0n;
        s.cost = 0n;
        s.since = now;
    }

    /** Flushes what is queued, then closes the writer. */
    async close(): Promise<void> {
        this.closed = true;
        if (this.probeTimer) clearTimeout(this.probeTimer);
        this.probeTimer = null;
        await this.writer.close();
        this.logSummary();
    }

    /** Group-commit statistics (benchmarks). */
    get stats() {
        return this.writer.stats;
    }
}

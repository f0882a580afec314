// Group commit for the receipt ledger. With synchronous=FULL every SQLite commit waits for an fsync
// of the WAL (1-5 ms on a virtual disk); one commit per request on the event loop capped the node at
// about 1/fsync requests per second and stalled every other request while it waited.
//
// Here the receipts of concurrent requests are committed together: one transaction, one fsync for
// the whole group, on a connection of its own in a writer thread, so the event loop keeps serving
// while the disk syncs. Durability is unchanged: the writer's connection also runs WAL with
// synchronous=FULL, and a receipt is returned only after the transaction that holds it has
// committed (SQLite makes a commit visible to readers only after its fsync, so the claim loop, which
// reads through the ledger's own connection, never sees a receipt that is not durable either).
//
// Pipelining: a group is handed to the writer as soon as it is planned, also while earlier groups
// are still committing, and the writer commits everything waiting in its queue in one transaction.
// So a receipt waits for at most the transaction in progress plus its own, and the busier the node,
// the larger the transactions. A group's receipts are computed on the main thread from the last
// position planned for their escrow epoch (committed, or in a group ahead of them), so they continue
// the groups in flight. A receipt is resolved only when the transaction that holds it has committed.
//
// Failure: when a transaction fails, the writer refuses every group queued behind it (they may
// continue its seqs) until the main thread has seen the failure and reset it; the main thread then
// drops every position it planned and reads them from disk again. So a failed commit loses nothing
// but the receipts of the refused groups, which no client has seen, and never leaves a hole in a
// sequence. A failed signature (a request's own signer) fails that request only; the others of its
// escrow epoch go round again. Do not call ReceiptLedger.issue for the same escrow while a writer is
// running (the receipts' primary key (escrow, epoch, seq) would refuse the second receipt of a seq,
// so it would fail safely, never equivocate).
import { Worker } from 'node:worker_threads';
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { Address, Cell } from '@ton/core';
import { publicKeyToBigInt, buildReceiptCell, receiptCellHash, receiptCellRepr, signedReceiptBoc, type Ed25519Key, type SignedUsageReceipt, type UsageReceipt } from '../sdk';
import {
    ReceiptLedger, IssueRequest, IssuedReceipt, LedgerPosition, nextUsage, issuedReceipt, issuedFields, receiptRowValues, maxPosition, hexKey, INSERT_RECEIPT_SQL, UPSERT_ACCOUNT_SQL,
    ADD_SPEND_SQL, PROBE_SQL, PROBE_CLEAN_SQL, RECEIPT_COLUMN_INDEX,
} from './ledger';
import { WRITER_THREAD } from './ledgerWriterThread';

/** An IssueRequest whose signer may answer later (a threadpool job, an HSM, a TEE over a socket). */
export interface AsyncIssueRequest extends Omit<IssueRequest, 'sign'> {
    /**
     * Absent: the writer signs with its own signing key, in its thread, in the same round trip as
     * the commit (no threadpool job and no extra hop per receipt).
     */
    sign?: (r: UsageReceipt) => SignedUsageReceipt | Promise<SignedUsageReceipt>;
    /**
     * Where the escrow epoch stands on-chain (its last settled receipt). Used only for an escrow
     * epoch this writer has not signed for yet: its first receipt continues from the later of the
     * ledger's position and this one (a restored ledger may be behind what was claimed).
     */
    floor?: LedgerPosition | null;
}

export interface GroupCommitOptions {
    /** Most receipts in one group (default 512). */
    maxGroup?: number;
    /** Signs the receipts of requests that bring no `sign` of their own, in the writer's thread. */
    signingKey?: Ed25519Key;
    /** PRAGMAs run on the writer's connection after it opens (tests play a full disk with max_page_count). */
    pragmas?: string[];
    /** Told of every commit's outcome (the node's ledger health). */
    onCommit?: (ok: boolean, error?: string) => void;
}

/**
 * signReceipt (src/sdk/receipt.ts) with the ed25519 signature computed on libuv's threadpool
 * (crypto.sign with a callback) instead of on the event loop, and the receipt hash computed with
 * Node's native sha256 (receiptCellHash) rather than through @ton/core's Cell. Same bytes: ed25519
 * is deterministic. The returned `cell` is built only when someone reads it.
 */
export function signReceiptOffLoop(r: UsageReceipt, key: Ed25519Key): Promise<SignedUsageReceipt> {
    const hash = receiptCellHash(r);
    return new Promise((resolve, reject) =>
        cryptoSign(null, hash, key.privateKey, (e, signature) => (e ? reject(e) : resolve(lazySignedReceipt(r, signature)))),
    );
}

/** A SignedUsageReceipt whose @ton/core cell is built on first use. */
export function lazySignedReceipt(r: UsageReceipt, signature: Buffer): SignedUsageReceipt {
    let cell: Cell | undefined;
    return {
        receipt: r,
        signature,
        get cell() {
            return (cell ??= buildReceiptCell(r));
        },
    };
}

const ZERO_SIGNATURE = Buffer.alloc(64);

interface WriterReply {
    ok: boolean;
    error?: string;
    /** Per committed row: [signature, BOC] when the writer signed it. */
    signed?: ([Uint8Array, Uint8Array] | null)[];
    /** Number of the transaction that committed the group. */
    tx?: number;
}

const toBuffer = (u: Uint8Array) => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/** A receipt the writer's thread is to sign: its BOC holds a zero signature until completeReceipt. */
function unsignedReceipt(prev: LedgerPosition, u: UsageReceipt, bocTemplate: Buffer, now: number): IssuedReceipt {
    let cell: Cell | undefined;
    return {
        ...issuedFields(prev, u), signature: ZERO_SIGNATURE, boc: bocTemplate, createdAt: now,
        get receiptCell() {
            return (cell ??= buildReceiptCell(u));
        },
    };
}

function completeReceipt(r: IssuedReceipt, signature: Buffer, boc: Buffer): void {
    r.signature = signature;
    r.boc = boc;
}

const positionKey = (escrow: Address, epoch: bigint) => `${escrow.toRawString()}/${epoch}`;

interface Waiting {
    req: AsyncIssueRequest;
    resolve: (r: IssuedReceipt) => void;
    reject: (e: Error) => void;
}

export interface GroupCommitStats {
    /** Receipts committed. */
    receipts: number;
    /** Transactions (fsyncs) they took (the writer commits every group waiting in its queue together). */
    commits: number;
    /** Largest group (as planned on the main thread). */
    largestGroup: number;
}

/** A group handed to the writer, waiting for its transaction. */
interface Pending {
    /** The failure generation it was planned in (see GroupCommitWriter.generation). */
    generation: number;
    commit: { w: Waiting; key: string; r: IssuedReceipt; threadSigned: boolean }[];
    /** Position of each escrow epoch after this group. */
    positions: Map<string, LedgerPosition>;
}

export class GroupCommitWriter {
    private readonly worker: Worker;
    private readonly queue: Waiting[] = [];
    /** A group is being planned (positions, signatures): groups are planned one at a time. */
    private planning = false;
    private scheduled = false;
    /** Groups handed to the writer and not answered yet. */
    private inFlight = 0;
    private closed = false;
    private nextId = 1;
    private readonly replies = new Map<number, (m: WriterReply) => void>();
    private readonly drained: (() => void)[] = [];
    private failure: Error | null = null;
    /**
     * Positions this writer committed (it is the only writer), for every escrow epoch it signed for
     * since it started. Never evicted: with a fresh key per start, these are the only positions the
     * key may continue from (the file on disk could have been replaced under the running process).
     * About 300 bytes per escrow epoch served since the start.
     */
    private readonly committed = new Map<string, LedgerPosition>();
    /** Positions after the last group planned for each escrow epoch, while that group is in flight. */
    private readonly planned = new Map<string, { pos: LedgerPosition; id: number }>();
    /** Bumped by every failed commit: groups planned before it are refused by the writer. */
    private generation = 0;
    /**
     * Set by the first failed commit: from then on positions are the later of this writer's memory and
     * the disk (a failure can mean another writer used the file; never go below either).
     */
    private checkDisk = false;
    /** The writer's number of the last transaction that committed a group. */
    private lastTx = -1;
    readonly stats: GroupCommitStats = { receipts: 0, commits: 0, largestGroup: 0 };

    private readonly canSign: boolean;
    private readonly maxGroup: number;
    /** The public key of the writer's signing key (recorded with each receipt it signs). */
    readonly signerKey: bigint | null;
    private readonly onCommit?: (ok: boolean, error?: string) => void;

    /**
     * @param opts.maxGroup most receipts in one group (the writer may commit several queued groups in one transaction)
     * @param opts.signingKey signs the receipts of requests that bring no `sign` of their own, in the writer's thread
     */
    constructor(private readonly ledger: ReceiptLedger, opts: GroupCommitOptions | number = {}, signingKey?: Ed25519Key) {
        const o: GroupCommitOptions = typeof opts === 'number' ? { maxGroup: opts, signingKey } : { signingKey, ...opts };
        this.maxGroup = o.maxGroup ?? 512;
        this.canSign = o.signingKey !== undefined;
        this.signerKey = o.signingKey ? publicKeyToBigInt(o.signingKey.publicKey) : null;
        this.onCommit = o.onCommit;
        const key: KeyObject | null = o.signingKey?.privateKey ?? null;
        this.worker = new Worker(WRITER_THREAD, {
            eval: true,
            workerData: {
                sqlite: require.resolve('better-sqlite3'), path: ledger.path, insertReceipt: INSERT_RECEIPT_SQL, upsertAccount: UPSERT_ACCOUNT_SQL,
                addSpend: ADD_SPEND_SQL, probe: PROBE_SQL, probeClean: PROBE_CLEAN_SQL, columns: RECEIPT_COLUMN_INDEX, pragmas: o.pragmas ?? [], signingKey: key, signingKeyHex: this.signerKey !== null ? hexKey(this.signerKey) : null,
            },
        });
        this.worker.unref();
        this.worker.on('message', (m: WriterReply & { id?: number }) => {
            if (m.id === undefined) return;
            const done = this.replies.get(m.id);
            this.replies.delete(m.id);
            if (this.replies.size === 0) this.worker.unref(); // idle: never keeps the process alive
            done?.(m);
        });
        const fail = (e: Error) => {
            this.failure = e;
            for (const done of this.replies.values()) done({ ok: false, error: e.message });
            this.replies.clear();
        };
        this.worker.on('error', (e) => fail(new Error(`ledger writer thread failed: ${e.message}`)));
        this.worker.on('exit', (code) => fail(new Error(`ledger writer thread exited (code ${code})`)));
    }

    /** Computes, signs and durably commits the next receipt of the request's escrow epoch. */
    issue(req: AsyncIssueRequest): Promise<IssuedReceipt> {
        if (this.closed) return Promise.reject(new Error('the ledger writer is closed'));
        if (!req.sign && !this.canSign) return Promise.reject(new Error('no signer: pass sign, or give the writer a signing key'));
        if (this.failure) return Promise.reject(this.failure);
        return new Promise((resolve, reject) => {
            this.queue.push({ req, resolve, reject });
            this.schedule();
        });
    }

    /** The durable position of an escrow epoch (what the ledger holds), from memory when this writer wrote it. */
    position(escrow: Address, epoch: bigint): LedgerPosition {
        return this.committed.get(positionKey(escrow, epoch)) ?? this.ledger.position(escrow, epoch);
    }

    /** True once this writer has planned or committed a receipt of the escrow epoch. */
    hasSigned(escrow: Address, epoch: bigint): boolean {
        const k = positionKey(escrow, epoch);
        return this.committed.has(k) || this.planned.has(k);
    }

    /**
     * The furthest position known for an escrow epoch: planned (in a group being committed),
     * committed by this writer, or on disk. The disk may be ahead of this writer's memory for a
     * moment: its thread has committed a group whose reply the main thread has not read yet (the
     * claim loop reads the disk and may already have claimed it).
     */
    known(escrow: Address, epoch: bigint): LedgerPosition {
        const k = positionKey(escrow, epoch);
        const mem = this.planned.get(k)?.pos ?? this.committed.get(k);
        const disk = this.ledger.position(escrow, epoch);
        return mem ? maxPosition(mem, disk) : disk;
    }

    /**
     * A write through the writer's own connection and thread (health check): resolves with null
     * when the ledger takes writes, with the error otherwise.
     */
    async probe(): Promise<string | null> {
        if (this.closed) return 'the ledger writer is closed';
        if (this.failure) return this.failure.message;
        const r = await this.send({ probe: true, at: Date.now() });
        return r.ok ? null : (r.error ?? 'unknown error');
    }

    /** Resolves once everything queued so far is committed (or failed). */
    flush(): Promise<void> {
        if (this.idle()) return Promise.resolve();
        return new Promise((resolve) => this.drained.push(resolve));
    }

    /** Flushes, then closes the writer's connection and stops its thread. */
    async close(): Promise<void> {
        if (this.closed) return;
        await this.flush();
        this.closed = true;
        if (!this.failure) await this.send({ close: true }).catch(() => undefined);
        await this.worker.terminate();
    }

    private idle(): boolean {
        return !this.planning && !this.scheduled && this.inFlight === 0 && this.queue.length === 0;
    }

    private settled() {
        if (this.idle()) this.drained.splice(0).forEach((f) => f());
    }

    private schedule() {
        if (this.planning || this.scheduled) return;
        this.scheduled = true;
        // Requests finishing in the same turn of the event loop join this group.
        setImmediate(() => {
            this.scheduled = false;
            void this.planGroup();
        });
    }

    private send(m: Record<string, unknown>): Promise<WriterReply> {
        return this.post(m).reply;
    }

    /** Hands a message to the writer's thread; the writer answers messages in the order they were posted. */
    private post(m: Record<string, unknown>): { id: number; reply: Promise<WriterReply> } {
        const id = this.nextId++;
        const reply = new Promise<WriterReply>((resolve) => {
            this.replies.set(id, resolve);
            this.worker.ref(); // a commit in flight keeps the process alive until it is durable
            this.worker.postMessage({ ...m, id });
        });
        return { id, reply };
    }

    /**
     * Where the next receipt of an escrow epoch continues from: a group in flight, else what this
     * writer committed; for an escrow epoch it never signed for, the later of the disk and `floor`.
     */
    private continueFrom(key: string, escrow: Address, epoch: bigint, floor?: LedgerPosition | null): LedgerPosition {
        const planned = this.planned.get(key)?.pos;
        if (planned) return planned;
        const mine = this.committed.get(key);
        if (mine) return this.checkDisk ? maxPosition(mine, this.ledger.position(escrow, epoch)) : mine;
        return maxPosition(this.ledger.position(escrow, epoch), floor);
    }

    private async planGroup(): Promise<void> {
        if (this.planning || this.queue.length === 0) return this.settled();
        this.planning = true;
        const group = this.queue.splice(0, this.maxGroup);
        const generation = this.generation;
        const now = Date.now();
        // 1. positions, in queue order (each escrow epoch continues from the last receipt before it)
        const positions = new Map<string, LedgerPosition>();
        const planned: { w: Waiting; key: string; prev: LedgerPosition; u: UsageReceipt }[] = [];
        for (const w of group) {
            try {
                const key = positionKey(w.req.escrow, w.req.epoch);
                const prev = positions.get(key) ?? this.continueFrom(key, w.req.escrow, w.req.epoch, w.req.floor);
                const u = nextUsage(prev, w.req);
                positions.set(key, { seq: u.seq, promptTokens: u.promptTokens, cachedTokens: u.cachedTokens, completionTokens: u.completionTokens, cost: u.cost });
                planned.push({ w, key, prev, u });
            } catch (e) {
                w.reject(e as Error);
            }
        }
        // 2. signatures, all at once: the requests' own signers now; the writer's key in its thread,
        //    with the commit (those receipts are completed from the reply)
        const signed = await Promise.allSettled(planned.map((p) => (p.w.req.sign ? Promise.resolve().then(() => p.w.req.sign!(p.u)) : null)));
        const issued: Pending['commit'] = [];
        const broken = new Set<string>();
        planned.forEach((p, i) => {
            const s = signed[i];
            try {
                if (s.status === 'rejected') throw s.reason;
                if (s.value === null) {
                    const repr = receiptCellRepr(p.u);
                    const r = unsignedReceipt(p.prev, p.u, signedReceiptBoc(p.u, ZERO_SIGNATURE, repr), now);
                    r.teeKey = this.signerKey;
                    r.apiKey = p.w.req.apiKey ?? null;
                    r.trackSpend = p.w.req.trackSpend === true;
                    issued.push({ w: p.w, key: p.key, r, threadSigned: true });
                } else {
                    const r = issuedReceipt(p.prev, p.u, s.value, now);
                    r.teeKey = p.w.req.signerKey ?? null;
                    r.apiKey = p.w.req.apiKey ?? null;
                    r.trackSpend = p.w.req.trackSpend === true;
                    issued.push({ w: p.w, key: p.key, r, threadSigned: false });
                }
            } catch (e) {
                p.w.reject(e as Error);
                broken.add(p.key);
            }
        });
        // A failed signature uses up no seq: the other requests of that escrow epoch go round again
        // (their positions counted the failed one); every other escrow commits now.
        const retry = issued.filter((x) => broken.has(x.key));
        const commit = issued.filter((x) => !broken.has(x.key));
        this.queue.unshift(...retry.map((x) => x.w));
        for (const k of broken) positions.delete(k);
        this.planning = false;
        if (commit.length > 0) {
            if (generation !== this.generation) {
                // a commit failed while this group was being signed: plan it again from disk
                this.queue.unshift(...commit.map((x) => x.w));
            } else {
                this.inFlight++;
                const id = this.commitGroup({ generation, commit, positions });
                for (const [key, pos] of positions) this.planned.set(key, { pos, id });
            }
        }
        // the next group is planned while this one commits
        if (this.queue.length > 0) this.schedule();
        else this.settled();
    }

    /** Hands the group to the writer; returns the id of its message (0 when the writer is gone). */
    private commitGroup(g: Pending): number {
        const rows: { receipt: unknown[]; spend: unknown[] | null; sign?: true }[] = [];
        const accounts = new Map<string, unknown[]>();
        for (const { key, r, threadSigned } of g.commit) {
            const v = receiptRowValues(r);
            rows.push(threadSigned ? { receipt: v.receipt, spend: v.spend, sign: true } : { receipt: v.receipt, spend: v.spend });
            accounts.set(key, v.account);
        }
        const sent = this.failure ? { id: 0, reply: Promise.resolve<WriterReply>({ ok: false, error: this.failure.message }) } : this.post({ rows, accounts: [...accounts.values()] });
        void sent.reply.then((reply) => this.committedGroup(g, sent.id, rows.length, reply));
        return sent.id;
    }

    private committedGroup(g: Pending, id: number, rows: number, reply: WriterReply): void {
        this.inFlight--;
        if (reply.ok) {
            this.stats.receipts += rows;
            if (reply.tx !== this.lastTx) this.stats.commits++;
            this.lastTx = reply.tx ?? -1;
            if (rows > this.stats.largestGroup) this.stats.largestGroup = rows;
            for (const [key, pos] of g.positions) {
                this.committed.set(key, pos);
                if (this.planned.get(key)?.id === id) this.planned.delete(key); // no later group in flight for it
            }
            this.onCommit?.(true);
            g.commit.forEach(({ r, threadSigned }, i) => {
                if (!threadSigned) return;
                const [sig, boc] = reply.signed![i]!;
                completeReceipt(r, toBuffer(sig), toBuffer(boc));
            });
            for (const { w, r } of g.commit) w.resolve(r);
        } else {
            if (g.generation === this.generation) {
                // The first failure of this generation: forget every planned and cached position (read
                // them from disk again) and let the writer take groups again once it has refused the
                // ones queued behind this (planned from positions that are not on disk).
                this.generation++;
                this.checkDisk = true;
                this.planned.clear();
                // positions this writer committed stay: they are on disk (only the failed group is
                // not), and the key may only continue from them
                if (!this.failure) void this.send({ reset: true });
            }
            this.onCommit?.(false, reply.error);
            const err = new Error(`the receipt ledger could not commit: ${reply.error}`);
            for (const { w } of g.commit) w.reject(err);
        }
        this.settled();
    }
}

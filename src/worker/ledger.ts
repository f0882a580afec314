// The receipt ledger: the node's only state. Per escrow+epoch the latest cumulative receipt, and
// every receipt ever issued, in SQLite. A receipt is committed here BEFORE it is returned, so a crash
// or restart never makes the node sign a second, different receipt with the same sequence number
// (two such receipts are an equivocation proof that slashes the operator's stake).
//
// Durability: WAL with synchronous=FULL. In WAL mode NORMAL survives a process crash but may lose
// the last commits on power loss or an OS crash; a lost receipt that the client already holds would
// be re-issued with the same seq and different totals, i.e. an equivocation. FULL fsyncs the WAL on
// every commit. The node does not commit request by request: it issues through a GroupCommitWriter
// (groupCommit.ts), which commits the receipts of concurrent requests together, one fsync for the
// group, on a connection of its own in a writer thread, and still returns each receipt only after
// the commit that holds it is durable.
//
// Keys: every receipt records the public key that signed it (tee_key). A node start makes a fresh
// TEE key that lives only in memory (src/worker/identity.ts), so no restart, lost volume, swapped or
// restored copy of this file can make a key sign a second receipt for a position it already signed:
// a key's positions all come from the one process that holds it. tee_keys lists the keys that
// signed here; key_spend sums what each API key spent (its limit survives restarts).
import Database from 'better-sqlite3';
import { Address, Cell } from '@ton/core';
import {
    hexKey, INSERT_RECEIPT_SQL, UPSERT_ACCOUNT_SQL, ADD_SPEND_SQL, PROBE_SQL, PROBE_CLEAN_SQL, receiptRowValues, LedgerOpenError, LEDGER_SCHEMA, SCHEMA,
    upgradeSchema1,
} from './ledgerSchema';
import {
    signedReceiptBoc, verifyReceipt, bigIntToPublicKey, parseSignedReceiptCell, receiptTokens, nextCost,
    type SignedUsageReceipt, type UsageReceipt, type ClassTokens, type PriceSet,
} from '../sdk';

/** Where an escrow epoch stands: the last receipt's seq, cumulative tokens per class and cost. */
export interface LedgerPosition extends ClassTokens {
    seq: bigint;
    cost: bigint;
}

export interface IssuedReceipt extends LedgerPosition {
    escrow: Address;
    epoch: bigint;
    /** Cumulative tokens of every class (what the escrow keeps as lastTokens). */
    tokens: bigint;
    /** This request's tokens per class. */
    request: ClassTokens;
    /** This request's tokens of every class. */
    requestTokens: bigint;
    requestCost: bigint;
    signature: Buffer;
    /** The SignedReceipt cell (signature + ref receipt). */
    boc: Buffer;
    receiptCell: Cell;
    createdAt: number;
    /** The public key that signed it (null in rows written before keys were recorded). */
    teeKey?: bigint | null;
    /** Id of the API key the request that earned it was made with (null: carry-over, tests). */
    apiKey?: string | null;
    /** Add its cost to the key's total in key_spend (keys with a spend limit). */
    trackSpend?: boolean;
}

export interface EscrowAccount extends LedgerPosition {
    escrow: Address;
    epoch: bigint;
    /** Highest seq known to be settled on-chain. */
    claimedSeq: bigint;
    claimedCost: bigint;
    /** `open` while the epoch may still be claimed; `done` once the escrow moved on. */
    status: 'open' | 'done';
}

export interface IssueRequest {
    escrow: Address;
    epoch: bigint;
    /** The request's tokens per class (0 in every class: a carry-over). */
    request: ClassTokens;
    /** The Worker's prices in force for the request, nanoton per million tokens of each class. */
    prices: PriceSet;
    /** The escrow's caps: the cumulative cost never exceeds floor(sum_c tokens_c x cap_c / 1e6). */
    caps: PriceSet;
    /** Signs the receipt (the TEE key); runs inside the ledger transaction. */
    sign: (r: UsageReceipt) => SignedUsageReceipt;
    /** The API key id the receipt is recorded under. */
    apiKey?: string | null;
    /** Add the request's cost to the key's total (key_spend): keys with a spend limit. */
    trackSpend?: boolean;
    /** The public key `sign` signs with, recorded with the receipt. */
    signerKey?: bigint | null;
}

type Row = Record<string, any>;

export const ZERO_POSITION: Readonly<LedgerPosition> = Object.freeze({ seq: 0n, promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n, cost: 0n });

/**
 * The receipt that follows `prev`, unsigned: tokens add up per class, the cost follows the pricing
 * rule at the request's prices and never exceeds the escrow's caps, the seq grows by one.
 */
export function nextUsage(prev: LedgerPosition, req: Omit<IssueRequest, 'sign'>): UsageReceipt {
    const { tokens, cost } = nextCost(prev, prev.cost, req.request, req.prices, req.caps);
    return { escrow: req.escrow, epoch: req.epoch, seq: prev.seq + 1n, ...tokens, cost };
}

const sub = (a: ClassTokens, b: ClassTokens): ClassTokens =>
    ({ promptTokens: a.promptTokens - b.promptTokens, cachedTokens: a.cachedTokens - b.cachedTokens, completionTokens: a.completionTokens - b.completionTokens });

function sameReceipt(a: UsageReceipt, b: UsageReceipt): boolean {
    return a.seq === b.seq && a.epoch === b.epoch && a.escrow.equals(b.escrow) && a.cost === b.cost &&
        a.promptTokens === b.promptTokens && a.cachedTokens === b.cachedTokens && a.completionTokens === b.completionTokens;
}

/** The IssuedReceipt fields of a receipt that follows `prev` (the request is the difference). */
export function issuedFields(prev: LedgerPosition, u: UsageReceipt): Omit<IssuedReceipt, 'signature' | 'boc' | 'receiptCell' | 'createdAt'> {
    const request = sub(u, prev);
    return {
        escrow: u.escrow, epoch: u.epoch, seq: u.seq, promptTokens: u.promptTokens, cachedTokens: u.cachedTokens, completionTokens: u.completionTokens,
        cost: u.cost, tokens: receiptTokens(u), request, requestTokens: receiptTokens(request), requestCost: u.cost - prev.cost,
    };
}

/**
 * Checks that the signer signed `u` and builds the receipt as the ledger stores it. The BOC is
 * written directly (signedReceiptBoc, the same bytes as signedReceiptCell(...).toBoc()); the
 * receipt's Cell is built only if someone reads `receiptCell`.
 */
export function issuedReceipt(prev: LedgerPosition, u: UsageReceipt, signed: SignedUsageReceipt, now = Date.now()): IssuedReceipt {
    if (!sameReceipt(signed.receipt, u)) throw new Error('signer returned a different receipt');
    const boc = signedReceiptBoc(u, signed.signature);
    return {
        ...issuedFields(prev, u), signature: signed.signature, boc, createdAt: now,
        get receiptCell() {
            return signed.cell;
        },
    };
}

/** nextUsage, signed with req.sign. */
export function nextReceipt(prev: LedgerPosition, req: IssueRequest, now = Date.now()): IssuedReceipt {
    const u = nextUsage(prev, req);
    const r = issuedReceipt(prev, u, req.sign(u), now);
    r.teeKey = req.signerKey ?? null;
    r.apiKey = req.apiKey ?? null;
    r.trackSpend = req.trackSpend === true;
    return r;
}

const total = (p: ClassTokens) => p.promptTokens + p.cachedTokens + p.completionTokens;
const big = (a: bigint, b: bigint) => (a > b ? a : b);

/** True when `a` is at or past `b`: seq, tokens of every class together, and cost. */
function covers(a: LedgerPosition, b: LedgerPosition): boolean {
    return a.seq >= b.seq && total(a) >= total(b) && a.cost >= b.cost;
}

/**
 * The later of two positions: what a new key continues from (its ledger and the chain). When one
 * covers the other (seq, sum of the classes, cost) it is that one; otherwise every field's larger
 * value, which can only count tokens twice (in the client's favour: the cost is the larger one, and
 * the caps of the larger totals cover it).
 */
export function maxPosition(a: LedgerPosition, b: LedgerPosition | null | undefined): LedgerPosition {
    if (!b || covers(a, b)) return a;
    if (covers(b, a)) return b;
    return {
        seq: big(a.seq, b.seq), promptTokens: big(a.promptTokens, b.promptTokens), cachedTokens: big(a.cachedTokens, b.cachedTokens),
        completionTokens: big(a.completionTokens, b.completionTokens), cost: big(a.cost, b.cost),
    };
}

/**
 * The position an escrow's settled receipt stands for, from its state on-chain. The escrow keeps
 * only the sum of the classes (lastTokens): it is put in the class with the highest cap, so that the
 * caps of this position cover its cost (the escrow accepted that cost for tokens of some split, and
 * no split has a higher cap).
 */
export function chainPosition(st: { lastSeq: bigint; lastTokens: bigint; lastCost: bigint; caps: PriceSet }): LedgerPosition {
    const c = st.caps;
    const cls = c.completion >= c.prompt && c.completion >= c.cached ? 'completionTokens' : c.prompt >= c.cached ? 'promptTokens' : 'cachedTokens';
    return { seq: st.lastSeq, promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n, [cls]: st.lastTokens, cost: st.lastCost };
}

export {
    hexKey, RECEIPT_COLUMNS, RECEIPT_COLUMN_INDEX, INSERT_RECEIPT_SQL, UPSERT_ACCOUNT_SQL, ADD_SPEND_SQL, PROBE_SQL, PROBE_CLEAN_SQL,
    receiptRowValues, LedgerOpenError, LEDGER_SCHEMA,
} from './ledgerSchema';

export class ReceiptLedger {
    private readonly db: Database.Database;
    private closed = false;
    /** Prepared once: preparing a statement costs more than running these small ones. */
    private readonly stmt: Record<'position' | 'account' | 'insertReceipt' | 'upsertAccount' | 'addSpend' | 'receipts' | 'latest' | 'latestBy' | 'latestUnknownKey' | 'unsettled' | 'accounts' | 'settle' | 'done' | 'unclaimed' | 'spent' | 'teeKey' | 'teeKeys', Database.Statement>;

    /**
     * Opens (creating if need be) the ledger and checks it can be written: a missing directory, a
     * read-only file or directory fail here with LedgerOpenError naming the path, not later. A
     * schema 1 ledger with receipts in it is refused (upgradeSchema1).
     */
    constructor(readonly path: string) {
        let db: Database.Database;
        try {
            db = new Database(path);
        } catch (e) {
            throw new LedgerOpenError(path, (e as Error).message);
        }
        this.db = db;
        try {
            this.db.pragma('journal_mode = WAL');
            this.db.pragma('synchronous = FULL');
            this.db.pragma('foreign_keys = ON');
            this.db.pragma('busy_timeout = 5000');
            this.db.transaction(() => {
                upgradeSchema1(this.db, path);
                this.db.exec(SCHEMA);
                this.db.prepare(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(String(LEDGER_SCHEMA));
            }).immediate();
            this.db.transaction(() => {
                this.db.prepare(PROBE_SQL).run(String(Date.now()));
                this.db.prepare(PROBE_CLEAN_SQL).run();
            }).immediate();
        } catch (e) {
            try {
                this.db.close();
            } catch {
                // already unusable
            }
            if (e instanceof LedgerOpenError) throw e;
            throw new LedgerOpenError(path, (e as Error).message);
        }
        this.db.defaultSafeIntegers(true);
        const p = (sql: string) => this.db.prepare(sql);
        this.stmt = {
            position: p('SELECT seq, prompt_tokens, cached_tokens, completion_tokens, cost FROM accounts WHERE escrow = ? AND epoch = ?'),
            account: p('SELECT * FROM accounts WHERE escrow = ? AND epoch = ?'),
            insertReceipt: p(INSERT_RECEIPT_SQL),
            upsertAccount: p(UPSERT_ACCOUNT_SQL),
            addSpend: p(ADD_SPEND_SQL),
            latestBy: p('SELECT * FROM receipts WHERE escrow = ? AND epoch = ? AND tee_key = ? ORDER BY seq DESC LIMIT 1'),
            latestUnknownKey: p('SELECT * FROM receipts WHERE escrow = ? AND epoch = ? AND tee_key IS NULL ORDER BY seq DESC LIMIT 8'),
            spent: p('SELECT spent FROM key_spend WHERE key_id = ?'),
            teeKey: p('INSERT OR IGNORE INTO tee_keys (tee_key, started_at) VALUES (?, ?)'),
            teeKeys: p('SELECT tee_key FROM tee_keys ORDER BY started_at'),
            receipts: p('SELECT * FROM receipts WHERE escrow = ? AND epoch = ? ORDER BY seq'),
            latest: p('SELECT * FROM receipts WHERE escrow = ? AND epoch = ? ORDER BY seq DESC LIMIT 1'),
            unsettled: p(`SELECT * FROM accounts WHERE status = 'open' AND seq > claimed_seq ORDER BY updated_at`),
            accounts: p('SELECT * FROM accounts ORDER BY escrow, epoch'),
            settle: p(`UPDATE accounts SET claimed_seq = MAX(claimed_seq, ?), claimed_cost = CASE WHEN ? > claimed_seq THEN ? ELSE claimed_cost END
                      WHERE escrow = ? AND epoch = ?`),
            done: p(`UPDATE accounts SET status = 'done' WHERE escrow = ? AND epoch = ?`),
            unclaimed: p(`SELECT cost, claimed_cost FROM accounts WHERE status = 'open'`),
        };
    }

    /** Pragmas in force, for the start-up log and tests. */
    settings(): { journalMode: string; synchronous: number } {
        return {
            journalMode: String(this.db.pragma('journal_mode', { simple: true })),
            synchronous: Number(this.db.pragma('synchronous', { simple: true })),
        };
    }

    private key(escrow: Address): string {
        return escrow.toRawString();
    }

    private positionOf(row: Row): LedgerPosition {
        return {
            seq: BigInt(row.seq), promptTokens: BigInt(row.prompt_tokens), cachedTokens: BigInt(row.cached_tokens), completionTokens: BigInt(row.completion_tokens),
            cost: BigInt(row.cost),
        };
    }

    private account(row: Row): EscrowAccount {
        return {
            escrow: Address.parseRaw(row.escrow), epoch: BigInt(row.epoch), ...this.positionOf(row),
            claimedSeq: BigInt(row.claimed_seq), claimedCost: BigInt(row.claimed_cost), status: row.status,
        };
    }

    private receipt(row: Row): IssuedReceipt {
        const boc = Buffer.from(row.boc);
        const pos = this.positionOf(row);
        const request = { promptTokens: BigInt(row.request_prompt), cachedTokens: BigInt(row.request_cached), completionTokens: BigInt(row.request_completion) };
        return {
            escrow: Address.parseRaw(row.escrow), epoch: BigInt(row.epoch), ...pos, tokens: receiptTokens(pos),
            request, requestTokens: receiptTokens(request), requestCost: BigInt(row.request_cost), signature: Buffer.from(row.signature), boc,
            receiptCell: Cell.fromBoc(boc)[0].refs[0], createdAt: Number(row.created_at),
            teeKey: row.tee_key ? BigInt('0x' + row.tee_key) : null, apiKey: row.api_key ?? null,
        };
    }

    /** Latest cumulative position of an escrow epoch (zeros before its first receipt). */
    position(escrow: Address, epoch: bigint): LedgerPosition {
        const row = this.stmt.position.get(this.key(escrow), epoch.toString()) as Row | undefined;
        return row ? this.positionOf(row) : { ...ZERO_POSITION };
    }

    accountOf(escrow: Address, epoch: bigint): EscrowAccount | null {
        const row = this.stmt.account.get(this.key(escrow), epoch.toString()) as Row | undefined;
        return row ? this.account(row) : null;
    }

    /**
     * Computes, signs and commits the next cumulative receipt of an escrow epoch, atomically: the
     * read of the latest position, the signature and both writes are one SQLite transaction, and it
     * returns only after the commit.
     */
    issue(req: IssueRequest): IssuedReceipt {
        const tx = this.db.transaction((): IssuedReceipt => {
            const r = nextReceipt(this.position(req.escrow, req.epoch), req);
            const v = receiptRowValues(r);
            this.stmt.insertReceipt.run(...v.receipt);
            this.stmt.upsertAccount.run(...v.account);
            if (v.spend) this.stmt.addSpend.run(...v.spend);
            return r;
        });
        return tx.immediate();
    }

    /** Every receipt of an escrow epoch, by seq. */
    receipts(escrow: Address, epoch: bigint): IssuedReceipt[] {
        const rows = this.stmt.receipts.all(this.key(escrow), epoch.toString()) as Row[];
        return rows.map((r) => this.receipt(r));
    }

    latestReceipt(escrow: Address, epoch: bigint): IssuedReceipt | null {
        const row = this.stmt.latest.get(this.key(escrow), epoch.toString()) as Row | undefined;
        return row ? this.receipt(row) : null;
    }

    /**
     * The latest receipt of an escrow epoch signed by `teeKey` (what the escrow, holding that key,
     * can be paid for). Rows from before keys were recorded are checked by their signature.
     */
    latestSignedBy(escrow: Address, epoch: bigint, teeKey: bigint): IssuedReceipt | null {
        const row = this.stmt.latestBy.get(this.key(escrow), epoch.toString(), hexKey(teeKey)) as Row | undefined;
        let best = row ? this.receipt(row) : null;
        const pub = bigIntToPublicKey(teeKey);
        for (const old of this.stmt.latestUnknownKey.all(this.key(escrow), epoch.toString()) as Row[]) {
            const r = this.receipt(old);
            if (best && best.seq >= r.seq) break;
            if (verifyReceipt(parseSignedReceiptCell(Cell.fromBoc(r.boc)[0]), pub)) {
                best = r;
                break;
            }
        }
        return best;
    }

    /** What the API key `keyId` has spent, in all (nanoton). */
    spentBy(keyId: string): bigint {
        const row = this.stmt.spent.get(keyId) as Row | undefined;
        return row ? BigInt(row.spent) : 0n;
    }

    /** Records a TEE key that starts signing with this ledger. */
    recordTeeKey(teeKey: bigint, at = Date.now()): void {
        this.stmt.teeKey.run(hexKey(teeKey), at);
    }

    /** Every TEE key that signed with this ledger, oldest first. */
    teeKeys(): bigint[] {
        return (this.stmt.teeKeys.all() as Row[]).map((r) => BigInt('0x' + r.tee_key));
    }

    /** Accounts still open with receipts beyond what is known settled. */
    unsettled(): EscrowAccount[] {
        const rows = this.stmt.unsettled.all() as Row[];
        return rows.map((r) => this.account(r));
    }

    accounts(): EscrowAccount[] {
        return (this.stmt.accounts.all() as Row[]).map((r) => this.account(r));
    }

    /** Records what the chain shows as settled (never moves backwards). */
    markSettled(escrow: Address, epoch: bigint, seq: bigint, cost: bigint): void {
        this.stmt.settle.run(seq, seq, cost.toString(), this.key(escrow), epoch.toString());
    }

    /** The escrow epoch is over (withdrawn or reopened): nothing more can be claimed for it. */
    markDone(escrow: Address, epoch: bigint): void {
        this.stmt.done.run(this.key(escrow), epoch.toString());
    }

    /** Total issued cost not known settled, over open accounts (nanoton). */
    unclaimedTotal(): bigint {
        let sum = 0n;
        for (const r of this.stmt.unclaimed.all() as Row[]) sum += BigInt(r.cost) - BigInt(r.claimed_cost);
        return sum;
    }

    close(): void {
        if (this.closed) return;
        this.closed = true;
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        this.db.close();
    }
}

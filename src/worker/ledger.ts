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
import { signedReceiptBoc, verifyReceipt, bigIntToPublicKey, parseSignedReceiptCell, SignedUsageReceipt, UsageReceipt } from '../sdk';
import { costIncrement, cumulativeCost } from './pricing';

export interface LedgerPosition {
    seq: bigint;
    tokens: bigint;
    cost: bigint;
}

export interface IssuedReceipt extends LedgerPosition {
    escrow: Address;
    epoch: bigint;
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
    requestTokens: bigint;
    /** Node price, nanoton per million tokens. */
    price: bigint;
    /** The escrow's cap: the cumulative cost never exceeds floor(tokens*maxPrice/1e6). */
    maxPrice: bigint;
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

/**
 * The receipt that follows `prev`, unsigned: tokens add up, the cost follows the cumulative pricing
 * rule and never exceeds the escrow's cap, the seq grows by one.
 */
export function nextUsage(prev: LedgerPosition, req: Omit<IssueRequest, 'sign'>): UsageReceipt {
    if (req.requestTokens < 0n) throw new Error('requestTokens must be >= 0');
    const tokens = prev.tokens + req.requestTokens;
    let cost = prev.cost + costIncrement(prev.tokens, tokens, req.price);
    const cap = cumulativeCost(tokens, req.maxPrice);
    if (cost > cap) cost = cap < prev.cost ? prev.cost : cap;
    return { escrow: req.escrow, epoch: req.epoch, seq: prev.seq + 1n, tokens, cost };
}

/**
 * Checks that the signer signed `u` and builds the receipt as the ledger stores it. The BOC is
 * written directly (signedReceiptBoc, the same bytes as signedReceiptCell(...).toBoc()); the
 * receipt's Cell is built only if someone reads `receiptCell`.
 */
export function issuedReceipt(prev: LedgerPosition, requestTokens: bigint, u: UsageReceipt, signed: SignedUsageReceipt, now = Date.now()): IssuedReceipt {
    const s = signed.receipt;
    if (s.seq !== u.seq || s.tokens !== u.tokens || s.cost !== u.cost || s.epoch !== u.epoch || !s.escrow.equals(u.escrow)) {
        throw new Error('signer returned a different receipt');
    }
    const boc = signedReceiptBoc(u, signed.signature);
    return {
        escrow: u.escrow, epoch: u.epoch, seq: u.seq, tokens: u.tokens, cost: u.cost, requestTokens, requestCost: u.cost - prev.cost,
        signature: signed.signature, boc, createdAt: now,
        get receiptCell() {
            return signed.cell;
        },
    };
}

/** nextUsage, signed with req.sign. */
export function nextReceipt(prev: LedgerPosition, req: IssueRequest, now = Date.now()): IssuedReceipt {
    const u = nextUsage(prev, req);
    const r = issuedReceipt(prev, req.requestTokens, u, req.sign(u), now);
    r.teeKey = req.signerKey ?? null;
    r.apiKey = req.apiKey ?? null;
    r.trackSpend = req.trackSpend === true;
    return r;
}

/** The later of two positions, field by field: what a new key continues from (a ledger and the chain). */
export function maxPosition(a: LedgerPosition, b: LedgerPosition | null | undefined): LedgerPosition {
    if (!b) return a;
    return { seq: a.seq > b.seq ? a.seq : b.seq, tokens: a.tokens > b.tokens ? a.tokens : b.tokens, cost: a.cost > b.cost ? a.cost : b.cost };
}

export const hexKey = (k: bigint) => k.toString(16).padStart(64, '0');

/** SQL shared by the ledger and the group-commit writer thread. */
export const INSERT_RECEIPT_SQL = `INSERT INTO receipts (escrow, epoch, seq, tokens, cost, request_tokens, request_cost, signature, boc, created_at, tee_key, api_key)
                          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
export const UPSERT_ACCOUNT_SQL = `INSERT INTO accounts (escrow, epoch, seq, tokens, cost, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                          ON CONFLICT (escrow, epoch) DO UPDATE SET seq = excluded.seq, tokens = excluded.tokens, cost = excluded.cost, updated_at = excluded.updated_at`;
/** Adds a receipt's request cost to what its API key spent. */
export const ADD_SPEND_SQL = `INSERT INTO key_spend (key_id, escrow, spent, updated_at) VALUES (?, ?, ?, ?)
                          ON CONFLICT (key_id) DO UPDATE SET spent = spent + excluded.spent, updated_at = excluded.updated_at`;
/**
 * The writer's health probe: a write of a few new pages (16 KB), removed in the same transaction, so
 * it fails as a receipt would on a full disk (an update in place could still fit).
 */
export const PROBE_SQL = `INSERT INTO meta (key, value) VALUES ('probe', ? || hex(zeroblob(8192))) ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
export const PROBE_CLEAN_SQL = `DELETE FROM meta WHERE key = 'probe'`;

/** The bound values of INSERT_RECEIPT_SQL, UPSERT_ACCOUNT_SQL and ADD_SPEND_SQL (null: no API key) for a receipt. */
export function receiptRowValues(r: IssuedReceipt): { receipt: unknown[]; account: unknown[]; spend: unknown[] | null } {
    const k = r.escrow.toRawString();
    const ep = r.epoch.toString();
    return {
        receipt: [k, ep, r.seq, r.tokens.toString(), r.cost.toString(), r.requestTokens.toString(), r.requestCost.toString(), r.signature, r.boc, r.createdAt,
            r.teeKey != null ? hexKey(r.teeKey) : null, r.apiKey ?? null],
        account: [k, ep, r.seq, r.tokens.toString(), r.cost.toString(), r.createdAt],
        spend: r.apiKey && r.trackSpend ? [r.apiKey, k, r.requestCost, r.createdAt] : null,
    };
}

/** The ledger cannot be opened or written: names the path and what to do. */
export class LedgerOpenError extends Error {
    constructor(readonly path: string, detail: string) {
        super(`cannot open the receipt ledger at ${path}: ${detail}. Hint: the directory must exist and be writable by this user ` +
            `(SQLite also writes ${path}-wal and ${path}-shm beside it); pass another path with --db or dbPath, or a data directory with --data-dir`);
        this.name = 'LedgerOpenError';
    }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
    escrow TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tokens TEXT NOT NULL,
    cost TEXT NOT NULL,
    claimed_seq INTEGER NOT NULL DEFAULT 0,
    claimed_cost TEXT NOT NULL DEFAULT '0',
    status TEXT NOT NULL DEFAULT 'open',
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (escrow, epoch)
);
CREATE TABLE IF NOT EXISTS receipts (
    escrow TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tokens TEXT NOT NULL,
    cost TEXT NOT NULL,
    request_tokens TEXT NOT NULL,
    request_cost TEXT NOT NULL,
    signature BLOB NOT NULL,
    boc BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (escrow, epoch, seq)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS key_spend (
    key_id TEXT PRIMARY KEY,
    escrow TEXT NOT NULL,
    spent INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tee_keys (tee_key TEXT PRIMARY KEY, started_at INTEGER NOT NULL);
`;

/** Columns added after schema 1 (ALTER TABLE when an older ledger is opened). */
const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
    ['receipts', 'tee_key', 'TEXT'],
    ['receipts', 'api_key', 'TEXT'],
];

export class ReceiptLedger {
    private readonly db: Database.Database;
    private closed = false;
    /** Prepared once: preparing a statement costs more than running these small ones. */
    private readonly stmt: Record<'position' | 'account' | 'insertReceipt' | 'upsertAccount' | 'addSpend' | 'receipts' | 'latest' | 'latestBy' | 'latestUnknownKey' | 'unsettled' | 'accounts' | 'settle' | 'done' | 'unclaimed' | 'spent' | 'teeKey' | 'teeKeys', Database.Statement>;

    /**
     * Opens (creating if need be) the ledger and checks it can be written: a missing directory, a
     * read-only file or directory fail here with LedgerOpenError naming the path, not later.
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
            this.db.exec(SCHEMA);
            for (const [table, column, type] of ADDED_COLUMNS) {
                const cols = (this.db.prepare(`PRAGMA table_info(${table})`).all() as Row[]).map((c) => c.name);
                if (!cols.includes(column)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
            }
            this.db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '1')`).run();
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
            throw new LedgerOpenError(path, (e as Error).message);
        }
        this.db.defaultSafeIntegers(true);
        const p = (sql: string) => this.db.prepare(sql);
        this.stmt = {
            position: p('SELECT seq, tokens, cost FROM accounts WHERE escrow = ? AND epoch = ?'),
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

    private account(row: Row): EscrowAccount {
        return {
            escrow: Address.parseRaw(row.escrow), epoch: BigInt(row.epoch), seq: BigInt(row.seq), tokens: BigInt(row.tokens),
            cost: BigInt(row.cost), claimedSeq: BigInt(row.claimed_seq), claimedCost: BigInt(row.claimed_cost), status: row.status,
        };
    }

    private receipt(row: Row): IssuedReceipt {
        const boc = Buffer.from(row.boc);
        return {
            escrow: Address.parseRaw(row.escrow), epoch: BigInt(row.epoch), seq: BigInt(row.seq), tokens: BigInt(row.tokens), cost: BigInt(row.cost),
            requestTokens: BigInt(row.request_tokens), requestCost: BigInt(row.request_cost), signature: Buffer.from(row.signature), boc,
            receiptCell: Cell.fromBoc(boc)[0].refs[0], createdAt: Number(row.created_at),
            teeKey: row.tee_key ? BigInt('0x' + row.tee_key) : null, apiKey: row.api_key ?? null,
        };
    }

    /** Latest cumulative position of an escrow epoch (zeros before its first receipt). */
    position(escrow: Address, epoch: bigint): LedgerPosition {
        const row = this.stmt.position.get(this.key(escrow), epoch.toString()) as Row | undefined;
        return row ? { seq: BigInt(row.seq), tokens: BigInt(row.tokens), cost: BigInt(row.cost) } : { seq: 0n, tokens: 0n, cost: 0n };
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
        if (req.requestTokens < 0n) throw new Error('requestTokens must be >= 0');
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

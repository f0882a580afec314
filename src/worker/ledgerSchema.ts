// The receipt ledger's SQLite layout (schema 2: cumulative tokens per class), the SQL the ledger and
// the group-commit writer thread share, and the upgrade of a ledger of an earlier layout.
import type { IssuedReceipt } from './ledger';

type Row = Record<string, any>;

export const hexKey = (k: bigint) => k.toString(16).padStart(64, '0');

/** Columns of a receipt row, in the order of INSERT_RECEIPT_SQL and receiptRowValues. */
export const RECEIPT_COLUMNS = [
    'escrow', 'epoch', 'seq', 'prompt_tokens', 'cached_tokens', 'completion_tokens', 'cost',
    'request_prompt', 'request_cached', 'request_completion', 'request_cost', 'signature', 'boc', 'created_at', 'tee_key', 'api_key',
] as const;
/** Where the writer thread finds what it fills in when it signs a row itself. */
export const RECEIPT_COLUMN_INDEX = {
    signature: RECEIPT_COLUMNS.indexOf('signature'),
    boc: RECEIPT_COLUMNS.indexOf('boc'),
    teeKey: RECEIPT_COLUMNS.indexOf('tee_key'),
};

/** SQL shared by the ledger and the group-commit writer thread. */
export const INSERT_RECEIPT_SQL = `INSERT INTO receipts (${RECEIPT_COLUMNS.join(', ')}) VALUES (${RECEIPT_COLUMNS.map(() => '?').join(', ')})`;
export const UPSERT_ACCOUNT_SQL = `INSERT INTO accounts (escrow, epoch, seq, prompt_tokens, cached_tokens, completion_tokens, cost, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                          ON CONFLICT (escrow, epoch) DO UPDATE SET seq = excluded.seq, prompt_tokens = excluded.prompt_tokens, cached_tokens = excluded.cached_tokens,
                          completion_tokens = excluded.completion_tokens, cost = excluded.cost, updated_at = excluded.updated_at`;
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
    const s = (v: bigint) => v.toString();
    return {
        receipt: [k, ep, r.seq, s(r.promptTokens), s(r.cachedTokens), s(r.completionTokens), s(r.cost),
            s(r.request.promptTokens), s(r.request.cachedTokens), s(r.request.completionTokens), s(r.requestCost), r.signature, r.boc, r.createdAt,
            r.teeKey != null ? hexKey(r.teeKey) : null, r.apiKey ?? null],
        account: [k, ep, r.seq, s(r.promptTokens), s(r.cachedTokens), s(r.completionTokens), s(r.cost), r.createdAt],
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

/** The ledger's layout: 2 since receipts carry tokens per class (receipt v2, tag CRC2). */
export const LEDGER_SCHEMA = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
    escrow TEXT NOT NULL,
    epoch TEXT NOT NULL,
    seq INTEGER NOT NULL,
    prompt_tokens TEXT NOT NULL,
    cached_tokens TEXT NOT NULL,
    completion_tokens TEXT NOT NULL,
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
    prompt_tokens TEXT NOT NULL,
    cached_tokens TEXT NOT NULL,
    completion_tokens TEXT NOT NULL,
    cost TEXT NOT NULL,
    request_prompt TEXT NOT NULL,
    request_cached TEXT NOT NULL,
    request_completion TEXT NOT NULL,
    request_cost TEXT NOT NULL,
    signature BLOB NOT NULL,
    boc BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    tee_key TEXT,
    api_key TEXT,
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

/**
 * A ledger written by a node before receipts carried token classes (schema 1: receipts of tag CRCT
 * for the single-price contracts). Its receipts cannot be continued or claimed by this version: a
 * file holding any is refused with what to do; an empty one is rebuilt in the new layout.
 */
/** What upgradeSchema1 uses of a better-sqlite3 database (structural: the published declarations need no @types/better-sqlite3). */
export interface SchemaDb {
    prepare(sql: string): { all(...params: unknown[]): unknown[]; get(...params: unknown[]): unknown };
    exec(sql: string): unknown;
}

export function upgradeSchema1(db: SchemaDb, path: string): void {
    const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Row[]).map((r) => String(r.name)));
    if (!tables.has('receipts')) return; // a new file
    const cols = (db.prepare('PRAGMA table_info(receipts)').all() as Row[]).map((c) => String(c.name));
    if (cols.includes('prompt_tokens')) return; // schema 2 already
    const receipts = Number((db.prepare('SELECT COUNT(*) AS n FROM receipts').get() as Row).n);
    const open = tables.has('accounts')
        ? (db.prepare(`SELECT COUNT(*) AS n, COALESCE(SUM(CAST(cost AS INTEGER) - CAST(claimed_cost AS INTEGER)), 0) AS unclaimed FROM accounts WHERE status = 'open'`).get() as Row)
        : { n: 0, unclaimed: 0 };
    if (receipts > 0) {
        throw new LedgerOpenError(path,
            `it is a schema 1 ledger (single-price receipts, tag CRCT) holding ${receipts} receipt(s), ${open.n} escrow epoch(s) still open with ${open.unclaimed} nanoton not known claimed. ` +
            'This version signs receipts with tokens per class (tag CRC2) for the per-class contracts and cannot continue or claim those. ' +
            'Run the cocoon-worker version that wrote it until its claims are settled (or its escrows closed), keep the file as a record, and start this version with a new ledger');
    }
    db.exec('DROP TABLE IF EXISTS receipts; DROP TABLE IF EXISTS accounts;');
}

// What the gateway keeps on disk, in its state directory (mode 0700, outside the working directory):
//   receipts.json  the latest verified receipt per escrow: the client library's ReceiptBook, which
//                  rewrites it atomically (temp file, fsync, rename; mode 0600) before a receipt is
//                  accepted, so an answer reaches the caller only after its receipt is on disk;
//   dropped.json   the workers dropped for a bad receipt, with why (the same atomic write), so a
//                  restarted gateway does not go back to them.
// Both are small: one row per escrow (bounded by budget / perWorkerDeposit) and per dropped worker.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, type ReceiptBook } from '../client';

export interface DroppedWorker {
    worker: string;
    reason: string;
    code: string;
    at: string;
}

export interface ReceiptRow {
    escrow: string;
    epoch: string;
    seq: string;
    tokens: string;
    cost: string;
}

export class GatewayStateDir {
    readonly receiptsFile: string;
    private readonly droppedFile: string;

    constructor(readonly dir: string) {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
        this.receiptsFile = join(dir, 'receipts.json');
        this.droppedFile = join(dir, 'dropped.json');
        for (const f of [this.receiptsFile, this.droppedFile]) if (existsSync(f)) chmodSync(f, 0o600);
    }

    loadDropped(): DroppedWorker[] {
        if (!existsSync(this.droppedFile)) return [];
        const rows = JSON.parse(readFileSync(this.droppedFile, 'utf8'));
        if (!Array.isArray(rows)) throw new Error(`${this.droppedFile} is not a list; fix or remove it`);
        return rows.filter((r) => r && typeof r.worker === 'string').slice(0, 10_000);
    }

    saveDropped(rows: DroppedWorker[]): void {
        writeFileAtomic(this.droppedFile, JSON.stringify(rows, null, 2));
    }
}

export function receiptRows(book: ReceiptBook): ReceiptRow[] {
    return book.all().map((r) => ({
        escrow: r.escrow.toString(), epoch: r.epoch.toString(), seq: r.seq.toString(), tokens: r.tokens.toString(), cost: r.cost.toString(),
    }));
}

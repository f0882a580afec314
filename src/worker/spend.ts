// What each API key has spent (from the ledger's key_spend, which the receipt commits update in the
// same transaction) and what its requests in progress hold, so a key's spend limit counts both and
// survives restarts. Keys with nothing in progress are forgotten first when the book is full (the
// ledger has their total).
import type { ReceiptLedger } from './ledger';

interface Entry {
    spent: bigint;
    held: bigint;
    inflight: number;
}

export class SpendBook {
    private readonly entries = new Map<string, Entry>();

    constructor(private readonly ledger: Pick<ReceiptLedger, 'spentBy'>, readonly maxEntries = 10_000) {}

    private entry(keyId: string): Entry {
        let e = this.entries.get(keyId);
        if (!e) {
            e = { spent: this.ledger.spentBy(keyId), held: 0n, inflight: 0 };
            this.entries.set(keyId, e);
            if (this.entries.size > this.maxEntries) this.evict();
        }
        return e;
    }

    private evict(): void {
        for (const [k, e] of this.entries) {
            if (this.entries.size <= this.maxEntries) return;
            if (e.inflight === 0) this.entries.delete(k);
        }
    }

    /** Spent (durable) and held (worst cases of requests in progress) for a key. */
    state(keyId: string): { spent: bigint; held: bigint } {
        const e = this.entry(keyId);
        return { spent: e.spent, held: e.held };
    }

    reserve(keyId: string, worst: bigint): void {
        const e = this.entry(keyId);
        e.held += worst;
        e.inflight++;
    }

    /** The request is over: its hold goes, what its receipt charged (0n if none) is spent. */
    settle(keyId: string, reserved: bigint, charged: bigint): void {
        const e = this.entries.get(keyId);
        if (!e) return;
        e.held -= reserved;
        e.spent += charged;
        e.inflight--;
        if (e.inflight === 0 && this.entries.size > this.maxEntries) this.entries.delete(keyId);
    }
}

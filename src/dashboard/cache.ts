// A small read cache: one computation in flight per key, its result reused for `ttlMs`. It bounds
// what a burst of page refreshes costs against toncenter (in the sandbox the ttl is 0: every read is fresh,
// but concurrent identical reads still share one computation).
export class ReadCache {
    private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();
    constructor(private readonly ttlMs: number, private readonly maxEntries = 500) {}

    get<T>(key: string, compute: () => Promise<T>): Promise<T> {
        const now = Date.now();
        const hit = this.entries.get(key);
        if (hit && (now - hit.at < this.ttlMs || hit.at === -1)) return hit.value as Promise<T>;
        const entry = { at: -1, value: Promise.resolve() as Promise<unknown> };
        entry.value = compute().then(
            (v) => { entry.at = Date.now(); if (this.ttlMs === 0) this.entries.delete(key); return v; },
            (e) => { this.entries.delete(key); throw e; },
        );
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        this.entries.set(key, entry);
        return entry.value as Promise<T>;
    }

    clear(): void {
        this.entries.clear();
    }
}

// Per-peer token buckets: each peer may burst `burst` requests, then `perSec` a second. A verification
// costs tens of milliseconds of CPU, so one busy peer must not starve the others.

export interface RateLimitOptions {
    /** Bucket size: requests a quiet peer may send at once. */
    burst: number;
    /** Refill rate, requests per second. */
    perSec: number;
    /** Peers tracked at most; the least recently seen are forgotten first (their bucket restarts full). */
    maxPeers?: number;
}

export class TokenBuckets {
    private readonly buckets = new Map<string, { tokens: number; at: number }>();
    private readonly maxPeers: number;

    constructor(private readonly o: RateLimitOptions, private readonly clock: () => number = () => Date.now()) {
        if (!(o.burst >= 1) || !(o.perSec > 0)) throw new Error('rate limit: burst must be >= 1 and perSec > 0');
        this.maxPeers = o.maxPeers ?? 10_000;
    }

    /** Takes one token for `peer`: 0 when allowed, else the seconds to wait before one is there. */
    take(peer: string): number {
        const now = this.clock();
        let b = this.buckets.get(peer);
        if (b) {
            this.buckets.delete(peer); // re-inserted below: Map order is least recently seen first
            b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSec);
            b.at = now;
        } else {
            b = { tokens: this.o.burst, at: now };
            if (this.buckets.size >= this.maxPeers) this.buckets.delete(this.buckets.keys().next().value!);
        }
        this.buckets.set(peer, b);
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return 0;
        }
        return Math.ceil((1 - b.tokens) / this.o.perSec);
    }

    get size(): number {
        return this.buckets.size;
    }
}

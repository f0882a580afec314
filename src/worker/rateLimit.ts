// Token buckets, in memory: one bucket (unknown-escrow chain lookups) or one per peer address
// (failed authentications), with bounded memory (least recently used peers are forgotten first).

export interface BucketRate {
    /** Tokens a full bucket holds (the burst allowed after a quiet spell). */
    burst: number;
    /** Tokens added per second. */
    perSec: number;
}

export class TokenBucket {
    private tokens: number;
    private at: number;

    constructor(private readonly rate: BucketRate, private readonly clock: () => number = Date.now) {
        if (!(rate.burst >= 1) || !(rate.perSec > 0)) throw new Error('a token bucket needs burst >= 1 and perSec > 0');
        this.tokens = rate.burst;
        this.at = clock();
    }

    private refill(): void {
        const now = this.clock();
        if (now > this.at) {
            this.tokens = Math.min(this.rate.burst, this.tokens + ((now - this.at) / 1000) * this.rate.perSec);
            this.at = now;
        }
    }

    /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
    take(n = 1): boolean {
        this.refill();
        if (this.tokens < n) return false;
        this.tokens -= n;
        return true;
    }

    /** True when at least one token is there (takes none). */
    ready(): boolean {
        this.refill();
        return this.tokens >= 1;
    }

    /** Whole seconds until one token is there. */
    waitSec(): number {
        this.refill();
        return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.rate.perSec);
    }

    /** True when the bucket is full (it may be forgotten: a new one would be the same). */
    full(): boolean {
        this.refill();
        return this.tokens >= this.rate.burst;
    }
}

/**
 * One bucket per key (a peer address), at most `maxKeys` of them: when full, the least recently
 * used key is dropped (a dropped key starts again with a full bucket, so the bound costs at most one
 * burst per eviction; the eviction prefers full buckets, which lose nothing).
 */
export class KeyedBuckets {
    private readonly buckets = new Map<string, TokenBucket>();

    constructor(private readonly rate: BucketRate, readonly maxKeys: number, private readonly clock: () => number = Date.now) {
        if (!(maxKeys >= 1)) throw new Error('maxKeys must be >= 1');
    }

    private get(key: string): TokenBucket {
        let b = this.buckets.get(key);
        if (b) {
            this.buckets.delete(key); // re-insert: the Map's order is least recently used first
            this.buckets.set(key, b);
            return b;
        }
        if (this.buckets.size >= this.maxKeys) this.evict();
        b = new TokenBucket(this.rate, this.clock);
        this.buckets.set(key, b);
        return b;
    }

    private evict(): void {
        // look at the 32 least recently used for a full one; else drop the least recently used
        let n = 0;
        for (const [k, b] of this.buckets) {
            if (b.full()) {
                this.buckets.delete(k);
                return;
            }
            if (++n >= 32) break;
        }
        this.buckets.delete(this.buckets.keys().next().value as string);
    }

    /** True when `key` may go on (has a token), without taking one. Unknown keys may. */
    ready(key: string): boolean {
        const b = this.buckets.get(key);
        return b ? b.ready() : true;
    }

    take(key: string): boolean {
        return this.get(key).take();
    }

    waitSec(key: string): number {
        return this.buckets.get(key)?.waitSec() ?? 0;
    }

    get size(): number {
        return this.buckets.size;
    }
}

/**
 * The rate-limit key of a peer: an IPv4 address as is, an IPv6 address by its /64 prefix (one
 * host usually holds a whole /64, so it cannot dodge the limit by changing its interface id).
 */
export function peerKey(address: string | undefined): string {
    if (!address) return 'unknown';
    if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
    if (!address.includes(':')) return address;
    const [head] = address.split('%');
    const parts = head.split('::');
    const left = parts[0] ? parts[0].split(':') : [];
    const right = parts.length > 1 && parts[1] ? parts[1].split(':') : [];
    const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
    return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

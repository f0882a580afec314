// Cached reads of the chain the node decides on: its own Worker contract (price, key, status) and
// each client's ClientEscrow (state, worker, client key). Short TTLs; the escrow's worker address
// never changes. The escrow cache is bounded (least recently used entries go first), and a read of
// an address the cache does not hold can be rate-limited: a made-up address costs a chain read, so
// strangers must not be able to make the node read the chain (or grow its memory) at will.
import { Address } from '@ton/core';
import { Chain, ClientEscrow, Worker, type EscrowState, type WorkerInfo } from '../sdk';
import type { TokenBucket } from './rateLimit';

export const ESCROW_NONE = 0n;
export const ESCROW_OPENING = 1n;
export const ESCROW_OPEN = 2n;
export const ESCROW_CLOSING = 3n;

/** True when a getter failed because the contract does not exist (never deployed, or destroyed). */
export function isNotDeployed(e: unknown): boolean {
    const m = e instanceof Error ? e.message : String(e);
    return /non-active contract|exit_code: -13\b|exit_code: -256\b|not (yet )?(deployed|initialized)|uninit/i.test(m);
}

/**
 * True when a getter ran and the contract refused it (an exit code): a deployed contract that is not
 * a ClientEscrow (the Worker, the root, a wallet answer `worker`/`state` with exit code 11 or so).
 */
export function isGetterRefused(e: unknown): boolean {
    const m = e instanceof Error ? e.message : String(e);
    return !isNotDeployed(e) && /exit[_ ]code:?\s*-?\d+/i.test(m);
}

interface Cached<T> {
    value: T;
    at: number;
}

export interface EscrowSnapshot {
    address: Address;
    worker: Address;
    state: EscrowState;
    fetchedAt: number;
}

/** What an address holds: an escrow, nothing, or a contract that is not a ClientEscrow. */
export type EscrowLookup = { kind: 'escrow'; snap: EscrowSnapshot } | { kind: 'none' } | { kind: 'not_escrow' };

/** A lookup of an address the cache does not hold was refused by the rate limit. */
export class LookupRateLimited extends Error {
    constructor() {
        super('too many lookups of unknown escrows');
        this.name = 'LookupRateLimited';
    }
}

export interface EscrowViewOptions {
    /** TTL of a cached state (ms). */
    ttlMs: number;
    /** Most addresses held in the cache (default 10,000). */
    maxEntries?: number;
    /** TTL of "no escrow here" answers (ms, default max(ttlMs, 10 s)). */
    negativeTtlMs?: number;
    clock?: () => number;
}

/** ClientEscrow getters through the Chain interface, cached. */
export class EscrowView {
    private readonly cache = new Map<string, Cached<EscrowLookup>>();
    private readonly pending = new Map<string, Promise<EscrowLookup>>();
    private readonly ttlMs: number;
    private readonly negativeTtlMs: number;
    readonly maxEntries: number;
    private readonly clock: () => number;
    /** Chain reads made (tests and metrics). */
    reads = 0;

    constructor(private readonly chain: Chain, opts: EscrowViewOptions | number, clock?: () => number) {
        const o: EscrowViewOptions = typeof opts === 'number' ? { ttlMs: opts, clock } : opts;
        this.ttlMs = o.ttlMs;
        this.maxEntries = o.maxEntries ?? 10_000;
        this.negativeTtlMs = o.negativeTtlMs ?? Math.max(o.ttlMs, 10_000);
        this.clock = o.clock ?? Date.now;
    }

    /** The escrow's snapshot, null when the address holds no escrow (claim loop, tests). */
    async get(address: Address, opts: { fresh?: boolean } = {}): Promise<EscrowSnapshot | null> {
        const r = await this.lookup(address, opts);
        return r.kind === 'escrow' ? r.snap : null;
    }

    /**
     * What the address holds, from the cache when fresh enough. `unknown`, when given, is asked for
     * a token before an address the cache does not hold is read from the chain (LookupRateLimited
     * when it has none); re-reads of cached addresses are not limited by it.
     */
    async lookup(address: Address, opts: { fresh?: boolean; unknown?: TokenBucket; maxAgeMs?: number } = {}): Promise<EscrowLookup> {
        const k = address.toRawString();
        const hit = this.cache.get(k);
        if (hit && !opts.fresh) {
            const ttl = hit.value.kind === 'escrow' ? (opts.maxAgeMs ?? this.ttlMs) : this.negativeTtlMs;
            if (this.clock() - hit.at < ttl) {
                this.touch(k, hit);
                return hit.value;
            }
        }
        const inflight = this.pending.get(k);
        if (inflight) return inflight;
        if (!hit && opts.unknown && !opts.unknown.take()) throw new LookupRateLimited();
        const p = this.fetch(address, hit?.value).finally(() => this.pending.delete(k));
        this.pending.set(k, p);
        return p;
    }

    /** Age (ms) of the cached entry, Infinity when none. */
    age(address: Address): number {
        const hit = this.cache.get(address.toRawString());
        return hit ? this.clock() - hit.at : Infinity;
    }

    private touch(k: string, c: Cached<EscrowLookup>): void {
        this.cache.delete(k);
        this.cache.set(k, c);
    }

    private async fetch(address: Address, previous?: EscrowLookup): Promise<EscrowLookup> {
        const k = address.toRawString();
        const c = this.chain.open(ClientEscrow.fromAddress(address));
        let value: EscrowLookup;
        this.reads++;
        try {
            // the worker of an escrow never changes (it is part of its address)
            const worker = previous?.kind === 'escrow' ? previous.snap.worker : await c.getWorker();
            const state = await c.getState();
            value = { kind: 'escrow', snap: { address, worker, state, fetchedAt: this.clock() } };
        } catch (e) {
            if (isNotDeployed(e)) value = { kind: 'none' };
            else if (isGetterRefused(e)) value = { kind: 'not_escrow' };
            else throw e;
        }
        this.cache.delete(k);
        this.cache.set(k, { value, at: this.clock() });
        while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
        return value;
    }

    invalidate(address?: Address): void {
        if (address) this.cache.delete(address.toRawString());
        else this.cache.clear();
    }

    get size(): number {
        return this.cache.size;
    }
}

/** This node's own Worker contract, cached for `ttlMs`. null: not deployed yet. */
export class WorkerView {
    private cached: Cached<WorkerInfo | null> | null = null;
    private pending: Promise<WorkerInfo | null> | null = null;

    constructor(private readonly chain: Chain, readonly address: Address, private readonly ttlMs: number, private readonly clock: () => number = Date.now) {}

    async get(opts: { fresh?: boolean } = {}): Promise<WorkerInfo | null> {
        if (!opts.fresh && this.cached && this.clock() - this.cached.at < this.ttlMs) return this.cached.value;
        if (this.pending) return this.pending;
        this.pending = (async () => {
            let value: WorkerInfo | null;
            try {
                value = await this.chain.open(Worker.fromAddress(this.address)).getInfo();
            } catch (e) {
                if (!isNotDeployed(e)) throw e;
                value = null;
            }
            this.cached = { value, at: this.clock() };
            return value;
        })().finally(() => {
            this.pending = null;
        });
        return this.pending;
    }

    invalidate(): void {
        this.cached = null;
    }
}

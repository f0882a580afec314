// Cached reads of the chain the node decides on: its own Worker contract (price, key, status) and
// each client's ClientEscrow (state, worker). Short TTLs; the escrow's worker address never changes.
import { Address } from '@ton/core';
import { Chain, ClientEscrow, Worker, type EscrowState, type WorkerInfo } from '../sdk';

export const ESCROW_NONE = 0n;
export const ESCROW_OPENING = 1n;
export const ESCROW_OPEN = 2n;
export const ESCROW_CLOSING = 3n;

/** True when a getter failed because the contract does not exist (never deployed, or destroyed). */
export function isNotDeployed(e: unknown): boolean {
    const m = e instanceof Error ? e.message : String(e);
    return /non-active contract|exit_code: -13\b|exit_code: -256\b|not (yet )?(deployed|initialized)|uninit/i.test(m);
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

/** ClientEscrow.getState through the Chain interface, cached for `ttlMs`. null: no such escrow. */
export class EscrowView {
    private readonly cache = new Map<string, Cached<EscrowSnapshot | null>>();
    private readonly workers = new Map<string, Address>();
    private readonly pending = new Map<string, Promise<EscrowSnapshot | null>>();

    constructor(private readonly chain: Chain, private readonly ttlMs: number, private readonly clock: () => number = Date.now) {}

    async get(address: Address, opts: { fresh?: boolean } = {}): Promise<EscrowSnapshot | null> {
        const k = address.toRawString();
        const hit = this.cache.get(k);
        if (!opts.fresh && hit && this.clock() - hit.at < this.ttlMs) return hit.value;
        const inflight = this.pending.get(k);
        if (inflight) return inflight;
        const p = this.fetch(address).finally(() => this.pending.delete(k));
        this.pending.set(k, p);
        return p;
    }

    private async fetch(address: Address): Promise<EscrowSnapshot | null> {
        const k = address.toRawString();
        const c = this.chain.open(ClientEscrow.fromAddress(address));
        let value: EscrowSnapshot | null;
        try {
            const state = await c.getState();
            let worker = this.workers.get(k);
            if (!worker) {
                worker = await c.getWorker();
                this.workers.set(k, worker);
            }
            value = { address, worker, state, fetchedAt: this.clock() };
        } catch (e) {
            if (!isNotDeployed(e)) throw e;
            value = null;
        }
        this.cache.set(k, { value, at: this.clock() });
        return value;
    }

    invalidate(address?: Address): void {
        if (address) this.cache.delete(address.toRawString());
        else this.cache.clear();
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

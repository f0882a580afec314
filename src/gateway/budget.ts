// Escrows on a budget. The gateway holds at most one escrow per worker (its address derives from
// the worker and the wallet), and never has more than `budget` nanoton deposited at once: the sum of
// the on-chain `deposit` of all its escrows (open, opening or closing, until withdrawn) plus what an
// open or a top-up would add must stay within it. Claims only lower deposits, so between the
// gateway's own actions the sum can only go down.
//
//   open      lazily, when a request picks a worker the gateway has no escrow with: perWorkerDeposit,
//             maxPrice = the user's cap, the client key's public half (API keys are signed with it)
//   top up    when the escrow's credit (deposit + paid - the latest receipt's cost) is below
//             topUpBelow x perWorkerDeposit or below the request's worst case: back to perWorkerDeposit
//   close     when no request used it for idleCloseSec (chain time), or its worker was dropped
//   withdraw  once chain time passes its closeAt (the dispute window): the rest comes back to the wallet
//
// Every on-chain action runs in one lane (one at a time: the wallet's sends are sequential, and the
// budget check and the send are one step), is logged, and is kept in a bounded history for
// /gateway/status. The state is the chain's: after a restart the escrows are found again from the
// workers' addresses; only the last-use times start over.
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import { ESCROW_CLOSING, ESCROW_NONE, ESCROW_OPEN, ESCROW_OPENING, escrowAddress, type Chain, type EscrowState } from '../sdk';
import type { CocoonClient, ReceiptBook } from '../client';
import { GatewayError, Refuse } from './errors';

export type ChainActionName = 'open' | 'topUp' | 'close' | 'withdraw' | 'setClientKey';

export interface ChainAction {
    /** Wall clock, ISO. */
    at: string;
    action: ChainActionName;
    worker: string;
    escrow: string;
    /** nanoton moved by the action (deposit, top-up, refund); 0 for close and setClientKey. */
    amount: string;
    ok: boolean;
    reason: string;
    error?: string;
    ms: number;
}

export interface EscrowEntry {
    worker: Address;
    key: string;
    address: Address;
    state: EscrowState | null;
    /** Chain time of the last request on it (or of its adoption / opening). */
    lastUsed: number;
}

export interface BudgetOptions {
    budget: bigint;
    perWorkerDeposit: bigint;
    topUpBelow: number;
    maxPrice: bigint;
    idleCloseSec: number;
    /** The client key's public half, as escrows hold it. */
    clientKey: bigint;
}

const HISTORY = 200;

export class EscrowBudget {
    private readonly entries = new Map<string, EscrowEntry>();
    private lane: Promise<unknown> = Promise.resolve();
    private readonly locks = new Map<string, Promise<unknown>>();
    readonly actions: ChainAction[] = [];
    readonly withdrawn: { escrow: string; worker: string; amount: string; at: string }[] = [];
    onAction?: (a: ChainAction) => void;

    constructor(
        private readonly client: CocoonClient,
        private readonly chain: Chain,
        private readonly book: ReceiptBook,
        private readonly o: BudgetOptions,
        private readonly log: Logger,
    ) {}

    /** Runs on-chain work one step at a time. */
    private inLane<T>(fn: () => Promise<T>): Promise<T> {
        const run = this.lane.then(fn, fn);
        this.lane = run.catch(() => undefined);
        return run;
    }

    /** Waits for the on-chain action in progress, if any. */
    idle(): Promise<unknown> {
        return this.lane;
    }

    /**
     * Runs `fn` with the worker's escrow to itself: requests on one escrow go one after another (each
     * receipt extends the previous one exactly, docs/SIGNING.md).
     */
    exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
        const prev = this.locks.get(key) ?? Promise.resolve();
        const run = prev.then(fn, fn);
        const tail = run.catch(() => undefined);
        this.locks.set(key, tail);
        void tail.then(() => {
            if (this.locks.get(key) === tail) this.locks.delete(key);
        });
        return run;
    }

    /** Finds the gateway's escrows with these workers on-chain (after a start or restart). */
    async adopt(workers: Address[]): Promise<number> {
        const now = await this.chain.now();
        let n = 0;
        for (const w of workers) {
            const key = w.toRawString();
            if (this.entries.has(key)) continue;
            const address = await escrowAddress(w, this.client.address);
            const state = await this.client.escrows.ops.escrowState(address);
            if (!state || state.state === ESCROW_NONE) continue;
            this.entries.set(key, { worker: w, key, address, state, lastUsed: now });
            n++;
            this.log.info({ worker: w.toString(), escrow: address.toString(), state: stateName(state.state), deposit: state.deposit.toString() }, 'found an escrow of this wallet on-chain');
        }
        return n;
    }

    entry(key: string): EscrowEntry | undefined {
        return this.entries.get(key);
    }

    all(): EscrowEntry[] {
        return [...this.entries.values()];
    }

    /** An open escrow the gateway can send requests on now. */
    hasOpen(key: string): boolean {
        return this.entries.get(key)?.state?.state === ESCROW_OPEN;
    }

    /** The sum of on-chain deposits of every escrow not yet withdrawn (what the budget bounds). */
    deposited(): bigint {
        let s = 0n;
        for (const e of this.entries.values()) if (e.state && e.state.state !== ESCROW_NONE) s += e.state.deposit;
        return s;
    }

    /** What the escrow can still pay: deposit + paid - the cost of the latest receipt (held, or settled on-chain). */
    credit(e: EscrowEntry): bigint {
        const st = e.state;
        if (!st) return 0n;
        const r = this.book.latest(e.address);
        const spent = r && r.epoch === st.epoch && r.cost > st.lastCost ? r.cost : st.lastCost;
        const c = st.deposit + st.paid - spent;
        return c > 0n ? c : 0n;
    }

    /** The request on this escrow finished; its last use is now (chain time). */
    async touch(key: string): Promise<void> {
        const e = this.entries.get(key);
        if (e) e.lastUsed = await this.chain.now();
    }

    private async readState(e: EscrowEntry): Promise<void> {
        e.state = await this.client.escrows.ops.escrowState(e.address);
    }

    private record(a: Omit<ChainAction, 'at'>): void {
        const full: ChainAction = { at: new Date().toISOString(), ...a };
        this.actions.push(full);
        if (this.actions.length > HISTORY) this.actions.shift();
        const fields = { action: a.action, worker: a.worker, escrow: a.escrow, amount: a.amount, reason: a.reason, ms: a.ms, deposited: this.deposited().toString(), budget: this.o.budget.toString() };
        if (a.ok) this.log.info(fields, `on-chain: ${a.action}`);
        else this.log.error({ ...fields, err: a.error }, `on-chain: ${a.action} failed`);
        this.onAction?.(full);
    }

    private async act<T>(action: ChainActionName, e: EscrowEntry, amount: bigint, reason: string, fn: () => Promise<T>): Promise<T> {
        const t0 = Date.now();
        const row = { action, worker: e.worker.toString(), escrow: e.address.toString(), amount: amount.toString(), reason };
        let r: T;
        try {
            r = await fn();
        } catch (err) {
            await this.readState(e).catch(() => undefined);
            this.record({ ...row, ok: false, error: (err as Error).message, ms: Date.now() - t0 });
            throw err;
        }
        await this.readState(e).catch(() => undefined);
        this.record({ ...row, ok: true, ms: Date.now() - t0 });
        return r;
    }

    /**
     * An open escrow with `worker` that can pay `worstCase`: opened or topped up first when needed and
     * the budget allows. Throws GatewayError budget_exhausted when it does not, or a ClientError
     * when the chain refused.
     */
    ensure(worker: Address, worstCase: bigint): Promise<EscrowEntry> {
        const key = worker.toRawString();
        return this.inLane(async () => {
            let e = this.entries.get(key);
            if (!e) {
                const address = await escrowAddress(worker, this.client.address);
                e = { worker, key, address, state: null, lastUsed: await this.chain.now() };
                await this.readState(e);
                if (e.state && e.state.state !== ESCROW_NONE) this.entries.set(key, e);
            }
            const st = e.state;
            if (st && (st.state === ESCROW_CLOSING || st.state === ESCROW_OPENING)) {
                throw Refuse.budget(`the escrow with this worker is ${stateName(st.state)} (withdrawn after ${new Date(Number(st.closeAt) * 1000).toISOString()})`);
            }
            if (!st || st.state === ESCROW_NONE) {
                const room = this.o.budget - this.deposited();
                const amount = this.o.perWorkerDeposit > worstCase ? this.o.perWorkerDeposit : worstCase;
                if (amount > room) throw Refuse.budget(`opening an escrow of ${amount} nanoton would put ${this.deposited() + amount} of the budget ${this.o.budget} on deposit`);
                const entry = e;
                this.entries.set(key, entry);
                try {
                    await this.act('open', entry, amount, 'a request picked this worker and the gateway had no escrow with it', () =>
                        this.client.escrows.open(worker, amount, this.o.maxPrice, this.o.clientKey));
                } catch (err) {
                    if (!entry.state || entry.state.state === ESCROW_NONE) this.entries.delete(key);
                    throw err;
                }
                entry.lastUsed = await this.chain.now();
                return entry;
            }
            if (st.clientKey !== this.o.clientKey) {
                await this.act('setClientKey', e, 0n, 'the escrow holds another client key than the gateway signs API keys with', () =>
                    this.client.escrows.ops.setClientKey(e!.address, this.o.clientKey));
            }
            const credit = this.credit(e);
            const threshold = (this.o.perWorkerDeposit * BigInt(Math.round(this.o.topUpBelow * 1e6))) / 1_000_000n;
            if (credit < threshold || credit < worstCase) {
                let amount = this.o.perWorkerDeposit - credit;
                if (amount < worstCase - credit) amount = worstCase - credit;
                const room = this.o.budget - this.deposited();
                if (amount > room) amount = room;
                if (credit + amount < worstCase) {
                    throw Refuse.budget(`the escrow with this worker has ${credit} nanoton of credit, this request may cost up to ${worstCase}, and the budget has room for ${room > 0n ? room : 0n} more`);
                }
                if (amount > 0n) {
                    await this.act('topUp', e, amount, `credit ${credit} below ${credit < worstCase ? `the worst case ${worstCase}` : `the threshold ${threshold}`}`, () =>
                        this.client.escrows.topUp(worker, amount));
                }
            }
            return e;
        });
    }

    /** Re-reads an escrow (after a worker refused it: closed, emptied or refreshed behind our back). */
    reread(key: string): Promise<void> {
        const e = this.entries.get(key);
        return e ? this.inLane(() => this.readState(e)) : Promise.resolve();
    }

    /** Closes the escrow with a worker now (a dropped worker): it can claim during the dispute window, then the rest comes back. */
    closeNow(key: string, reason: string): Promise<void> {
        return this.inLane(async () => {
            const e = this.entries.get(key);
            if (!e) return;
            await this.readState(e);
            if (e.state?.state !== ESCROW_OPEN) return;
            await this.act('close', e, 0n, reason, () => this.client.escrows.close(e.worker)).catch(() => undefined);
        });
    }

    /** Upkeep: closes idle escrows and withdraws those whose dispute window is over. */
    tick(): Promise<void> {
        return this.inLane(async () => {
            const now = await this.chain.now();
            for (const e of [...this.entries.values()]) {
                await this.readState(e).catch(() => undefined);
                const st = e.state;
                if (!st || st.state === ESCROW_NONE) {
                    this.entries.delete(e.key);
                    continue;
                }
                if (st.state === ESCROW_OPEN && !this.locks.has(e.key) && now - e.lastUsed >= this.o.idleCloseSec) {
                    await this.act('close', e, 0n, `idle for ${now - e.lastUsed} s (idleCloseSec ${this.o.idleCloseSec})`, () => this.client.escrows.close(e.worker)).catch(() => undefined);
                } else if ((st.state === ESCROW_CLOSING || st.state === ESCROW_OPENING) && now >= Number(st.closeAt)) {
                    const expected = st.deposit;
                    try {
                        const amount = await this.act('withdraw', e, expected, 'the dispute window is over', () => this.client.escrows.withdraw(e.worker));
                        this.book.forget(e.address);
                        this.withdrawn.push({ escrow: e.address.toString(), worker: e.worker.toString(), amount: amount.toString(), at: new Date().toISOString() });
                        if (this.withdrawn.length > HISTORY) this.withdrawn.shift();
                        this.entries.delete(e.key);
                    } catch {
                        // logged by act(); tried again at the next tick
                    }
                }
            }
        });
    }
}

export function stateName(s: bigint): string {
    return ['none', 'opening', 'open', 'closing'][Number(s)] ?? `state ${s}`;
}

export function isBudgetError(e: unknown): e is GatewayError {
    return e instanceof GatewayError && e.code === 'budget_exhausted';
}

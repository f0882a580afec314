// GET /gateway/status (and `cocoon gateway status`): escrows, deposits, what was spent, receipts
// held, pending withdrawals, the workers as the gateway sees them, dropped workers and the latest
// on-chain actions. GET /healthz: 200 only when the gateway can serve: not stopping, the worker
// list was read, and at least minWorkers workers are usable. Amounts are nanoton, as decimal strings.
import type { Address } from '@ton/core';
import { ESCROW_CLOSING, ESCROW_OPENING, asPrices, type PriceSet } from '../sdk';
import type { ReceiptBook } from '../client';
import { stateName, type EscrowBudget, type ChainAction } from './budget';
import type { GatewayConfig } from './config';
import { selectWorkers, type WorkerStats } from './policy';
import type { WorkerRegistry } from './registry';
import type { DroppedWorker } from './receiptStore';

export interface StatusSources {
    config: GatewayConfig;
    url: string;
    wallet: Address;
    network: string;
    root: Address;
    startedAt: string;
    stopping: () => boolean;
    inflight: () => number;
    budget: EscrowBudget;
    book: ReceiptBook;
    registry: WorkerRegistry;
    stats: WorkerStats;
    dropped: () => DroppedWorker[];
    now: () => Promise<number>;
}

export interface EscrowStatus {
    worker: string;
    escrow: string;
    state: string;
    deposit: string;
    paid: string;
    /** What the escrow can still pay (deposit + paid - latest receipt). */
    credit: string;
    /** The latest verified receipt's cumulative cost this epoch. */
    spent: string;
    receipt: { seq: string; tokens: string; promptTokens: string; cachedTokens: string; completionTokens: string; cost: string } | null;
    /** The escrow's caps per token class (nanoton per 1M tokens). */
    caps: PriceStrings;
    idleSec: number;
    closeAt: number | null;
}

/** Prices per token class as decimal strings (nanoton per 1M tokens). */
export interface PriceStrings { prompt: string; cached: string; completion: string }
const priceStrings = (p: PriceSet): PriceStrings => ({ prompt: p.prompt.toString(), cached: p.cached.toString(), completion: p.completion.toString() });

export interface GatewayStatus {
    gateway: { url: string; wallet: string; network: string; root: string; startedAt: string; stopping: boolean; inflight: number };
    budget: { budget: string; perWorkerDeposit: string; deposited: string; room: string; maxPrice: string; minWorkers: number; idleCloseSec: number };
    totals: { escrows: number; spent: string; tokens: string; receiptsHeld: number; pendingWithdrawal: string };
    escrows: EscrowStatus[];
    pendingWithdrawals: { worker: string; escrow: string; amount: string; withdrawableAt: number; inSec: number }[];
    withdrawn: { escrow: string; worker: string; amount: string; at: string }[];
    workers: {
        worker: string; models: string[]; prices: PriceStrings; expiresAt: number; usable: boolean; latencyMs: number | null; errorRate: number;
        coolingDownSec: number; queued: number; requests: number; failures: number; lastError: string | null; hasEscrow: boolean;
    }[];
    dropped: DroppedWorker[];
    actions: ChainAction[];
}

export async function gatewayStatus(s: StatusSources): Promise<GatewayStatus> {
    const now = await s.now();
    const c = s.config;
    const deposited = s.budget.deposited();
    let spent = 0n;
    let tokens = 0n;
    let pending = 0n;
    const escrows: EscrowStatus[] = [];
    const pendingWithdrawals: GatewayStatus['pendingWithdrawals'] = [];
    for (const e of s.budget.all()) {
        const st = e.state;
        if (!st) continue;
        const r = s.book.latest(e.address);
        const rr = r && r.epoch === st.epoch ? r : null;
        const cost = rr ? rr.cost : st.lastCost;
        spent += cost;
        tokens += rr ? rr.tokens : st.lastTokens;
        const closing = st.state === ESCROW_CLOSING || st.state === ESCROW_OPENING;
        escrows.push({
            worker: e.worker.toString(), escrow: e.address.toString(), state: stateName(st.state), deposit: st.deposit.toString(), paid: st.paid.toString(),
            credit: s.budget.credit(e).toString(), spent: cost.toString(),
            receipt: rr ? {
                seq: rr.seq.toString(), tokens: rr.tokens.toString(), promptTokens: rr.promptTokens.toString(), cachedTokens: rr.cachedTokens.toString(),
                completionTokens: rr.completionTokens.toString(), cost: rr.cost.toString(),
            } : null,
            caps: priceStrings(st.caps), idleSec: Math.max(0, now - e.lastUsed), closeAt: closing ? Number(st.closeAt) : null,
        });
        if (closing) {
            pending += st.deposit;
            pendingWithdrawals.push({ worker: e.worker.toString(), escrow: e.address.toString(), amount: st.deposit.toString(), withdrawableAt: Number(st.closeAt), inSec: Math.max(0, Number(st.closeAt) - now) });
        }
    }
    const candidates = s.registry.candidates();
    const usable = new Set<string>();
    for (const m of new Set(candidates.flatMap((x) => x.models))) {
        const sel = selectWorkers(candidates, s.stats, {
            model: m, now, nowMs: Date.now(), maxPrice: asPrices(c.maxPrice), leaseMarginSec: c.leaseMarginSec, maxQueue: Number.MAX_SAFE_INTEGER, hasEscrow: () => false,
        });
        for (const w of sel.ranked) usable.add(w.key);
    }
    const workers: GatewayStatus['workers'] = candidates.map((w) => {
        const h = s.stats.view(w.key);
        return {
            worker: w.worker.toString(), models: w.models, prices: priceStrings(w.prices), expiresAt: w.expiresAt, usable: usable.has(w.key),
            latencyMs: h.latencyMs === null ? null : Math.round(h.latencyMs * 10) / 10, errorRate: Math.round(h.errorRate * 1000) / 1000,
            coolingDownSec: Math.max(0, Math.ceil((h.downUntil - Date.now()) / 1000)), queued: h.queued, requests: h.requests, failures: h.failures,
            lastError: h.lastError, hasEscrow: s.budget.hasOpen(w.key),
        };
    });
    return {
        gateway: { url: s.url, wallet: s.wallet.toString(), network: s.network, root: s.root.toString(), startedAt: s.startedAt, stopping: s.stopping(), inflight: s.inflight() },
        budget: {
            budget: c.budget.toString(), perWorkerDeposit: c.perWorkerDeposit.toString(), deposited: deposited.toString(),
            room: (c.budget > deposited ? c.budget - deposited : 0n).toString(), maxPrice: c.maxPrice.toString(), minWorkers: c.minWorkers, idleCloseSec: c.idleCloseSec,
        },
        totals: { escrows: escrows.length, spent: spent.toString(), tokens: tokens.toString(), receiptsHeld: s.book.all().length, pendingWithdrawal: pending.toString() },
        escrows, pendingWithdrawals, withdrawn: [...s.budget.withdrawn], workers, dropped: s.dropped(), actions: s.budget.actions.slice(-50),
    };
}

export interface Health {
    ok: boolean;
    body: { ok: boolean; stopping: boolean; workersListed: boolean; usableWorkers: number; minWorkers: number; listError: string | null; reason?: string };
}

export function gatewayHealth(st: GatewayStatus, s: StatusSources): Health {
    const usableWorkers = st.workers.filter((w) => w.usable).length;
    const listed = s.registry.loaded;
    let reason: string | undefined;
    if (st.gateway.stopping) reason = 'stopping';
    else if (!listed) reason = `the worker list could not be read${s.registry.lastError ? `: ${s.registry.lastError}` : ''}`;
    else if (usableWorkers < s.config.minWorkers) reason = `${usableWorkers} usable worker(s), fewer than minWorkers=${s.config.minWorkers}`;
    const ok = reason === undefined;
    return { ok, body: { ok, stopping: st.gateway.stopping, workersListed: listed, usableWorkers, minWorkers: s.config.minWorkers, listError: s.registry.lastError, ...(reason ? { reason } : {}) } };
}

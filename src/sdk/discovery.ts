// Worker discovery. The root forwards every accepted registration to the operator's Worker as an
// AttestResult (internal message, opcode 0xc0c00131): those messages in the root's transactions are
// the index of workers. Whether a statement took effect only the Worker knows: it emits WorkerAttested
// (external out message, opcode 0xc0c00501) when it does, and its info() getter is the truth.
import { Address, Transaction } from '@ton/core';
import { CocoonRoot, Worker, loadWorkerAttested, loadAttestResult, type WorkerInfo } from './contracts';
import type { Chain } from './chain';
import { workerAddress } from './addresses';
import { parseStatementCell } from './attestation';
import { modelNames } from './validate';
import { asPrices, pricesWithin, type PriceSet } from './prices';

/**
 * The Worker addresses a root trusts for an operator. A root deploys the Worker code it was built
 * with and keeps accepting the Workers of earlier codes after an upgrade that changed it
 * (docs/ARCHITECTURE.md, Upgrades): `rootWorkerAddresses` asks the root; `sdkWorkerAddresses`
 * derives the one address of the Worker code this SDK ships.
 */
export type WorkerAddressResolver = (operator: Address) => Promise<Address[]>;

export function sdkWorkerAddresses(root: Address): WorkerAddressResolver {
    return async (operator) => [await workerAddress(root, operator)];
}

/** Every Worker address the root accepts for an operator (its `workerAddressesOf` getter), cached per operator. */
export function rootWorkerAddresses(chain: Chain, root: Address): WorkerAddressResolver {
    const r = chain.open(CocoonRoot.fromAddress(root));
    const cache = new Map<string, Promise<Address[]>>();
    return (operator) => {
        const k = operator.toRawString();
        let v = cache.get(k);
        if (!v) {
            v = r.getWorkerAddressesOf(operator).then((d) => [...d.values()], () => sdkWorkerAddresses(root)(operator));
            cache.set(k, v);
        }
        return v;
    };
}

export const WORKER_ATTESTED_OPCODE = 0xc0c00501;
export const ATTEST_RESULT_OPCODE = 0xc0c00131;

/** A registration the root accepted and forwarded to the operator's Worker (it may not have taken effect). */
export interface WorkerRegistration {
    operator: Address;
    /** The operator's Worker contract, derived from (root, operator) as the root derives it. */
    worker: Address;
    measurement: bigint;
    expiresAt: number;
    /** Logical time of the root transaction that forwarded it. */
    lt: bigint;
}

/** A statement that took effect on a Worker (its WorkerAttested event). */
export interface WorkerAttestedEvent extends WorkerRegistration {
    quoteHash: bigint;
    tcbStatus: number;
}

/**
 * Registrations from transactions: @ton/sandbox results (`result.transactions`) or
 * TonClient.getTransactions(root, ...). Only AttestResult messages sent by `root` to a Worker address
 * of the operator (`addresses`) are read.
 */
export async function workerRegistrations(transactions: Iterable<Transaction>, root: Address, addresses: WorkerAddressResolver = sdkWorkerAddresses(root)): Promise<WorkerRegistration[]> {
    const out: WorkerRegistration[] = [];
    for (const tx of transactions) {
        for (const m of tx.outMessages.values()) {
            if (m.info.type !== 'internal' || !m.info.src.equals(root)) continue;
            const s = m.body.beginParse();
            if (s.remainingBits < 32 || s.preloadUint(32) !== ATTEST_RESULT_OPCODE) continue;
            let st;
            try {
                st = parseStatementCell(loadAttestResult(s).statement);
            } catch {
                continue;
            }
            const worker = m.info.dest;
            if (!(await addresses(st.operator)).some((a) => a.equals(worker))) continue;
            out.push({ operator: st.operator, worker, measurement: st.measurement, expiresAt: st.expiresAt, lt: tx.lt });
        }
    }
    return out.sort((a, b) => (a.lt < b.lt ? -1 : a.lt > b.lt ? 1 : 0));
}

/**
 * WorkerAttested events of `root`'s Workers in `transactions` (the Workers' own transactions: the
 * sandbox's history, or an indexer's). An event counts only if it comes from the Worker that the
 * root derives for the operator it names.
 */
export async function workerAttestedEvents(transactions: Iterable<Transaction>, root: Address, addresses: WorkerAddressResolver = sdkWorkerAddresses(root)): Promise<WorkerAttestedEvent[]> {
    const out: WorkerAttestedEvent[] = [];
    for (const tx of transactions) {
        for (const m of tx.outMessages.values()) {
            if (m.info.type !== 'external-out') continue;
            const s = m.body.beginParse();
            if (s.remainingBits < 32 || s.preloadUint(32) !== WORKER_ATTESTED_OPCODE) continue;
            const e = loadWorkerAttested(s);
            const worker = m.info.src;
            if (!worker || !(await addresses(e.operator)).some((a) => a.equals(worker))) continue;
            out.push({
                operator: e.operator, worker, measurement: e.measurement, expiresAt: Number(e.expiresAt),
                quoteHash: e.quoteHash, tcbStatus: Number(e.tcbStatus), lt: tx.lt,
            });
        }
    }
    return out.sort((a, b) => (a.lt < b.lt ? -1 : a.lt > b.lt ? 1 : 0));
}

/** One entry per worker: its latest one. */
export function latestByWorker<T extends { worker: Address; lt: bigint }>(events: T[]): T[] {
    const m = new Map<string, T>();
    for (const e of events) {
        const k = e.worker.toRawString();
        const prev = m.get(k);
        if (!prev || prev.lt < e.lt) m.set(k, e);
    }
    return [...m.values()];
}

/** Minimal TonClient surface used to page through the root's history. */
export interface TransactionSource {
    getTransactions(address: Address, opts: { limit: number; lt?: string; hash?: string; inclusive?: boolean; archival?: boolean }): Promise<Transaction[]>;
}

/** The root's most recent transactions (newest first), `max` at most, paging `page` at a time. */
export async function fetchRootTransactions(client: TransactionSource, root: Address, max = 1000, page = 100): Promise<Transaction[]> {
    const all: Transaction[] = [];
    let cursor: { lt: string; hash: string } | undefined;
    while (all.length < max) {
        const batch = await client.getTransactions(root, { limit: Math.min(page, max - all.length), ...(cursor ? { ...cursor, inclusive: false } : {}), archival: true });
        if (batch.length === 0) break;
        all.push(...batch);
        const last = batch[batch.length - 1];
        cursor = { lt: last.lt.toString(), hash: last.hash().toString('base64') };
        if (batch.length < page) break;
    }
    return all;
}

export interface WorkerListing {
    operator: Address;
    worker: Address;
    measurement: bigint;
    model: string | null;
    prices: PriceSet;
    stake: bigint;
    expiresAt: number;
    endpoint: string | null;
    teeKey: bigint;
    tlsKeyHash: bigint;
    feeBps: bigint;
    info: WorkerInfo;
}

export interface WorkerFilter {
    /** Only workers attested with this measurement. */
    measurement?: bigint;
    /** Only workers whose measurement the root maps to this model name. */
    model?: string;
    /** Only workers at or below this price in every token class (or one cap for all), nanoton per 1M tokens. */
    maxPrice?: bigint | PriceSet;
    /** Only workers whose attestation is valid for at least this many more seconds. */
    minRemaining?: number;
    /** Only workers with a published endpoint. */
    requireEndpoint?: boolean;
}

/**
 * Active workers of `root` found in `transactions`, each read from its contract, filtered, cheapest
 * first. Workers whose info() cannot be read, of another root, or inactive are left out. Workers of
 * every Worker code the root accepts are found (it is asked for them).
 */
export async function listWorkers(chain: Chain, root: Address, transactions: Iterable<Transaction>, filter: WorkerFilter = {}): Promise<WorkerListing[]> {
    const events = latestByWorker(await workerRegistrations(transactions, root, rootWorkerAddresses(chain, root)));
    const r = chain.open(CocoonRoot.fromAddress(root));
    const now = await chain.now();
    const models = new Map<bigint, string | null>();
    const out: WorkerListing[] = [];
    for (const e of events) {
        let info: WorkerInfo;
        try {
            info = await chain.open(Worker.fromAddress(e.worker)).getInfo();
        } catch {
            continue;
        }
        if (!info.root.equals(root) || !info.operator.equals(e.operator) || !info.active) continue;
        if (filter.measurement !== undefined && info.measurement !== filter.measurement) continue;
        if (!models.has(info.measurement)) models.set(info.measurement, await r.getModelOf(info.measurement));
        const model = models.get(info.measurement) ?? null;
        if (model === null) continue; // measurement revoked
        if (filter.model !== undefined && !modelNames(model).includes(filter.model)) continue;
        if (filter.maxPrice !== undefined && !pricesWithin(info.prices, asPrices(filter.maxPrice, 'maxPrice'))) continue;
        if (filter.minRemaining !== undefined && Number(info.expiresAt) < now + filter.minRemaining) continue;
        if (filter.requireEndpoint && !info.endpoint) continue;
        out.push({
            operator: info.operator, worker: e.worker, measurement: info.measurement, model, prices: info.prices,
            stake: info.stake, expiresAt: Number(info.expiresAt), endpoint: info.endpoint, teeKey: info.teeKey,
            tlsKeyHash: info.tlsKeyHash, feeBps: info.feeBps, info,
        });
    }
    return out.sort(byPriceThenStake);
}

/**
 * Cheapest first: by the price of a typical chat request, 3 prompt tokens for every completion token
 * (cached tokens left out), then by the completion price, then the larger stake first.
 */
export function typicalPrice(p: PriceSet): bigint {
    return 3n * p.prompt + p.completion;
}

export function byPriceThenStake(a: { prices: PriceSet; stake: bigint }, b: { prices: PriceSet; stake: bigint }): number {
    const ta = typicalPrice(a.prices), tb = typicalPrice(b.prices);
    if (ta !== tb) return ta < tb ? -1 : 1;
    if (a.prices.completion !== b.prices.completion) return a.prices.completion < b.prices.completion ? -1 : 1;
    return b.stake > a.stake ? 1 : b.stake < a.stake ? -1 : 0;
}

// Listing the workers a client can use for a model: operators come from the registrations the root
// forwarded to their Workers; everything that decides trust and price is read from each Worker
// contract's info() and reputation() getters.
//
// The choice (docs/ARCHITECTURE.md "Reputation"): a worker with a proven equivocation (slashes > 0)
// is skipped unless asked for (includeSlashed); the rest go cheapest first by a typical request
// (3 prompt tokens to 1 completion token, typicalPrice), then the larger settled volume (what
// escrows paid it, net of nothing: the protocol fee on it was paid too), then the longer registered,
// then the longer attested. Price decides; reputation breaks ties and removes the proven cheats.
import { Address, type Transaction } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import {
    CocoonRoot, Worker, workerRegistrations, latestByWorker, fetchRootTransactions, modelNames, asPrices, pricesWithin, typicalPrice,
    type WorkerInfo, type Chain, type WorkerRegistration, type TransactionSource, type PriceSet, type Reputation,
} from '../sdk';

/** Where the root's registrations come from (sandbox history, toncenter, an indexer). */
export type AttestedEventSource = () => Promise<WorkerRegistration[]>;

/** Events from the embedded sandbox's transaction history (it keeps every transaction). */
export function sandboxEventSource(blockchain: Blockchain, root: Address): AttestedEventSource {
    return async () => {
        // Read the history array itself: Blockchain.getTransactions reverses it in place (sandbox 0.41).
        const txs = ((blockchain as unknown as { transactions?: Transaction[] }).transactions ?? []).slice();
        return workerRegistrations(txs, root);
    };
}

/** Events from a TonClient-like source (the root's last `max` transactions). */
export function remoteEventSource(client: TransactionSource, root: Address, max = 1000): AttestedEventSource {
    return async () => workerRegistrations(await fetchRootTransactions(client, root, max), root);
}

/** What the chain proves of a worker's history (the Worker's reputation() getter). */
export type WorkerReputation = Omit<Reputation, '$$type'>;

export interface WorkerListing {
    worker: Address;
    operator: Address;
    /** The root's entry for the worker's measurement: one model name, or several separated by commas. */
    model: string;
    /** The models the worker's image may serve (the entry's names). */
    models: string[];
    /** nanoton per million tokens of each class */
    prices: PriceSet;
    expiresAt: number;
    endpoint: string;
    teeKey: bigint;
    tlsKeyHash: bigint;
    measurement: bigint;
    stake: bigint;
    feeBps: bigint;
    disputeWindow: number;
    /** null: the getter could not be read (an older Worker). */
    reputation: WorkerReputation | null;
}

export interface ListOptions {
    /** Only workers attested for this model name (one of the names the root maps the measurement to). */
    model?: string;
    /** Skip workers whose attestation ends sooner than this many seconds from now (default 60). */
    minValiditySec?: number;
    /** Skip workers above this price in any class (one number: every class). */
    maxPrice?: bigint | PriceSet;
    /** Also list workers with a proven equivocation (slashes > 0); default false. */
    includeSlashed?: boolean;
}

export type SkipReason = 'inactive' | 'expired' | 'wrong-root' | 'other-model' | 'measurement-revoked' | 'no-endpoint' | 'too-expensive' | 'not-deployed' | 'slashed';

/**
 * The client's order of usable workers: cheapest by a typical request first, then the larger settled
 * volume, then registered earlier, then attested longer.
 */
export function byPriceThenReputation(a: WorkerListing, b: WorkerListing): number {
    const ta = typicalPrice(a.prices), tb = typicalPrice(b.prices);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const va = a.reputation?.settledVolume ?? 0n, vb = b.reputation?.settledVolume ?? 0n;
    if (va !== vb) return va > vb ? -1 : 1;
    const ra = a.reputation?.registeredAt ?? 0n, rb = b.reputation?.registeredAt ?? 0n;
    if (ra !== rb && ra > 0n && rb > 0n) return ra < rb ? -1 : 1;
    return b.expiresAt - a.expiresAt;
}

export interface ListResult {
    workers: WorkerListing[];
    skipped: { worker: Address; operator: Address; reason: SkipReason }[];
}

/** Active workers, cheapest first (then the longest-attested), with why each other attested worker was skipped. */
export async function listWorkers(chain: Chain, root: Address, events: AttestedEventSource, opts: ListOptions = {}): Promise<ListResult> {
    const rootC = chain.open(CocoonRoot.fromAddress(root));
    const now = await chain.now();
    const minValidity = opts.minValiditySec ?? 60;
    const latest = latestByWorker(await events());
    const modelCache = new Map<bigint, string | null>();
    const modelOf = async (m: bigint) => {
        if (!modelCache.has(m)) modelCache.set(m, await rootC.getModelOf(m));
        return modelCache.get(m)!;
    };
    const result: ListResult = { workers: [], skipped: [] };
    const cap = opts.maxPrice === undefined ? undefined : asPrices(opts.maxPrice, 'maxPrice');
    for (const e of latest) {
        const skip = (reason: SkipReason) => result.skipped.push({ worker: e.worker, operator: e.operator, reason });
        let info: WorkerInfo;
        try {
            info = await chain.open(Worker.fromAddress(e.worker)).getInfo();
        } catch {
            skip('not-deployed');
            continue;
        }
        if (!info.root.equals(root) || !info.operator.equals(e.operator)) { skip('wrong-root'); continue; }
        if (Number(info.expiresAt) <= now + minValidity) { skip('expired'); continue; }
        if (!info.active) { skip('inactive'); continue; }
        const model = await modelOf(info.measurement);
        if (model === null) { skip('measurement-revoked'); continue; }
        if (opts.model !== undefined && !modelNames(model).includes(opts.model)) { skip('other-model'); continue; }
        if (!info.endpoint || !/^https:\/\/[^\s/]+/.test(info.endpoint)) { skip('no-endpoint'); continue; }
        if (cap !== undefined && !pricesWithin(info.prices, cap)) { skip('too-expensive'); continue; }
        const reputation = await reputationOf(chain, e.worker);
        if (!opts.includeSlashed && reputation !== null && reputation.slashes > 0n) { skip('slashed'); continue; }
        result.workers.push(listingOf(e.worker, info, model, reputation));
    }
    result.workers.sort(byPriceThenReputation);
    return result;
}

/** The Worker's reputation() getter, null when it cannot be read. */
export async function reputationOf(chain: Chain, worker: Address): Promise<WorkerReputation | null> {
    try {
        const r = await chain.open(Worker.fromAddress(worker)).getReputation();
        return { registeredAt: r.registeredAt, renewals: r.renewals, slashes: r.slashes, settledEscrows: r.settledEscrows, settledVolume: r.settledVolume };
    } catch {
        return null;
    }
}

export function listingOf(worker: Address, info: WorkerInfo, model: string, reputation: WorkerReputation | null = null): WorkerListing {
    return {
        worker, operator: info.operator, model, models: modelNames(model),
        prices: { prompt: info.prices.prompt, cached: info.prices.cached, completion: info.prices.completion }, expiresAt: Number(info.expiresAt),
        endpoint: info.endpoint ?? '', teeKey: info.teeKey, tlsKeyHash: info.tlsKeyHash, measurement: info.measurement,
        stake: info.stake, feeBps: info.feeBps, disputeWindow: Number(info.disputeWindow), reputation,
    };
}


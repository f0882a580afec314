// Listing the workers a client can use for a model: operators come from the registrations the root
// forwarded to their Workers; everything that decides trust and price is read from each Worker
// contract's info() getter.
import { Address, type Transaction } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import {
    CocoonRoot, Worker, workerRegistrations, latestByWorker, fetchRootTransactions,
    type WorkerInfo, type Chain, type WorkerRegistration, type TransactionSource,
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

export interface WorkerListing {
    worker: Address;
    operator: Address;
    model: string;
    /** nanoton per million tokens */
    price: bigint;
    expiresAt: number;
    endpoint: string;
    teeKey: bigint;
    tlsKeyHash: bigint;
    measurement: bigint;
    stake: bigint;
    feeBps: bigint;
    disputeWindow: number;
}

export interface ListOptions {
    /** Only workers attested for this model name (the root's measurement -> model map). */
    model?: string;
    /** Skip workers whose attestation ends sooner than this many seconds from now (default 60). */
    minValiditySec?: number;
    /** Skip workers above this price. */
    maxPrice?: bigint;
}

export type SkipReason = 'inactive' | 'expired' | 'wrong-root' | 'other-model' | 'measurement-revoked' | 'no-endpoint' | 'too-expensive' | 'not-deployed';

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
        if (opts.model !== undefined && model !== opts.model) { skip('other-model'); continue; }
        if (!info.endpoint || !/^https:\/\/[^\s/]+/.test(info.endpoint)) { skip('no-endpoint'); continue; }
        if (opts.maxPrice !== undefined && info.price > opts.maxPrice) { skip('too-expensive'); continue; }
        result.workers.push(listingOf(e.worker, info, model));
    }
    result.workers.sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : b.expiresAt - a.expiresAt));
    return result;
}

export function listingOf(worker: Address, info: WorkerInfo, model: string): WorkerListing {
    return {
        worker, operator: info.operator, model, price: info.price, expiresAt: Number(info.expiresAt),
        endpoint: info.endpoint ?? '', teeKey: info.teeKey, tlsKeyHash: info.tlsKeyHash, measurement: info.measurement,
        stake: info.stake, feeBps: info.feeBps, disputeWindow: Number(info.disputeWindow),
    };
}


// The client library's front door: list workers, manage escrows, open pinned sessions.
import { Address, type Sender } from '@ton/core';
import { CocoonRoot, Worker, escrowAddress, mintApiKey, latestByWorker, type Chain, type Ed25519Key } from '../sdk';
import { ClientError } from './errors';
import type { QuoteCheckOptions } from './quoteCheck';
import { EscrowClient } from './escrow';
import { ReceiptBook } from './receipts';
import { WorkerSession } from './session';
import { listWorkers, listingOf, reputationOf, type AttestedEventSource, type ListOptions, type ListResult, type WorkerListing } from './workers';

export interface CocoonClientOptions {
    chain: Chain;
    root: Address;
    /** The client's wallet: pays deposits and gas, owns the escrows. */
    wallet: Sender & { address: Address };
    /** Where the root's WorkerAttested events come from. */
    events: AttestedEventSource;
    /** Keep the latest receipt per escrow in this JSON file (the CLI does); in memory otherwise. */
    receiptsFile?: string;
    requestTimeoutMs?: number;
    /**
     * The client key (loadClientKey()): its public half is in the client's escrows; it signs the API
     * keys that sessions send (Authorization: Bearer …). Without it, sessions cannot chat.
     */
    clientKey?: Ed25519Key;
    /**
     * Trust no verifier: before the first prompt to each TEE key, fetch the node's TDX quote and check
     * it with the verifier's own code (src/client/quoteCheck.ts). A worker with a development
     * attestation (no quote) is then refused.
     */
    verifyQuote?: QuoteCheckOptions;
}

export interface ApiKeyOptions {
    /** Lifetime in seconds from now (chain time). */
    ttlSec: number;
    /** Most nanoton the key may spend in all (0n or absent: no limit beyond the escrow). */
    limit?: bigint;
}

export class CocoonClient {
    readonly escrows: EscrowClient;
    readonly receipts: ReceiptBook;
    private readonly sessions = new Set<WorkerSession>();

    constructor(private readonly o: CocoonClientOptions) {
        this.escrows = new EscrowClient(o.chain, o.wallet, o.root);
        this.receipts = new ReceiptBook(o.receiptsFile);
    }

    get address(): Address {
        return this.o.wallet.address;
    }

    listWorkers(opts: ListOptions = {}): Promise<ListResult> {
        return listWorkers(this.o.chain, this.o.root, this.o.events, opts);
    }

    /** The chain's current view of one worker, checked usable (active, attested, with an endpoint). */
    async listing(worker: Address): Promise<WorkerListing> {
        let info;
        try {
            info = await this.o.chain.open(Worker.fromAddress(worker)).getInfo();
        } catch {
            throw new ClientError('WORKER_UNAVAILABLE', `no Worker contract at ${worker.toString()}`, 'check the address (cocoon workers lists the usable ones).');
        }
        if (!info.root.equals(this.o.root)) throw new ClientError('WORKER_UNAVAILABLE', 'the worker belongs to another root (another network)', 'pass the right --root or pick a worker of this network.');
        if (!info.active) throw new ClientError('WORKER_UNAVAILABLE', 'the worker is not active (unbonding, slashed, or its attestation expired)', 'pick another worker (cocoon workers).');
        if (!info.endpoint) throw new ClientError('WORKER_UNAVAILABLE', 'the worker has published no endpoint', 'pick another worker or ask its operator to set one.');
        const model = (await this.o.chain.open(CocoonRoot.fromAddress(this.o.root)).getModelOf(info.measurement)) ?? '';
        if (!model) throw new ClientError('WORKER_UNAVAILABLE', "the worker's measurement is no longer whitelisted", 'pick another worker.');
        return listingOf(worker, info, model, await reputationOf(this.o.chain, worker));
    }

    /** A pinned session with a worker; requests go through this client's escrow with that worker. */
    async session(worker: Address | WorkerListing): Promise<WorkerSession> {
        const listing = worker instanceof Address ? await this.listing(worker) : worker;
        const escrow = await escrowAddress(listing.worker, this.o.wallet.address);
        const s = new WorkerSession(listing, this.o.chain, escrow, this.receipts, this.o.requestTimeoutMs, this.o.clientKey, this.o.verifyQuote);
        this.sessions.add(s);
        return s;
    }

    /**
     * An API key for this client's escrow with `worker` (what `cocoon api-key` prints): any OpenAI
     * client can use it as its apiKey, with the worker node's URL as baseURL.
     */
    async apiKey(worker: Address, o: ApiKeyOptions): Promise<{ token: string; escrow: Address; notAfter: number }> {
        if (!this.o.clientKey) throw new ClientError('CONFIG', 'this client has no client key to sign API keys with', 'pass clientKey to CocoonClient (loadClientKey()).');
        if (!Number.isInteger(o.ttlSec) || o.ttlSec <= 0) throw new ClientError('CONFIG', `ttl must be a positive number of seconds, got ${o.ttlSec}`, 'e.g. 3600 or 7d.');
        const escrow = await escrowAddress(worker, this.o.wallet.address);
        const notAfter = (await this.o.chain.now()) + o.ttlSec;
        return { token: mintApiKey({ escrow, notAfter, limit: o.limit ?? 0n }, this.o.clientKey), escrow, notAfter };
    }

    /**
     * Every escrow this client may have: those it holds receipts of, and its escrow with every worker
     * ever attested on this root (an escrow address derives from the worker and the client). Callers
     * read each one's state to see which exist.
     */
    async knownEscrows(extraWorkers: Address[] = []): Promise<Address[]> {
        const out = new Map<string, Address>();
        for (const r of this.receipts.all()) out.set(r.escrow.toRawString(), r.escrow);
        const workers = [...latestByWorker(await this.o.events()).map((e) => e.worker), ...extraWorkers];
        for (const w of workers) {
            const e = await escrowAddress(w, this.o.wallet.address);
            out.set(e.toRawString(), e);
        }
        return [...out.values()];
    }

    /** Closes every session's connections. */
    close(): void {
        for (const s of this.sessions) s.close();
        this.sessions.clear();
    }
}

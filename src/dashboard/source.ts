// Where the dashboard reads the chain: the embedded @ton/sandbox of the demo (every transaction is
// in memory), or testnet/mainnet through toncenter (the SDK's RemoteChain over a TonClient, with the
// root's recent transactions as the event log). Both are bounded: a request never scans more than
// MAX_TRANSACTIONS transactions.
import { Address, type Transaction } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import { TonClient } from '@ton/ton';
import { RemoteChain, SandboxChain, BASECHAIN_PRICES, fetchRootTransactions, type Chain, type PriceConfig } from '../sdk';
import { TONCENTER } from '../client/remote';

export type DashboardNetwork = 'sandbox' | 'testnet' | 'mainnet';

/** At most this many transactions are read per refresh (the sandbox keeps the newest ones). */
export const MAX_TRANSACTIONS = 20_000;
/** Remote: the root's newest transactions read for events and worker discovery. */
export const REMOTE_ROOT_TRANSACTIONS = 300;

export interface DashboardSource {
    readonly network: DashboardNetwork;
    readonly chain: Chain;
    readonly root: Address;
    readonly prices: PriceConfig;
    /**
     * Transactions to read events and registrations from, oldest first. The sandbox: every
     * transaction of the local chain; remote: the root's newest ones (escrow and Worker transactions
     * are not indexed there, so settled volume is known in the sandbox only).
     */
    transactions(): Promise<Transaction[]>;
    /** true when `transactions()` holds the escrows' and Workers' transactions too. */
    readonly fullHistory: boolean;
    balance(address: Address): Promise<bigint>;
    /** How long a read may be reused (ms): 0 in the sandbox, a few seconds against toncenter. */
    readonly cacheMs: number;
}

export class SandboxSource implements DashboardSource {
    readonly network = 'sandbox' as const;
    readonly chain: SandboxChain;
    readonly prices = BASECHAIN_PRICES;
    readonly fullHistory = true;
    readonly cacheMs = 0;
    constructor(readonly blockchain: Blockchain, readonly root: Address) {
        this.chain = new SandboxChain(blockchain);
    }
    async transactions(): Promise<Transaction[]> {
        // The history array itself: Blockchain.getTransactions reverses it in place (sandbox 0.41).
        const all = (this.blockchain as unknown as { transactions?: Transaction[] }).transactions ?? [];
        return all.slice(Math.max(0, all.length - MAX_TRANSACTIONS));
    }
    async balance(address: Address): Promise<bigint> {
        return (await this.blockchain.getContract(address)).balance;
    }
}

export interface RemoteSourceOptions {
    network: 'testnet' | 'mainnet';
    root: Address;
    /** toncenter JSON-RPC endpoint (default: the network's public one). */
    endpoint?: string;
    apiKey?: string;
    cacheMs?: number;
}

export class RemoteSource implements DashboardSource {
    readonly network: 'testnet' | 'mainnet';
    readonly chain: RemoteChain;
    readonly root: Address;
    readonly prices = BASECHAIN_PRICES;
    readonly fullHistory = false;
    readonly cacheMs: number;
    readonly client: TonClient;
    constructor(o: RemoteSourceOptions) {
        this.network = o.network;
        this.root = o.root;
        this.cacheMs = o.cacheMs ?? 10_000;
        this.client = new TonClient({ endpoint: o.endpoint ?? TONCENTER[o.network], apiKey: o.apiKey });
        this.chain = new RemoteChain(o.network, this.client);
    }
    async transactions(): Promise<Transaction[]> {
        const newestFirst = await fetchRootTransactions(this.client, this.root, REMOTE_ROOT_TRANSACTIONS, 100);
        return newestFirst.reverse();
    }
    async balance(address: Address): Promise<bigint> {
        return this.client.getBalance(address);
    }
}

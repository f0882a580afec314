// Gas and fee accounting on the embedded sandbox, from its transaction history: per labelled
// operation (every transaction that appeared while it ran) and for the value-conservation check.
import { Address, type Transaction } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import { summarize, carriedForwardFees } from '../client/txs';

export interface OpCost {
    label: string;
    count: number;
    transactions: number;
    gas: bigint;
    fees: bigint;
    failed: number;
}

export class SandboxAccounting {
    private readonly seen = new Set<Transaction>();
    /** Transactions before `begin()` (the sandbox deploys its treasuries with a transaction each). */
    private readonly baseline = new Set<Transaction>();
    readonly ops = new Map<string, OpCost>();
    private readonly initial = new Map<string, bigint>();

    constructor(private readonly blockchain: Blockchain) {}

    /** Starts the accounting: opening balances are read now and earlier transactions are ignored. */
    async begin(wallets: Address[]): Promise<void> {
        for (const tx of this.history()) {
            this.seen.add(tx);
            this.baseline.add(tx);
        }
        for (const a of wallets) this.initial.set(a.toRawString(), (await this.blockchain.getContract(a)).balance);
    }

    /** The sandbox's full history (read directly: getTransactions reverses it in place). */
    history(): Transaction[] {
        return ((this.blockchain as unknown as { transactions?: Transaction[] }).transactions ?? []).slice();
    }

    initialBalance(address: Address): bigint {
        return this.initial.get(address.toRawString()) ?? 0n;
    }

    /** Runs `fn`; every transaction that appears meanwhile is charged to `label`. */
    async measure<T>(label: string, fn: () => Promise<T>): Promise<T> {
        try {
            return await fn();
        } finally {
            this.collect(label);
        }
    }

    /** Charges every transaction not yet seen to `label`. */
    collect(label: string): void {
        const fresh = this.history().filter((tx) => !this.seen.has(tx));
        fresh.forEach((tx) => this.seen.add(tx));
        if (fresh.length === 0) return;
        const s = summarize(fresh);
        const o = this.ops.get(label) ?? { label, count: 0, transactions: 0, gas: 0n, fees: 0n, failed: 0 };
        o.count++;
        o.transactions += s.count;
        o.gas += s.gas;
        o.fees += s.fees;
        if (s.failure) o.failed++;
        this.ops.set(label, o);
    }

    /**
     * Value conservation over everything that happened: what the wallets held at the start equals
     * what every account (wallets and contracts, including destroyed ones) holds now plus every fee
     * charged (transaction fees and the forward fees of internal messages).
     */
    async conservation(): Promise<{ before: bigint; after: bigint; fees: bigint; accounts: number; diff: bigint }> {
        const txs = this.history().filter((tx) => !this.baseline.has(tx));
        const accounts = new Set<string>(this.initial.keys());
        let fees = 0n;
        for (const tx of txs) {
            accounts.add(new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex')).toRawString());
            fees += tx.totalFees.coins + carriedForwardFees(tx);
        }
        let after = 0n;
        for (const a of accounts) after += (await this.blockchain.getContract(Address.parseRaw(a))).balance;
        const before = [...this.initial.values()].reduce((s, v) => s + v, 0n);
        return { before, after, fees, accounts: accounts.size, diff: before - after - fees };
    }
}

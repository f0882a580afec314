// One interface to a chain, so the same code runs on the embedded @ton/sandbox and on
// testnet/mainnet (a Blueprint NetworkProvider, or a TonClient with a wallet).
import type { Contract, OpenedContract, Sender } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';

export type NetworkName = 'sandbox' | 'testnet' | 'mainnet' | 'custom';

export interface Chain {
    readonly network: NetworkName;
    /** Open a contract for sends and getters. */
    open<T extends Contract>(contract: T): OpenedContract<T>;
    /** Current chain time (unix seconds). */
    now(): Promise<number>;
    /**
     * Wait until `done()` holds (e.g. a getter shows the new state). On the sandbox every send has
     * already been processed when it returns, so this checks once and fails at once if it does not hold.
     */
    waitUntil(done: () => Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
}

export class SandboxChain implements Chain {
    readonly network = 'sandbox' as const;
    constructor(readonly blockchain: Blockchain) {}
    open<T extends Contract>(contract: T): OpenedContract<T> {
        return this.blockchain.openContract(contract) as unknown as OpenedContract<T>;
    }
    async now(): Promise<number> {
        return this.blockchain.now ?? Math.floor(Date.now() / 1000);
    }
    async waitUntil(done: () => Promise<boolean>, what: string): Promise<void> {
        if (!(await done())) throw new Error(`${what}: not done after the transactions settled`);
    }
}

/** Anything with Blueprint's NetworkProvider or TonClient `open` shape. */
export interface Opener {
    open<T extends Contract>(contract: T): OpenedContract<T>;
}

export class RemoteChain implements Chain {
    constructor(readonly network: NetworkName, private readonly opener: Opener, private readonly pollMs = 2000) {}
    open<T extends Contract>(contract: T): OpenedContract<T> {
        return this.opener.open(contract);
    }
    async now(): Promise<number> {
        return Math.floor(Date.now() / 1000);
    }
    async waitUntil(done: () => Promise<boolean>, what: string, timeoutMs = 90_000): Promise<void> {
        const until = Date.now() + timeoutMs;
        for (;;) {
            try {
                if (await done()) return;
            } catch {
                // a getter on a contract that is not deployed yet throws: keep waiting
            }
            if (Date.now() > until) throw new Error(`${what}: not seen on-chain within ${Math.round(timeoutMs / 1000)} s`);
            await new Promise((r) => setTimeout(r, this.pollMs));
        }
    }
}

export type { Sender };

// The client's side of a ClientEscrow: open, top up, close, withdraw and read it. The sends go
// through the SDK's typed operations (src/sdk/ops.ts); this module adds the client's view (one
// escrow per worker, derived from the client's address) and errors that say what to do next.
import { Address, type Sender } from '@ton/core';
import { CocoonOps, CocoonError, escrowAddress, ESCROW_CLOSING, type EscrowState, type Chain, type OpsOptions, type PriceSet } from '../sdk';
import { ClientError } from './errors';

export function stateName(s: bigint): string {
    return ['none', 'opening', 'open', 'closing'][Number(s)] ?? `state ${s}`;
}

export interface EscrowView {
    address: Address;
    /** null: not deployed (never opened, refused, or withdrawn). */
    state: EscrowState | null;
}

const HINTS: Record<string, string> = {
    open: 'list workers again (cocoon workers) and pick an active one within your caps (--max-price, --max-prompt/--max-cached/--max-completion); an open escrow is topped up, not reopened.',
    topUp: 'open an escrow first (cocoon open-escrow); a closing escrow cannot be topped up.',
    close: 'only an open escrow can be closed; check it with cocoon escrow.',
    withdraw: 'close the escrow first (cocoon close), then withdraw once its dispute window is over.',
};

export class EscrowClient {
    readonly ops: CocoonOps;

    constructor(private readonly chain: Chain, sender: Sender & { address: Address }, root: Address | null = null, opts: OpsOptions = {}) {
        this.ops = new CocoonOps(chain, sender, root, opts);
    }

    get clientAddress(): Address {
        return this.ops.me;
    }

    addressFor(worker: Address): Promise<Address> {
        return escrowAddress(worker, this.ops.me);
    }

    async view(worker: Address): Promise<EscrowView> {
        const address = await this.addressFor(worker);
        return { address, state: await this.ops.escrowState(address) };
    }

    /**
     * Opens (deploys) the escrow; the worker confirms on-chain that it is active and within the caps
     * (`maxPrice`: one cap for every token class, or one per class). `clientKey` (public, uint256) is
     * the key whose signed API keys the worker node will accept.
     */
    async open(worker: Address, deposit: bigint, maxPrice: bigint | PriceSet, clientKey: bigint): Promise<EscrowState> {
        const address = await this.addressFor(worker);
        await this.wrap('open', () => this.ops.openEscrow(worker, deposit, maxPrice, clientKey));
        return (await this.ops.escrowState(address))!;
    }

    async topUp(worker: Address, amount: bigint): Promise<EscrowState> {
        const address = await this.addressFor(worker);
        await this.wrap('topUp', () => this.ops.topUpEscrow(address, amount));
        return (await this.ops.escrowState(address))!;
    }

    /** Starts the dispute window; the worker can still claim until closeAt. */
    async close(worker: Address): Promise<EscrowState> {
        const address = await this.addressFor(worker);
        await this.wrap('close', () => this.ops.closeEscrow(address));
        return (await this.ops.escrowState(address))!;
    }

    /** After the dispute window: what is left of the deposit comes back; the escrow is destroyed. */
    async withdraw(worker: Address): Promise<bigint> {
        const address = await this.addressFor(worker);
        const st = await this.ops.escrowState(address);
        if (st && st.state === ESCROW_CLOSING) {
            const now = await this.chain.now();
            if (now < Number(st.closeAt)) {
                throw new ClientError('ESCROW', `the dispute window is open until ${new Date(Number(st.closeAt) * 1000).toISOString()} (${Number(st.closeAt) - now} s from now)`,
                    'wait until then and run withdraw again.');
            }
        }
        return (await this.wrap('withdraw', () => this.ops.withdrawEscrow(address))).amount;
    }

    private async wrap<T>(op: keyof typeof HINTS, fn: () => Promise<T>): Promise<T> {
        try {
            return await fn();
        } catch (e) {
            if (e instanceof ClientError) throw e;
            const err = e as Error;
            if (e instanceof CocoonError) {
                throw new ClientError('CHAIN', `${op} failed on-chain: ${err.message}`, HINTS[op], { exitCode: e.exitCode });
            }
            throw new ClientError('ESCROW', err.message, HINTS[op]);
        }
    }
}

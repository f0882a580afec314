// Builds the TonConnect transaction for each dashboard action, on the server, with the SDK: the
// message body through the wrappers' store* functions, the value through the SDK's fee table
// (attachFor: the contract's entry check plus a margin that comes back as change), the escrow's
// StateInit (OpenEscrow only) through escrowForOpening. Before building it checks on-chain what the
// SDK's CocoonOps checks before sending, so a request that would bounce is refused here with a reason.
//
// Why on the server: the message layouts live in one place (the generated wrappers, src/sdk), the
// browser needs no copy of @ton/core and its Buffer polyfills, and the server is the same origin
// that serves the page's code, so it is trusted exactly as much as a bundle built from the same
// sources would be. The wallet still shows the user the destination and the amount before signing.
import { Address, beginCell, storeStateInit, type Builder, type Cell } from '@ton/core';
import {
    CocoonRoot, Worker, ClientEscrow, escrowForOpening, escrowAddress, workerAddress, attachFor, formatAddress, formatTon,
    storeOpenEscrow, storeTopUpEscrow, storeCloseEscrow, storeWithdrawEscrow, storeClaimRewards, storeWithdrawStake, storeUnbond,
    ESCROW_NONE, ESCROW_OPEN, ESCROW_OPENING, ESCROW_CLOSING, STATUS_ACTIVE, asPrices, TOKEN_CLASSES, type EscrowState, type WorkerInfo,
} from '../sdk';
import type { DashboardSource } from './source';

/** TonConnect's `network`: CHAIN.MAINNET '-239', CHAIN.TESTNET '-3'; the sandbox is the development wallet's own. */
export const CHAIN_ID = { mainnet: '-239', testnet: '-3', sandbox: 'sandbox' } as const;
/** How long the wallet may take to send it (seconds). */
export const VALID_FOR_SEC = 300;

/** One message of a TonConnect SendTransactionRequest (ton-connect spec, requests-responses.md). */
export interface TonConnectMessage {
    /** user-friendly, bounceable for our contracts */
    address: string;
    /** nanoton, decimal string */
    amount: string;
    /** one-cell BoC, base64 */
    payload?: string;
    /** BoC of the StateInit, base64 (OpenEscrow only: it deploys the escrow) */
    stateInit?: string;
}

export interface SendTransactionRequest {
    /** unix seconds */
    validUntil: number;
    network: string;
    /** raw address of the wallet that must send it */
    from: string;
    messages: TonConnectMessage[];
}

export type ActionInput =
    /** `maxPrice`: the cap for every token class (default: the worker's prices, class by class). */
    | { op: 'openEscrow'; from: Address; worker: Address; deposit: bigint; maxPrice?: bigint; clientKey: bigint }
    | { op: 'topUpEscrow'; from: Address; worker: Address; amount: bigint }
    | { op: 'closeEscrow'; from: Address; worker: Address }
    | { op: 'withdrawEscrow'; from: Address; worker: Address }
    | { op: 'claimRewards'; from: Address }
    | { op: 'unbond'; from: Address }
    | { op: 'withdrawStake'; from: Address };

export interface BuiltAction {
    request: SendTransactionRequest;
    /** For the page: what this sends, where, and how the amount splits. */
    summary: { op: ActionInput['op']; to: string; amount: string; principal: string; fees: string; text: string };
    /** The contract whose state shows the effect (the escrow or the Worker). */
    watch: { address: string; kind: 'escrow' | 'worker' };
}

/** A refusal the caller can fix (400/409 on the API). */
export class ActionRefused extends Error {
    constructor(message: string, readonly status = 409) {
        super(message);
        this.name = 'ActionRefused';
    }
}

const cell = (store: (b: Builder) => void): Cell => beginCell().store(store).endCell();
const b64 = (c: Cell) => c.toBoc().toString('base64');
const queryId = () => BigInt(Date.now());
const when = (t: bigint | number) => new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');

export async function buildAction(source: DashboardSource, a: ActionInput, wallClockSec = Math.floor(Date.now() / 1000)): Promise<BuiltAction> {
    const { chain, network, prices } = source;
    const now = BigInt(await chain.now());
    const to = (addr: Address) => formatAddress(addr, network, true);
    const readWorker = async (w: Address): Promise<WorkerInfo | null> => {
        try {
            return await chain.open(Worker.fromAddress(w)).getInfo();
        } catch {
            return null;
        }
    };
    const readEscrow = async (e: Address): Promise<EscrowState | null> => {
        try {
            return await chain.open(ClientEscrow.fromAddress(e)).getState();
        } catch {
            return null;
        }
    };
    const done = (target: Address, principal: bigint, fees: bigint, body: Cell, text: string, watch: BuiltAction['watch']['kind'], stateInit?: Cell): BuiltAction => {
        const amount = principal + fees;
        const msg: TonConnectMessage = { address: to(target), amount: amount.toString(), payload: b64(body) };
        if (stateInit) msg.stateInit = b64(stateInit);
        return {
            request: { validUntil: wallClockSec + VALID_FOR_SEC, network: CHAIN_ID[network as keyof typeof CHAIN_ID] ?? network, from: a.from.toRawString(), messages: [msg] },
            summary: { op: a.op, to: msg.address, amount: msg.amount, principal: principal.toString(), fees: fees.toString(), text },
            watch: { address: to(target), kind: watch },
        };
    };
    const clientEscrow = async (worker: Address, what: string) => {
        const address = await escrowAddress(worker, a.from);
        const st = await readEscrow(address);
        if (!st || st.state === ESCROW_NONE) throw new ActionRefused(`${what}: you have no escrow with this worker (${to(address)})`);
        return { address, st };
    };
    const operatorWorker = async (what: string) => {
        const address = await workerAddress(source.root, a.from);
        const info = await readWorker(address);
        if (!info || !info.root.equals(source.root)) throw new ActionRefused(`${what}: this wallet operates no Worker under this root (expected ${to(address)})`);
        return { address, info };
    };

    switch (a.op) {
        case 'openEscrow': {
            if (a.deposit <= 0n) throw new ActionRefused('openEscrow: the deposit must be positive', 400);
            if (a.clientKey <= 0n || a.clientKey >= 1n << 256n) throw new ActionRefused('openEscrow: clientKey must be an ed25519 public key (64 hex digits, not 0)', 400);
            const info = await readWorker(a.worker);
            if (!info || !info.root.equals(source.root)) throw new ActionRefused(`openEscrow: no Worker of this network at ${to(a.worker)}`);
            if (!info.active) throw new ActionRefused('openEscrow: the worker is not active (no attested key, lease expired, or stake below the minimum)');
            const caps = asPrices(a.maxPrice ?? info.prices, 'maxPrice');
            if (caps.prompt + caps.cached + caps.completion <= 0n) throw new ActionRefused('openEscrow: maxPrice must be positive', 400);
            for (const c of TOKEN_CLASSES) {
                if (info.prices[c] > caps[c]) throw new ActionRefused(`openEscrow: the worker's ${c} price ${formatTon(info.prices[c])} / 1M tokens is above your cap ${formatTon(caps[c])}`);
            }
            const e = await escrowForOpening(a.worker, a.from);
            const st = await readEscrow(e.address);
            if (st && st.state !== ESCROW_NONE) throw new ActionRefused(`openEscrow: your escrow with this worker is already ${st.state === ESCROW_CLOSING ? 'closing' : 'open'} at ${to(e.address)}; top it up instead`);
            const body = cell(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: queryId(), deposit: a.deposit, caps, clientKey: a.clientKey, root: source.root }));
            const init = cell(storeStateInit({ code: e.init!.code, data: e.init!.data }));
            return done(e.address, a.deposit, attachFor('openEscrow', prices), body,
                `open an escrow with ${formatTon(a.deposit)} deposit, price caps ${formatTon(caps.prompt)} prompt / ${formatTon(caps.cached)} cached / ${formatTon(caps.completion)} completion per 1M tokens`, 'escrow', init);
        }
        case 'topUpEscrow': {
            if (a.amount <= 0n) throw new ActionRefused('topUpEscrow: the amount must be positive', 400);
            const { address, st } = await clientEscrow(a.worker, 'topUpEscrow');
            if (st.state !== ESCROW_OPEN) throw new ActionRefused('topUpEscrow: the escrow is not open (a closing escrow cannot be topped up)');
            return done(address, a.amount, attachFor('topUpEscrow', prices), cell(storeTopUpEscrow({ $$type: 'TopUpEscrow', queryId: queryId(), amount: a.amount })),
                `add ${formatTon(a.amount)} to your escrow`, 'escrow');
        }
        case 'closeEscrow': {
            const { address, st } = await clientEscrow(a.worker, 'closeEscrow');
            if (st.state !== ESCROW_OPEN) throw new ActionRefused('closeEscrow: only an open escrow can be closed');
            return done(address, 0n, attachFor('closeEscrow', prices), cell(storeCloseEscrow({ $$type: 'CloseEscrow', queryId: queryId() })),
                `close your escrow: the worker may still claim for ${st.disputeWindow} s (the dispute window)`, 'escrow');
        }
        case 'withdrawEscrow': {
            const { address, st } = await clientEscrow(a.worker, 'withdrawEscrow');
            if (st.state === ESCROW_OPENING) {
                if (now < st.closeAt) throw new ActionRefused(`withdrawEscrow: the escrow is still waiting for its worker's answer; if none comes, withdraw after ${when(st.closeAt)}`);
            } else if (st.state !== ESCROW_CLOSING) {
                throw new ActionRefused('withdrawEscrow: close the escrow first, then wait for the dispute window');
            } else if (now < st.closeAt) {
                throw new ActionRefused(`withdrawEscrow: the dispute window ends at ${when(st.closeAt)} (${st.closeAt - now} s from now)`);
            }
            return done(address, 0n, attachFor('withdrawEscrow', prices), cell(storeWithdrawEscrow({ $$type: 'WithdrawEscrow', queryId: queryId() })),
                `withdraw ${formatTon(st.deposit)} left in your escrow`, 'escrow');
        }
        case 'claimRewards': {
            const { address } = await operatorWorker('claimRewards');
            const acc = (await chain.open(CocoonRoot.fromAddress(source.root)).getRewardState()).acc;
            const pending = await chain.open(Worker.fromAddress(address)).getPendingRewards(acc);
            if (pending === 0n) throw new ActionRefused('claimRewards: no rewards to claim yet');
            return done(address, 0n, attachFor('claimRewards', prices), cell(storeClaimRewards({ $$type: 'ClaimRewards', queryId: queryId() })),
                `claim ${formatTon(pending)} of staking rewards`, 'worker');
        }
        case 'unbond': {
            const { address, info } = await operatorWorker('unbond');
            if (info.status !== STATUS_ACTIVE || info.stake === 0n) throw new ActionRefused('unbond: the worker has no active stake');
            return done(address, 0n, attachFor('unbond', prices), cell(storeUnbond({ $$type: 'Unbond', queryId: queryId() })),
                `start unbonding ${formatTon(info.stake)} of stake (the worker stops serving)`, 'worker');
        }
        case 'withdrawStake': {
            const { address, info } = await operatorWorker('withdrawStake');
            if (info.unbonding === 0n) throw new ActionRefused('withdrawStake: nothing is unbonding (unbond first)');
            if (now < info.withdrawableAt) throw new ActionRefused(`withdrawStake: the stake is withdrawable from ${when(info.withdrawableAt)}`);
            return done(address, 0n, attachFor('withdrawStake', prices), cell(storeWithdrawStake({ $$type: 'WithdrawStake', queryId: queryId() })),
                `withdraw ${formatTon(info.unbonding)} of unbonded stake`, 'worker');
        }
    }
}

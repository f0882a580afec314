// How much TON to attach to each operation, derived exactly the way the contracts check it.
//
// The entry point of every flow checks `context().value >= amount + <formula>`, where the formula is
// built from utils.tact's chainFee(gas, hops) = getComputeFee(gas) + hops x getForwardFee(FWD_CELLS,
// FWD_BITS), plus a storage reserve and, for RegisterWorker, the forward fee of the Worker's deploy
// message. FORMULAS below writes each of them down term by term, as in the contract source;
// `required` is that sum computed off-chain from the contracts' constants and the basechain price
// config (params 21 and 25), so it equals the contract's minimum to the nanoton. `attach` adds a
// margin: +50% of the fee part (never less than 0.02 TON), rounded up to 0.01 TON. Every contract
// returns what is left of the value (Excesses, cashback or the payout message itself), so the margin
// comes back; only gas and forward fees are spent.
import type { Cell } from '@ton/core';
import {
    GAS_ROOT_ATTEST, GAS_VERIFIER_SIG, GAS_WORKER_RESULT, GAS_WORKER_OP, GAS_WORKER_SLASH, GAS_ROOT_SYNC, GAS_ROOT_PAY,
    GAS_ROOT_DEACTIVATE, GAS_ESCROW_OPEN, GAS_WORKER_QUERY, GAS_ESCROW_INFO, GAS_ESCROW_CLAIM, GAS_ROOT_FEE,
    GAS_SIMPLE, FWD_CELLS, FWD_BITS, WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS,
    WORKER_STORAGE_RESERVE, ESCROW_STORAGE_RESERVE,
} from './contracts';

/** Basechain gas and forward prices (config params 21 and 25), in the units the config stores. */
export interface PriceConfig {
    flatGasLimit: bigint;
    flatGasPrice: bigint;
    /** nanoton per gas unit x 2^16 */
    gasPrice: bigint;
    lumpPrice: bigint;
    /** nanoton per bit x 2^16 */
    bitPrice: bigint;
    /** nanoton per cell x 2^16 */
    cellPrice: bigint;
}

/** Mainnet and testnet basechain prices as of 2024-2026 (also the @ton/sandbox default config). */
export const BASECHAIN_PRICES: PriceConfig = {
    flatGasLimit: 100n,
    flatGasPrice: 40_000n,
    gasPrice: 26_214_400n,
    lumpPrice: 400_000n,
    bitPrice: 26_214_400n,
    cellPrice: 2_621_440_000n,
};

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;

/** TVM's GETGASFEE: what `getComputeFee(gas, false)` returns on-chain. */
export function computeFee(gas: bigint, p: PriceConfig = BASECHAIN_PRICES): bigint {
    if (gas <= p.flatGasLimit) return p.flatGasPrice;
    return p.flatGasPrice + ceilDiv((gas - p.flatGasLimit) * p.gasPrice, 1n << 16n);
}

/** TVM's GETFORWARDFEE: what `getForwardFee(cells, bits, false)` returns on-chain. */
export function forwardFee(cells: bigint, bits: bigint, p: PriceConfig = BASECHAIN_PRICES): bigint {
    return p.lumpPrice + ceilDiv(p.bitPrice * bits + p.cellPrice * cells, 1n << 16n);
}

/** utils.tact chainFee: the compute fee of `gas` in all plus `hops` forward-fee upper bounds. */
export function chainFee(gas: bigint, hops: number, p: PriceConfig = BASECHAIN_PRICES): bigint {
    return computeFee(gas, p) + BigInt(hops) * forwardFee(FWD_CELLS, FWD_BITS, p);
}

/** Forward fee of the message that deploys a Worker (root.tact RegisterWorker's last term). */
export function workerDeployFee(p: PriceConfig = BASECHAIN_PRICES): bigint {
    return forwardFee(WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS, p);
}

export type OperationName =
    | 'deployRoot' | 'governance' | 'deactivateWorker' | 'withdrawTreasury' | 'fundRewards'
    | 'registerWorker' | 'topUpStake' | 'setPrice' | 'setEndpoint' | 'unbond' | 'withdrawStake'
    | 'claimRewards' | 'openEscrow' | 'topUpEscrow' | 'closeEscrow' | 'withdrawEscrow' | 'claim'
    | 'refreshWorker' | 'slash' | 'setClientKey' | 'dropInactive';

/** One `chainFee(Σ gas, hops)` term of an entry check. */
export interface ChainTerm {
    /** Gas budgets summed into the chainFee (GAS_* constants of constants.tact). */
    gas: bigint[];
    /** Forward-fee upper bounds counted by the chainFee. */
    hops: number;
}

/** One operation's fee formula, term by term as its entry point writes it. */
export interface FeeFormula {
    /** The chainFee terms of the check (most have one; RefreshWorker adds its own handler's separately). */
    chains: ChainTerm[];
    /** Storage reserve the check adds (WORKER_/ESCROW_STORAGE_RESERVE), 0 if none. */
    reserve: bigint;
    /** The check adds the forward fee of the Worker's deploy message (RegisterWorker only). */
    workerDeploy: boolean;
    /** false: the entry point checks no value (the estimate is only a recommendation). */
    checked: boolean;
    /** Where the formula is, for the docs. */
    basis: string;
}

const formula = (gas: bigint[], hops: number, basis: string, more: Partial<FeeFormula> = {}): FeeFormula => ({
    chains: [{ gas, hops }], reserve: 0n, workerDeploy: false, checked: true, basis, ...more,
});

/** The contracts' entry checks (amounts such as stake or deposit come on top). */
export const FORMULAS: Record<Exclude<OperationName, 'deployRoot'>, FeeFormula> = {
    governance: formula([GAS_SIMPLE], 1, 'owner messages (SetParams, Remove*, SetVerifierQuorum, SetPaused, ProposeOwner, AcceptOwnership, Cancel) and Execute: one handler, the change back; Propose adds its event\'s forward fee (proposeFee)', { checked: false }),
    deactivateWorker: formula([GAS_ROOT_DEACTIVATE, GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP], 4,
        'root.DeactivateWorker: chainFee(GAS_ROOT_DEACTIVATE + GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 4)'),
    withdrawTreasury: formula([GAS_SIMPLE], 1, 'one handler; the payout carries the rest back', { checked: false }),
    fundRewards: formula([GAS_SIMPLE], 1, 'root.FundRewards: amount + chainFee(GAS_SIMPLE, 1)'),
    registerWorker: formula([GAS_ROOT_ATTEST, GAS_WORKER_RESULT], 2,
        'root.RegisterWorker: stake + WORKER_STORAGE_RESERVE + chainFee(GAS_ROOT_ATTEST + GAS_WORKER_RESULT, 2) + getForwardFee(WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS)',
        { reserve: WORKER_STORAGE_RESERVE, workerDeploy: true }),
    topUpStake: formula([GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP], 5,
        'worker.TopUpStake: amount + chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 5)'),
    setPrice: formula([GAS_SIMPLE], 1, 'one handler, cashback', { checked: false }),
    setEndpoint: formula([GAS_SIMPLE], 1, 'one handler, cashback', { checked: false }),
    unbond: formula([GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP], 3, 'worker.Unbond: chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 3)'),
    dropInactive: formula([GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP], 3, 'worker.DropInactive: chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 3); the change comes back to the sender'),
    withdrawStake: formula([GAS_WORKER_OP], 1, 'one handler; the payout carries the rest back', { checked: false }),
    claimRewards: formula([GAS_WORKER_OP, GAS_ROOT_SYNC, GAS_WORKER_OP, GAS_ROOT_PAY], 4,
        'worker.ClaimRewards: chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP + GAS_ROOT_PAY, 4)'),
    openEscrow: formula([GAS_ESCROW_OPEN, GAS_WORKER_QUERY, GAS_ESCROW_INFO], 3,
        'escrow.OpenEscrow: deposit + ESCROW_STORAGE_RESERVE + chainFee(GAS_ESCROW_OPEN + GAS_WORKER_QUERY + GAS_ESCROW_INFO, 3)',
        { reserve: ESCROW_STORAGE_RESERVE }),
    topUpEscrow: formula([GAS_SIMPLE], 1, 'escrow.TopUpEscrow: amount + chainFee(GAS_SIMPLE, 1)'),
    closeEscrow: formula([GAS_SIMPLE], 1, 'one handler, cashback', { checked: false }),
    setClientKey: formula([GAS_SIMPLE], 1, 'one handler, cashback', { checked: false }),
    withdrawEscrow: formula([GAS_SIMPLE, GAS_ROOT_FEE], 2, 'one handler + the fee flush to the root', { checked: false }),
    claim: formula([GAS_ESCROW_CLAIM, GAS_ROOT_FEE], 2, 'escrow.Claim: chainFee(GAS_ESCROW_CLAIM + GAS_ROOT_FEE, 2)'),
    refreshWorker: formula([GAS_WORKER_QUERY, GAS_ESCROW_INFO], 2,
        'escrow.RefreshWorker: chainFee(GAS_WORKER_QUERY + GAS_ESCROW_INFO, 2) (the query\'s budget) + chainFee(GAS_SIMPLE, 1)',
        { chains: [{ gas: [GAS_WORKER_QUERY, GAS_ESCROW_INFO], hops: 2 }, { gas: [GAS_SIMPLE], hops: 1 }] }),
    slash: formula([GAS_WORKER_SLASH, GAS_ROOT_SYNC, GAS_WORKER_OP], 2,
        'worker.SlashProof: chainFee(GAS_WORKER_SLASH + GAS_ROOT_SYNC + GAS_WORKER_OP, 2)'),
};

/** The formula's value under prices `p` (what the contract computes, checked or not). */
export function formulaValue(f: FeeFormula, p: PriceConfig = BASECHAIN_PRICES): bigint {
    const fees = f.chains.reduce((sum, c) => sum + chainFee(c.gas.reduce((s, g) => s + g, 0n), c.hops, p), 0n);
    return fees + f.reserve + (f.workerDeploy ? workerDeployFee(p) : 0n);
}

export interface FeeEstimate {
    op: OperationName;
    /** What the contract's entry check demands on top of any amount (0 where it checks nothing). */
    required: bigint;
    /** What the SDK attaches on top of the amount: the formula + margin (rounded up to 0.01 TON). */
    attach: bigint;
    /** Where the estimate comes from, for the docs. */
    basis: string;
}

const MIN_MARGIN = 20_000_000n; // 0.02 TON
const ROUND = 10_000_000n;      // 0.01 TON
/** Attached to a first deploy of the root: its storage buffer (the root keeps all of it). */
export const ROOT_DEPLOY_VALUE = 200_000_000n; // 0.2 TON

function withMargin(value: bigint, feePart: bigint): bigint {
    let margin = feePart / 2n;
    if (margin < MIN_MARGIN) margin = MIN_MARGIN;
    return ceilDiv(value + margin, ROUND) * ROUND;
}

/** Fee estimates for every operation under the given prices. */
export function feeTable(p: PriceConfig = BASECHAIN_PRICES): Record<OperationName, FeeEstimate> {
    const out = {
        deployRoot: { op: 'deployRoot', required: 0n, attach: ROOT_DEPLOY_VALUE, basis: 'kept by the root as its storage buffer (>= ROOT_STORAGE_RESERVE 0.05 TON)' },
    } as Record<OperationName, FeeEstimate>;
    for (const [op, f] of Object.entries(FORMULAS) as [Exclude<OperationName, 'deployRoot'>, FeeFormula][]) {
        const value = formulaValue(f, p);
        out[op] = { op, required: f.checked ? value : 0n, attach: withMargin(value, value - f.reserve), basis: f.basis };
    }
    return out;
}

/** The contract's exact minimum for `op` on top of the amount (0 where the entry checks nothing). */
export function requiredFor(op: OperationName, p: PriceConfig = BASECHAIN_PRICES): bigint {
    return feeTable(p)[op].required;
}

/** What to attach on top of the amount for `op`. */
export function attachFor(op: OperationName, p: PriceConfig = BASECHAIN_PRICES): bigint {
    return feeTable(p)[op].attach;
}

/**
 * What to attach on top of the stake to RegisterWorker with `signatures` verifier signatures: the
 * single-signature formula plus the root's gas for each further signature (GAS_VERIFIER_SIG), with the margin.
 */
export function registerWorkerFee(signatures: number, p: PriceConfig = BASECHAIN_PRICES): bigint {
    if (!Number.isInteger(signatures) || signatures < 1) throw new Error('an attestation carries at least one verifier signature');
    const f = FORMULAS.registerWorker;
    const gas = [...f.chains[0].gas, BigInt(signatures - 1) * GAS_VERIFIER_SIG];
    const value = formulaValue({ ...f, chains: [{ gas, hops: f.chains[0].hops }] }, p);
    return withMargin(value, value - f.reserve);
}

/** The contract's exact minimum for RegisterWorker with `signatures` signatures, on top of the stake. */
export function registerWorkerRequired(signatures: number, p: PriceConfig = BASECHAIN_PRICES): bigint {
    const f = FORMULAS.registerWorker;
    return formulaValue({ ...f, chains: [{ gas: [...f.chains[0].gas, BigInt(signatures - 1) * GAS_VERIFIER_SIG], hops: f.chains[0].hops }] }, p);
}

/** Distinct cells and bits of a cell tree (what a forward fee counts). */
export function cellSize(root: Cell): { cells: bigint; bits: bigint } {
    const seen = new Set<string>();
    let bits = 0n;
    const walk = (c: Cell) => {
        const h = c.hash().toString('hex');
        if (seen.has(h)) return;
        seen.add(h);
        bits += BigInt(c.bits.length);
        c.refs.forEach(walk);
    };
    walk(root);
    return { cells: BigInt(seen.size), bits };
}

/**
 * What to attach to a Propose of `change`: the governance handler's gas plus the forward fee of the
 * ProposalCreated event, which carries the change (an upgrade's whole code), with the margin. The root
 * keeps its own balance: a value that does not cover the event fails the Propose.
 */
export function proposeFee(change: Cell, p: PriceConfig = BASECHAIN_PRICES): bigint {
    const { cells, bits } = cellSize(change);
    const event = forwardFee(cells + 1n, bits + 32n + 256n + 32n, p);
    const value = formulaValue(FORMULAS.governance, p) + event;
    return withMargin(value, value);
}

/**
 * Prices from a chain config: pass the parsed param 21 and 25 objects (for example from
 * @ton/ton's configParseGasLimitsPrices / configParseMsgPrices).
 */
export function pricesFrom(gas: { flatLimit: bigint; flatGasPrice: bigint; other: { gasPrice: bigint } }, msg: { lumpPrice: bigint; bitPrice: bigint; cellPrice: bigint }): PriceConfig {
    return {
        flatGasLimit: gas.flatLimit, flatGasPrice: gas.flatGasPrice, gasPrice: gas.other.gasPrice,
        lumpPrice: msg.lumpPrice, bitPrice: msg.bitPrice, cellPrice: msg.cellPrice,
    };
}

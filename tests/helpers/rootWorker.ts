// Helpers of tests/Root.spec.ts and tests/Worker.spec.ts: balances, transactions of a flow, the
// contracts' own fee formula (from the sandbox's config), attestations built field by field, and the
// "no balance creep" check of a Worker.
import { Blockchain, BlockchainTransaction, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, beginCell, toNano } from '@ton/core';
import { findTransactionRequired } from '@ton/test-utils';
import { loadConfigParamsAsSlice, configParseGasLimitsPrices, configParseMsgPrices } from '@ton/ton';
import {
    NO_QUOTE,
    Worker, Statement, Ed25519Key, SignedStatement, buildStatementCell, signStatement, signHash, publicKeyToBigInt,
    signedAttestationCell, workerFor, TAG_ATTESTATION, WORKER_STORAGE_RESERVE,
    requiredFor, pricesFrom, type OperationName, type PriceConfig,
    loadStakeWithdrawn, loadWorkerAttested, WorkerAttested, WorkerState,
} from '../../src/sdk';
import { Net, makeStatement, seededKey } from './network';

/** What a refused sender may lose at most: the fees of the refused flow. */
export const FEE_BOUND = toNano('0.05');
/** Storage fees a contract may pay between two flows of a test (days of sandbox time at most: a
 *  Worker pays about 0.00013 TON a day, and withdrawal waits up to lease + dispute window). */
export const STORAGE_SLACK = toNano('0.002');

export async function balanceOf(chain: Blockchain, a: Address): Promise<bigint> {
    return (await chain.getContract(a)).balance;
}

/** Runs `send` and returns its result with the change of `who`'s balance. */
export async function withDelta(chain: Blockchain, who: Address, send: () => Promise<SendMessageResult>): Promise<{ res: SendMessageResult; delta: bigint }> {
    const before = await balanceOf(chain, who);
    const res = await send();
    return { res, delta: (await balanceOf(chain, who)) - before };
}

/** Expect a refused flow to have cost its sender fees only (less than FEE_BOUND). */
export function expectOnlyFees(delta: bigint, bound: bigint = FEE_BOUND): void {
    expect(delta).toBeLessThan(0n);
    expect(-delta).toBeLessThan(bound);
}

// ---------------------------------------------------------------- transactions

export function txFromTo(res: SendMessageResult, from: Address, to: Address): BlockchainTransaction {
    return findTransactionRequired(res.transactions, { from, to }) as BlockchainTransaction;
}

/** Bodies of the external out messages (events) of a transaction. */
export function eventsOf(tx: BlockchainTransaction): Cell[] {
    return tx.outMessages.values().filter((m) => m.info.type === 'external-out').map((m) => m.body);
}

export function workerAttestedEvents(tx: BlockchainTransaction): WorkerAttested[] {
    return eventsOf(tx).map((b) => loadWorkerAttested(b.beginParse()));
}

/** Internal messages of the flow sent to `to` whose body starts with StakeWithdrawn: their amounts and values. */
export function stakeWithdrawnTo(res: SendMessageResult, to: Address): { amount: bigint; value: bigint }[] {
    const out: { amount: bigint; value: bigint }[] = [];
    for (const tx of res.transactions) {
        for (const m of tx.outMessages.values()) {
            if (m.info.type !== 'internal' || !m.info.dest.equals(to)) continue;
            const s = m.body.beginParse();
            if (s.remainingBits < 32 || s.preloadUint(32) !== 0xc0c00401) continue;
            out.push({ amount: loadStakeWithdrawn(m.body.beginParse()).amount, value: m.info.value.coins });
        }
    }
    return out;
}

// ---------------------------------------------------------------- fees as the contracts compute them

export interface Fees {
    /** The sandbox's basechain prices (config params 21 and 25). */
    prices: PriceConfig;
    /** The contract's exact entry minimum for `op` on top of any amount (src/sdk/fees.ts, mirrors the contracts). */
    min(op: OperationName): bigint;
    /** What CocoonRoot.RegisterWorker demands on top of the stake. */
    register: bigint;
}

/** The sandbox's own price config, as GETGASFEE/GETFORWARDFEE read it. */
export function pricesOf(chain: Blockchain): PriceConfig {
    const cfg = loadConfigParamsAsSlice(chain.configBase64);
    return pricesFrom(configParseGasLimitsPrices(cfg.get(21)), configParseMsgPrices(cfg.get(25)));
}

export function feesOf(chain: Blockchain): Fees {
    const prices = pricesOf(chain);
    const min = (op: OperationName) => requiredFor(op, prices);
    return { prices, min, register: min('registerWorker') };
}

// ---------------------------------------------------------------- operators and attestations

export interface Operator {
    wallet: SandboxContract<TreasuryContract>;
    worker: SandboxContract<Worker>;
    tee: Ed25519Key;
}

/** An operator wallet, its (not yet deployed) Worker and a TEE key, all derived from `name`. */
export async function operatorOf(net: Net, name: string, teeLabel = 'tee:' + name): Promise<Operator> {
    const wallet = await net.chain.treasury(name);
    const worker = net.chain.openContract(await workerFor(net.root.address, wallet.address));
    return { wallet, worker, tee: seededKey(teeLabel) };
}

/** A statement for `op` (defaults of the network fixture) with `over` applied, signed by the trusted verifier. */
export function attest(net: Net, op: Operator, over: Partial<Statement> = {}, signer: Ed25519Key = net.verifier): SignedStatement {
    return signStatement(makeStatement(net, op.wallet.address, op.tee, over), signer);
}

/** A SignedAttestation whose statement carries `tag` instead of TAG_ATTESTATION, signed by `signer`. */
export function attestWithTag(net: Net, op: Operator, tag: bigint, signer: Ed25519Key = net.verifier): Cell {
    const good = buildStatementCell(makeStatement(net, op.wallet.address, op.tee));
    const s = good.beginParse();
    s.skip(32);
    const statementCell = beginCell().storeUint(tag, 32).storeSlice(s).endCell();
    if (tag === TAG_ATTESTATION) throw new Error('use attest() for a good tag');
    return signedAttestationCell(statementCell, [{ verifierKey: publicKeyToBigInt(signer.publicKey), signature: signHash(statementCell.hash(), signer) }]);
}

/** Sends RegisterWorker to the root from `from` (the operator's wallet unless said otherwise). */
export function register(net: Net, op: Operator, attestation: Cell, stake: bigint, value: bigint, from: SandboxContract<TreasuryContract> = op.wallet, queryId = 1n): Promise<SendMessageResult> {
    return net.root.send(from.getSender(), { value }, { $$type: 'RegisterWorker', queryId, stake, attestation });
}

// ---------------------------------------------------------------- balance creep

/**
 * The Worker holds exactly stake + pending + unbonding + WORKER_STORAGE_RESERVE, less the storage fees
 * it paid since its last top-up of the reserve (never more).
 */
/** A Worker state with its cells replaced by their hashes, for deep equality. */
export function plain(st: WorkerState): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(st)) out[k] = v instanceof Cell ? v.hash().toString('hex') : v;
    return out;
}

export async function expectWorkerHoldsItsBook(chain: Blockchain, worker: SandboxContract<Worker>): Promise<void> {
    const st = await worker.getState();
    const expected = st.stake + st.pending + st.unbonding + WORKER_STORAGE_RESERVE;
    const bal = await balanceOf(chain, worker.address);
    expect(bal).toBeLessThanOrEqual(expected);
    expect(expected - bal).toBeLessThan(STORAGE_SLACK);
}

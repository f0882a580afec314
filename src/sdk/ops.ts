// Typed high-level operations: validate, attach amount + fee, send, wait for the visible effect,
// return what changed. The same code runs on @ton/sandbox and on testnet/mainnet (see chain.ts).
import { Address, Contract, OpenedContract, Sender, Transaction } from '@ton/core';
import {
    CocoonRoot, Worker, ClientEscrow, loadParams, type Params, type WorkerInfo, type EscrowState, type RewardState, type Reputation,
    STATUS_ACTIVE, STATUS_UNBONDING, STATUS_SLASHED, ESCROW_NONE, ESCROW_OPENING, ESCROW_OPEN, ESCROW_CLOSING,
    BPS, MAX_RETIRED_KEYS, MAX_VERIFIER_SIGS, MAX_WORKER_PRICE, MAX_PROPOSALS, ROOT_VERSION,
} from './contracts';
import { type Chain } from './chain';
import { workerFor, escrowFor, escrowForOpening } from './addresses';
import { rootFor } from './defaults';
import { parseSignedAttestation, verifySignedAttestation, type SignedStatement } from './attestation';
import { signedReceiptCell, verifyReceipt, receiptTokens, type SignedUsageReceipt } from './receipt';
import { asPrices, capCost, maxPriceOf, TOKEN_CLASSES, type PriceSet } from './prices';
import { bigIntToPublicKey } from './ed25519';
import { errorForExitCode, CocoonError } from './errors';
import { attachFor, registerWorkerFee, proposeFee, BASECHAIN_PRICES, ROOT_DEPLOY_VALUE, type OperationName, type PriceConfig } from './fees';
import {
    changeCell, describeChange, pendingFrom, paramsAddingPower, proposalId, validateGovernanceDelay, validateChange,
    DEFAULT_GOVERNANCE_DELAY,
    type GovernanceChange, type PendingProposal, type DecodedChange,
} from './governance';
import {
    requirePositive, requireNonNegative, requireUint, validateParams, validateEndpoint, validateModelName,
} from './validate';
import type { Cell } from '@ton/core';

export interface OpsOptions {
    /** Gas/forward prices used for the fee estimates (default: basechain). */
    prices?: PriceConfig;
    /**
     * Read the chain before sending to catch refusals early with a clear message (default true).
     * With false only the local checks run and the contracts decide (tests use it to see the
     * contracts' own exit codes).
     */
    checkOnChain?: boolean;
}

export interface Change<T> { before: T; after: T }

/** Thrown (on the sandbox) when a transaction of our contracts in the send's trace failed. */
export function failureIn(result: unknown, ours: Address[]): CocoonError | null {
    const txs = (result as { transactions?: Transaction[] } | undefined)?.transactions;
    if (!Array.isArray(txs)) return null;
    const ids = new Set(ours.map((a) => BigInt('0x' + a.hash.toString('hex'))));
    for (const tx of txs) {
        if (!ids.has(tx.address)) continue;
        const d = tx.description;
        if (d.type !== 'generic') continue;
        if (d.computePhase.type === 'vm' && !d.computePhase.success) return errorForExitCode(d.computePhase.exitCode);
        if (d.actionPhase && !d.actionPhase.success) {
            return new CocoonError(d.actionPhase.resultCode, 'ActionFailed', `ActionFailed (result ${d.actionPhase.resultCode}): a message of the contract could not be sent; attach more TON`);
        }
    }
    return null;
}

const nowQueryId = () => BigInt(Date.now());

export class CocoonOps {
    readonly prices: PriceConfig;
    readonly checkOnChain: boolean;
    /** Transactions of the last send, where the chain reports them (the sandbox does). */
    lastTransactions: Transaction[] = [];

    constructor(readonly chain: Chain, readonly sender: Sender, readonly rootAddress: Address | null = null, private readonly opts: OpsOptions = {}) {
        this.prices = opts.prices ?? BASECHAIN_PRICES;
        this.checkOnChain = opts.checkOnChain ?? true;
    }

    // ------------------------------------------------------------ plumbing

    /** The same chain and sender, bound to another root. */
    withRoot(root: Address): CocoonOps {
        return new CocoonOps(this.chain, this.sender, root, this.opts);
    }

    /** The same chain and root, another sender. */
    as(sender: Sender): CocoonOps {
        return new CocoonOps(this.chain, sender, this.rootAddress, this.opts);
    }

    /** The sending wallet's address (operator, client or owner, depending on the operation). */
    get me(): Address {
        const a = this.sender.address;
        if (!a) throw new Error('the sender has no address: connect a wallet first');
        return a;
    }

    get root(): OpenedContract<CocoonRoot> {
        if (!this.rootAddress) throw new Error('no root address: pass root=<address> or set COCOON_ROOT');
        return this.chain.open(CocoonRoot.fromAddress(this.rootAddress));
    }

    fee(op: OperationName): bigint {
        return attachFor(op, this.prices);
    }

    openWorker(address: Address): OpenedContract<Worker> {
        return this.chain.open(Worker.fromAddress(address));
    }

    openEscrowAt(address: Address): OpenedContract<ClientEscrow> {
        return this.chain.open(ClientEscrow.fromAddress(address));
    }

    /**
     * The operator's Worker: of the Worker codes the root accepts (the one it deploys now and earlier
     * ones kept after an upgrade), the one that is deployed, else the one a registration would deploy.
     */
    async workerOf(operator: Address): Promise<Address> {
        const all = await this.workersOf(operator);
        return (all.find((w) => w.deployed) ?? all[0]).address;
    }

    /** Every Worker address the root accepts for the operator, the current code's first, and whether each is deployed. */
    async workersOf(operator: Address): Promise<{ address: Address; codeHash: bigint; current: boolean; deployed: boolean }[]> {
        const sdk = (await workerFor(this.root.address, operator)).address;
        let current = sdk;
        let all: [bigint, Address][] = [];
        try {
            current = await this.root.getWorkerAddressOf(operator);
            all = [...(await this.root.getWorkerAddressesOf(operator))];
        } catch {
            // a root without these getters: the SDK's own derivation
        }
        if (!all.length) all = [[0n, current]];
        const out = [];
        for (const [codeHash, address] of all) {
            out.push({ address, codeHash, current: address.equals(current), deployed: (await this.workerInfo(address)) !== null });
        }
        return out.sort((a, b) => Number(b.current) - Number(a.current));
    }

    /** Worker info, or null when the contract is not deployed. */
    async workerInfo(worker: Address): Promise<WorkerInfo | null> {
        try {
            return await this.openWorker(worker).getInfo();
        } catch {
            return null;
        }
    }

    /**
     * The Worker's earlier TEE keys still accountable (slashable), each with the time until which
     * escrows may pay its receipts.
     */
    async retiredKeys(worker: Address): Promise<Map<bigint, bigint>> {
        const out = new Map<bigint, bigint>();
        try {
            const d = await this.openWorker(worker).getRetiredKeys();
            for (const [k, v] of d) out.set(k, BigInt(v));
        } catch {
            // not deployed: none
        }
        return out;
    }

    /** What the chain proves of a worker's history (registered since, renewals, slashes, settled volume), or null. */
    async workerReputation(worker: Address): Promise<Reputation | null> {
        try {
            return await this.openWorker(worker).getReputation();
        } catch {
            return null;
        }
    }

    /** Escrow state, or null when the contract is not deployed (never opened, or withdrawn). */
    async escrowState(escrow: Address): Promise<EscrowState | null> {
        try {
            return await this.openEscrowAt(escrow).getState();
        } catch {
            return null;
        }
    }

    private async send<T extends Contract>(
        target: OpenedContract<T>, value: bigint, body: unknown, ours: Address[],
    ): Promise<unknown> {
        const res = await (target as any).send(this.sender, { value }, body);
        const txs = (res as { transactions?: Transaction[] } | undefined)?.transactions;
        this.lastTransactions = Array.isArray(txs) ? txs : [];
        const err = failureIn(res, ours);
        if (err) throw err;
        return res;
    }

    private async requireOwner(): Promise<void> {
        if (!this.checkOnChain) return;
        const owner = await this.root.getOwner();
        if (!owner.equals(this.me)) throw new Error(`only the root owner ${owner.toString()} may do this; the sender is ${this.me.toString()}`);
    }

    private async governance<T>(what: string, body: unknown, read: () => Promise<T>, done: (v: T) => boolean): Promise<Change<T>> {
        await this.requireOwner();
        const before = await read();
        await this.send(this.root, this.fee('governance'), body, [this.root.address]);
        let after = before;
        await this.chain.waitUntil(async () => done((after = await read())), what);
        return { before, after };
    }

    // ------------------------------------------------------------ governance (root owner)

    /**
     * Deploys a new root; its address is fixed by (owner, networkId, params, genesis). The genesis
     * (governance delay, first measurements and verifier keys) is in the StateInit, visible before
     * anyone stakes: later additions are timelocked.
     */
    async deployRoot(opts: {
        networkId: number; params: Params; owner?: Address; value?: bigint;
        governanceDelay?: number; measurements?: [bigint, string][]; verifierKeys?: bigint[];
    }): Promise<{ root: Address; owner: Address; networkId: number; params: Params; governanceDelay: number }> {
        requireUint('networkId', BigInt(opts.networkId), 32);
        validateParams(opts.params);
        const delay = validateGovernanceDelay(opts.governanceDelay ?? DEFAULT_GOVERNANCE_DELAY);
        for (const [m, model] of opts.measurements ?? []) { requireUint('measurement', m, 256); validateModelName(model); }
        for (const k of opts.verifierKeys ?? []) {
            requireUint('verifier key', k, 256);
            if (k === 0n) throw new Error('verifier key: 0 is not a public key');
        }
        const owner = opts.owner ?? this.me;
        if (!owner.equals(this.me)) throw new Error('deployRoot: the root accepts its deploy from its owner only; send it from the owner wallet');
        const value = opts.value ?? ROOT_DEPLOY_VALUE;
        if (value < 60_000_000n) throw new Error('deployRoot: attach at least 0.06 TON (the root keeps 0.05 TON as its storage reserve)');
        const root = this.chain.open(await rootFor(owner, opts.networkId, opts.params, 1, {
            governanceDelay: delay, measurements: opts.measurements, verifierKeys: opts.verifierKeys,
        }));
        if (this.checkOnChain) {
            let existing: Address | null = null;
            try { existing = await root.getOwner(); } catch { /* not deployed */ }
            if (existing) throw new Error(`a root with these owner, networkId, params and genesis is already deployed at ${root.address.toString()}`);
        }
        await this.send(root, value, null, [root.address]);
        await this.chain.waitUntil(async () => (await root.getOwner()).equals(owner), 'deployRoot');
        return { root: root.address, owner, networkId: opts.networkId, params: await root.getParams(), governanceDelay: delay };
    }

    /**
     * Changes parameters at once when the change only removes power (lower fees, price cap or
     * attestation lifetime, a higher stakers' share, nothing else touched); anything else must be
     * proposed (proposeParams) and executed after the governance delay.
     */
    async setParams(params: Params): Promise<Change<Params>> {
        validateParams(params);
        if (this.checkOnChain) {
            const adding = paramsAddingPower(await this.root.getParams(), params);
            if (adding.length) throw new Error(`setParams: changing ${adding.join(', ')} adds power, so it is timelocked: propose it (proposeParams / \`propose change=setParams\`) and execute it after the governance delay`);
        }
        const same = (a: Params) => (Object.keys(params) as (keyof Params)[]).every((k) => a[k] === params[k]);
        return this.governance('setParams', { $$type: 'SetParams', queryId: nowQueryId(), params }, () => this.root.getParams(), same);
    }

    // ------------------------------------------------------------ timelock (root owner proposes, anyone executes)

    /** The root's governance delay (seconds between Propose and the earliest Execute). */
    async governanceDelay(): Promise<number> {
        return Number(await this.root.getGovernanceDelay());
    }

    /** Pending proposals with the time left, soonest first. */
    async proposals(): Promise<PendingProposal[]> {
        return pendingFrom(await this.root.getProposals(), await this.chain.now());
    }

    /**
     * Announces a change that adds power. It acts when someone executes it, from `eta` (now + the
     * governance delay) for PROPOSAL_GRACE; until then the owner may cancel it.
     */
    async propose(change: GovernanceChange): Promise<{ id: bigint; eta: number; change: DecodedChange; description: string }> {
        validateChange(change);
        await this.requireOwner();
        const cell = changeCell(change, nowQueryId());
        let current: Params | undefined;
        if (this.checkOnChain) {
            const pending = await this.proposals();
            if (pending.filter((p) => !p.expired).length >= Number(MAX_PROPOSALS)) {
                throw new Error(`propose: ${MAX_PROPOSALS} proposals are pending; execute or cancel one first`);
            }
            if (change.kind === 'setParams') current = await this.root.getParams();
            if (change.kind === 'setGovernanceDelay' && change.delay === BigInt(await this.governanceDelay())) throw new Error(`propose: the governance delay is already ${change.delay} s`);
        }
        const before = new Set((await this.root.getProposals()).keys());
        await this.send(this.root, proposeFee(cell, this.prices), { $$type: 'Propose', queryId: nowQueryId(), change: cell }, [this.root.address]);
        let found: PendingProposal | undefined;
        await this.chain.waitUntil(async () => {
            found = (await this.proposals()).find((p) => !before.has(p.id) && p.cell.hash().equals(cell.hash()));
            return found !== undefined;
        }, 'propose');
        const p = found!;
        if (proposalId(p.eta, cell) !== p.id) throw new Error('propose: the root stored a proposal whose id is not the hash of (eta, change)');
        return { id: p.id, eta: p.eta, change: p.change, description: describeChange(p.change, current) };
    }

    proposeParams(params: Params) { return this.propose({ kind: 'setParams', params }); }
    proposeAddMeasurement(measurement: bigint, model: string) { return this.propose({ kind: 'addMeasurement', measurement, model }); }
    proposeAddVerifierKey(key: bigint) { return this.propose({ kind: 'addVerifierKey', key }); }
    proposeVerifierQuorum(quorum: number) { return this.propose({ kind: 'setVerifierQuorum', quorum: BigInt(quorum) }); }
    proposeGovernanceDelay(delay: number) { return this.propose({ kind: 'setGovernanceDelay', delay: BigInt(validateGovernanceDelay(delay)) }); }
    proposeUpgrade(version: number, code: Cell) { return this.propose({ kind: 'upgradeRoot', version: BigInt(version), code }); }

    /** Runs a pending proposal whose time has come (anyone may). */
    async execute(id: bigint): Promise<{ id: bigint; change: DecodedChange }> {
        const p = await this.pendingProposal(id, 'execute');
        if (this.checkOnChain) {
            if (p.expired) throw new Error('execute: the proposal is past its grace period (14 days after its eta); the owner cancels it and proposes again');
            if (!p.executable) throw new Error(`execute: too early; the proposal can be executed from ${new Date(p.eta * 1000).toISOString()} (in ${p.secondsLeft} s)`);
        }
        const value = p.change.kind === 'upgradeRoot' ? this.fee('governance') + 200_000_000n : this.fee('governance');
        await this.send(this.root, value, { $$type: 'Execute', queryId: nowQueryId(), id }, [this.root.address]);
        await this.chain.waitUntil(async () => (await this.root.getProposal(id)) === null, 'execute');
        return { id, change: p.change };
    }

    /** Withdraws a pending proposal (owner only). */
    async cancel(id: bigint): Promise<{ id: bigint; change: DecodedChange }> {
        await this.requireOwner();
        const p = await this.pendingProposal(id, 'cancel');
        await this.send(this.root, this.fee('governance'), { $$type: 'Cancel', queryId: nowQueryId(), id }, [this.root.address]);
        await this.chain.waitUntil(async () => (await this.root.getProposal(id)) === null, 'cancel');
        return { id, change: p.change };
    }

    private async pendingProposal(id: bigint, what: string): Promise<PendingProposal> {
        requireUint('proposal id', id, 256);
        const p = (await this.proposals()).find((x) => x.id === id);
        if (!p) throw new Error(`${what}: no pending proposal ${'0x' + id.toString(16).padStart(64, '0')} (never proposed, already executed, or cancelled); \`status\` lists the pending ones`);
        return p;
    }

    async removeMeasurement(measurement: bigint): Promise<Change<string | null>> {
        requireUint('measurement', measurement, 256);
        if (this.checkOnChain && !(await this.root.getIsMeasurementAllowed(measurement))) throw new Error('removeMeasurement: that measurement is not whitelisted');
        return this.governance('removeMeasurement', { $$type: 'RemoveMeasurement', queryId: nowQueryId(), measurement },
            () => this.root.getModelOf(measurement), (m) => m === null);
    }

    async removeVerifierKey(key: bigint): Promise<Change<boolean>> {
        requireUint('verifier key', key, 256);
        if (this.checkOnChain && !(await this.root.getIsVerifierKey(key))) throw new Error('removeVerifierKey: that key is not trusted now');
        return this.governance('removeVerifierKey', { $$type: 'RemoveVerifierKey', queryId: nowQueryId(), key },
            () => this.root.getIsVerifierKey(key), (v) => !v);
    }

    /** How many distinct trusted verifiers must sign a statement (1..16): raised at once, lowered only through a proposal. */
    async setVerifierQuorum(quorum: number): Promise<Change<bigint>> {
        if (!Number.isInteger(quorum) || quorum < 1 || quorum > Number(MAX_VERIFIER_SIGS)) throw new Error(`verifierQuorum must be an integer within 1..${MAX_VERIFIER_SIGS}, got ${quorum}`);
        if (this.checkOnChain) {
            const current = await this.root.getVerifierQuorum();
            if (BigInt(quorum) < current) throw new Error(`setVerifierQuorum: lowering the quorum (${current} -> ${quorum}) adds power, so it is timelocked: propose it (proposeVerifierQuorum / \`propose change=setVerifierQuorum\`) and execute it after the governance delay`);
        }
        return this.governance('setVerifierQuorum', { $$type: 'SetVerifierQuorum', queryId: nowQueryId(), quorum: BigInt(quorum) },
            () => this.root.getVerifierQuorum(), (v) => v === BigInt(quorum));
    }

    async setPaused(paused: boolean): Promise<Change<boolean>> {
        return this.governance(paused ? 'pause' : 'unpause', { $$type: 'SetPaused', queryId: nowQueryId(), paused },
            () => this.root.getPaused(), (v) => v === paused);
    }

    async proposeOwner(newOwner: Address): Promise<Change<Address | null>> {
        return this.governance('proposeOwner', { $$type: 'ProposeOwner', queryId: nowQueryId(), newOwner },
            () => this.root.getPendingOwner(), (v) => v !== null && v.equals(newOwner));
    }

    async acceptOwnership(): Promise<Change<Address>> {
        const me = this.me;
        if (this.checkOnChain) {
            const pending = await this.root.getPendingOwner();
            if (!pending || !pending.equals(me)) throw new Error(`acceptOwnership: the sender ${me.toString()} is not the proposed owner (${pending ? pending.toString() : 'none proposed'})`);
        }
        const before = await this.root.getOwner();
        await this.send(this.root, this.fee('governance'), { $$type: 'AcceptOwnership', queryId: nowQueryId() }, [this.root.address]);
        let after = before;
        await this.chain.waitUntil(async () => (after = await this.root.getOwner()).equals(me), 'acceptOwnership');
        return { before, after };
    }

    /** Stops a worker whose measurement was removed from the whitelist; its stake unbonds. */
    async deactivateWorker(operator: Address, measurement: bigint): Promise<{ worker: Address; status: Change<bigint>; unbonding: bigint }> {
        requireUint('measurement', measurement, 256);
        await this.requireOwner();
        const found = (await this.workersOf(operator)).find((x) => x.deployed);
        const worker = found?.address ?? await this.workerOf(operator);
        const w = this.openWorker(worker);
        const before = await this.workerInfo(worker);
        if (this.checkOnChain) {
            if (await this.root.getIsMeasurementAllowed(measurement)) throw new Error('deactivateWorker: the measurement is still whitelisted; run removeMeasurement first');
            if (!before) throw new Error(`deactivateWorker: no Worker contract for operator ${operator.toString()}`);
            if (before.status !== STATUS_ACTIVE || before.stake === 0n) throw new Error('deactivateWorker: the worker has no active stake');
            if (before.measurement !== measurement) throw new Error('deactivateWorker: the worker runs another measurement');
        }
        // a Worker of an earlier code (after an upgrade that changed it) is named by its code hash
        const body = found && !found.current
            ? { $$type: 'DeactivateLegacyWorker' as const, queryId: nowQueryId(), operator, measurement, workerCode: found.codeHash }
            : { $$type: 'DeactivateWorker' as const, queryId: nowQueryId(), operator, measurement };
        await this.send(this.root, this.fee('deactivateWorker'), body, [this.root.address, worker]);
        let after = before!;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).status === STATUS_UNBONDING, 'deactivateWorker');
        return { worker, status: { before: before?.status ?? 0n, after: after.status }, unbonding: after.unbonding };
    }

    async withdrawTreasury(amount: bigint): Promise<Change<bigint>> {
        requirePositive('amount', amount);
        await this.requireOwner();
        const before = (await this.root.getRewardState()).treasury;
        if (this.checkOnChain && amount > before) throw new Error(`withdrawTreasury: the treasury holds ${before} nanoton, less than ${amount}`);
        await this.send(this.root, this.fee('withdrawTreasury'), { $$type: 'WithdrawTreasury', queryId: nowQueryId(), amount }, [this.root.address]);
        let after = before;
        await this.chain.waitUntil(async () => (after = (await this.root.getRewardState()).treasury) <= before - amount, 'withdrawTreasury');
        return { before, after };
    }

    // ------------------------------------------------------------ money in (anyone)

    async fundRewards(amount: bigint): Promise<{ amount: bigint; pool: Change<bigint>; acc: Change<bigint> }> {
        requirePositive('amount', amount);
        const before = await this.root.getRewardState();
        if (this.checkOnChain && before.totalStake === 0n) throw new Error('fundRewards: no stake is active yet, there is nobody to reward');
        await this.send(this.root, amount + this.fee('fundRewards'), { $$type: 'FundRewards', queryId: nowQueryId(), amount }, [this.root.address]);
        let after: RewardState = before;
        await this.chain.waitUntil(async () => (after = await this.root.getRewardState()).rewardPool >= before.rewardPool + amount, 'fundRewards');
        return { amount, pool: { before: before.rewardPool, after: after.rewardPool }, acc: { before: before.acc, after: after.acc } };
    }

    // ------------------------------------------------------------ operator

    /**
     * Registers the operator with a SignedAttestation and stake: the root checks everything and
     * deploys the operator's Worker. Also re-attests (new key, new expiry) with stake 0 or more.
     */
    async registerWorker(attestation: Cell | SignedStatement, stake: bigint): Promise<{
        worker: Address; stake: Change<bigint>; teeKey: bigint; measurement: bigint; expiresAt: number; active: boolean;
    }> {
        requireNonNegative('stake', stake);
        const sa = 'statement' in attestation ? attestation : parseSignedAttestation(attestation);
        const st = sa.statement;
        const me = this.me;
        const root = this.root;
        if (!st.root.equals(root.address)) throw new Error(`attestation: it is for root ${st.root.toString()}, not ${root.address.toString()} (another network)`);
        if (!st.operator.equals(me)) throw new Error(`attestation: it names operator ${st.operator.toString()}, but the sender is ${me.toString()}`);
        const now = await this.chain.now();
        if (st.expiresAt <= now) throw new Error(`attestation: expired at ${new Date(st.expiresAt * 1000).toISOString()}; get a fresh one from the verifier`);
        if (!verifySignedAttestation(sa)) throw new Error("attestation: the verifier's signature does not match the statement");
        // a registration goes to the Worker of the code the root deploys now
        const mine = await this.workersOf(me);
        const worker = { address: mine.find((x) => x.current)?.address ?? (await workerFor(root.address, me)).address };
        const earlier = mine.find((x) => !x.current && x.deployed);
        const w = this.openWorker(worker.address);
        const before = await this.workerInfo(worker.address);
        if (this.checkOnChain) {
            const params = await root.getParams();
            if (await root.getPaused()) throw new Error('registerWorker: the network is paused');
            if (stake !== 0n && stake < params.minStake) throw new Error(`stake: ${stake} nanoton is below the minimum stake ${params.minStake} (send 0 to re-attest without new stake)`);
            if (stake === 0n && !before && earlier) throw new Error(`stake: your Worker ${earlier.address.toString()} is of an earlier Worker code; the root now deploys a new Worker for you (${worker.address.toString()}), which needs at least the minimum stake ${params.minStake}. The earlier one keeps working (escrows, unbond, withdraw, rewards) until you unbond it`);
            if (stake === 0n && !before) throw new Error(`stake: a first registration needs at least the minimum stake ${params.minStake}`);
            if (BigInt(st.expiresAt) > BigInt(now) + params.maxAttestationTtl) throw new Error(`attestation: expires beyond the root's maximum lifetime of ${params.maxAttestationTtl} s`);
            for (const s of sa.signatures) {
                if (!(await root.getIsVerifierKey(s.verifierKey))) throw new Error(`attestation: signed by verifier key 0x${s.verifierKey.toString(16)} which the root does not trust`);
            }
            const quorum = Number(await root.getVerifierQuorum());
            if (sa.signatures.length < quorum) throw new Error(`attestation: ${sa.signatures.length} verifier signature(s), the root needs ${quorum} distinct trusted verifiers`);
            if (!(await root.getIsMeasurementAllowed(st.measurement))) throw new Error(`attestation: measurement 0x${st.measurement.toString(16)} is not whitelisted by the root`);
            // The Worker ignores the key of a statement not newer than the one in force (issuedAt, 0 for a
            // new Worker) or a key slashed on it; stake that then has no usable key unbonds at once.
            if (BigInt(st.issuedAt) <= (before?.issuedAt ?? 0n)) throw new Error('attestation: not newer than the one in force (issuedAt); the Worker would keep its old key (or none, and any stake would unbond at once)');
            if (before && (await w.getIsBanned(st.teeKey))) throw new Error('attestation: this TEE key was slashed on this worker; attest a new key (the statement would not take effect, and any stake it brings would unbond at once)');
            if (before && before.teeKey !== 0n && before.teeKey !== st.teeKey) {
                const retired = await this.retiredKeys(worker.address);
                const live = [...retired.values()].filter((u) => u > BigInt(now)).length;
                if (live >= Number(MAX_RETIRED_KEYS) && !retired.has(st.teeKey)) {
                    const next = [...retired.values()].filter((u) => u > BigInt(now)).sort((x, y) => (x < y ? -1 : 1))[0];
                    throw new Error(`attestation: ${live} earlier TEE keys of this worker are still accountable (the most a Worker keeps); a new key can take effect after ${new Date(Number(next) * 1000).toISOString()}, or renew the current key`);
                }
            }
        }
        await this.send(root, stake + registerWorkerFee(sa.signatures.length, this.prices), { $$type: 'RegisterWorker', queryId: nowQueryId(), stake, attestation: sa.cell }, [root.address, worker.address]);
        let after: WorkerInfo | null = null;
        await this.chain.waitUntil(async () => {
            after = await w.getInfo();
            return after.issuedAt === BigInt(st.issuedAt) && after.status === STATUS_ACTIVE && after.stake >= (before?.stake ?? 0n) + stake;
        }, 'registerWorker (a refused registration bounces back to the operator with the exit code in the root transaction)');
        const a = after as unknown as WorkerInfo;
        return {
            worker: worker.address, stake: { before: before?.stake ?? 0n, after: a.stake },
            teeKey: a.teeKey, measurement: a.measurement, expiresAt: Number(a.expiresAt), active: a.active,
        };
    }

    private async operatorWorker(): Promise<{ address: Address; w: OpenedContract<Worker>; info: WorkerInfo }> {
        const address = await this.workerOf(this.me);
        const info = await this.workerInfo(address);
        if (!info) throw new Error(`no Worker contract for operator ${this.me.toString()} under this root: run registerWorker first`);
        return { address, w: this.openWorker(address), info };
    }

    async topUpStake(amount: bigint): Promise<{ worker: Address; stake: Change<bigint> }> {
        requirePositive('amount', amount);
        const { address, w, info } = await this.operatorWorker();
        if (this.checkOnChain && info.status !== STATUS_ACTIVE) throw new Error('topUpStake: the worker is not active');
        await this.send(w, amount + this.fee('topUpStake'), { $$type: 'TopUpStake', queryId: nowQueryId(), amount }, [address, this.root.address]);
        let after = info;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).stake >= info.stake + amount, 'topUpStake');
        return { worker: address, stake: { before: info.stake, after: after.stake } };
    }

    /** The worker's price per class (or one price for every class), nanoton per million tokens. */
    async setPrice(price: bigint | PriceSet): Promise<{ worker: Address; price: Change<PriceSet> }> {
        const prices = asPrices(price, 'price');
        const { address, w, info } = await this.operatorWorker();
        if (this.checkOnChain) {
            const st = await w.getState();
            if (!st.params) throw new Error('setPrice: the worker was never attested');
            const maxPrice = loadParams(st.params.beginParse()).maxPrice;
            for (const c of TOKEN_CLASSES) {
                if (prices[c] > maxPrice) throw new Error(`setPrice: the ${c} price ${prices[c]} nanoton per 1M tokens is above the root's maxPrice ${maxPrice}`);
                if (prices[c] > MAX_WORKER_PRICE) throw new Error(`setPrice: the ${c} price ${prices[c]} nanoton per 1M tokens is above what a Worker keeps (2^56 - 1)`);
            }
        }
        await this.send(w, this.fee('setPrice'), { $$type: 'SetPrice', queryId: nowQueryId(), prices }, [address]);
        let after = info;
        const same = (p: PriceSet) => TOKEN_CLASSES.every((c) => p[c] === prices[c]);
        await this.chain.waitUntil(async () => same((after = await w.getInfo()).prices), 'setPrice');
        return { worker: address, price: { before: info.prices, after: after.prices } };
    }

    async setEndpoint(endpoint: string): Promise<{ worker: Address; endpoint: Change<string | null> }> {
        validateEndpoint(endpoint);
        const { address, w, info } = await this.operatorWorker();
        await this.send(w, this.fee('setEndpoint'), { $$type: 'SetEndpoint', queryId: nowQueryId(), endpoint }, [address]);
        let after = info;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).endpoint === endpoint, 'setEndpoint');
        return { worker: address, endpoint: { before: info.endpoint, after: after.endpoint } };
    }

    /**
     * Anyone: makes a worker that cannot serve (attestation expired, no key, stake below the minimum)
     * unbond, so its stake stops counting for rewards. The change comes back to the sender.
     */
    async dropInactive(worker: Address): Promise<{ worker: Address; unbonding: bigint; withdrawableAt: number }> {
        const w = this.openWorker(worker);
        const info = await this.workerInfo(worker);
        if (!info) throw new Error(`dropInactive: no Worker contract at ${worker.toString()}`);
        if (this.checkOnChain && (info.status !== STATUS_ACTIVE || info.stake === 0n || info.active)) {
            throw new Error('dropInactive: the worker is active (or has no active stake): nothing to drop');
        }
        await this.send(w, this.fee('dropInactive'), { $$type: 'DropInactive', queryId: nowQueryId() }, [worker, info.root]);
        let after = info;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).status === STATUS_UNBONDING && after.stake === 0n, 'dropInactive');
        return { worker, unbonding: after.unbonding, withdrawableAt: Number(after.withdrawableAt) };
    }

    async unbond(): Promise<{ worker: Address; unbonding: bigint; withdrawableAt: number }> {
        const { address, w, info } = await this.operatorWorker();
        if (this.checkOnChain && (info.status !== STATUS_ACTIVE || info.stake === 0n)) throw new Error('unbond: the worker has no active stake');
        await this.send(w, this.fee('unbond'), { $$type: 'Unbond', queryId: nowQueryId() }, [address, this.root.address]);
        let after = info;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).status === STATUS_UNBONDING && after.stake === 0n, 'unbond');
        return { worker: address, unbonding: after.unbonding, withdrawableAt: Number(after.withdrawableAt) };
    }

    async withdrawStake(): Promise<{ worker: Address; amount: bigint }> {
        const { address, w, info } = await this.operatorWorker();
        if (this.checkOnChain) {
            if (info.unbonding === 0n) throw new Error('withdrawStake: nothing is unbonding (run unbond first)');
            const now = await this.chain.now();
            if (BigInt(now) < info.withdrawableAt) {
                throw new Error(`withdrawStake: the stake is withdrawable from ${new Date(Number(info.withdrawableAt) * 1000).toISOString()} ` +
                    '(the end of the unbonding period, or later while receipts signed by one of this worker\'s keys can still be paid: lease end + dispute window)');
            }
        }
        await this.send(w, this.fee('withdrawStake'), { $$type: 'WithdrawStake', queryId: nowQueryId() }, [address]);
        await this.chain.waitUntil(async () => (await w.getInfo()).unbonding === 0n, 'withdrawStake');
        return { worker: address, amount: info.unbonding };
    }

    async claimRewards(): Promise<{ worker: Address; amount: bigint }> {
        const { address, w, info } = await this.operatorWorker();
        const acc = (await this.root.getRewardState()).acc;
        const amount = await w.getPendingRewards(acc);
        await this.send(w, this.fee('claimRewards'), { $$type: 'ClaimRewards', queryId: nowQueryId() }, [address, this.root.address]);
        await this.chain.waitUntil(async () => {
            const a = await w.getInfo();
            return a.accrued === 0n && a.checkpoint >= acc;
        }, 'claimRewards');
        return { worker: address, amount };
    }

    // ------------------------------------------------------------ client

    /**
     * Opens (deploys) the sender's escrow with a worker. `clientKey` is the client's ed25519 public key
     * (uint256): worker nodes accept only API keys it signs (src/sdk/apiKey.ts).
     */
    async openEscrow(worker: Address, deposit: bigint, maxPrice: bigint | PriceSet, clientKey: bigint): Promise<{ escrow: Address; deposit: bigint; epoch: bigint; teeKey: bigint; caps: PriceSet; clientKey: bigint }> {
        requirePositive('deposit', deposit);
        const caps = asPrices(maxPrice, 'maxPrice');
        if (maxPriceOf(caps) === 0n) throw new Error('openEscrow: maxPrice must be positive for at least one token class');
        requireUint('clientKey', clientKey, 256);
        if (clientKey === 0n) throw new Error('openEscrow: clientKey must be a public key, not 0 (create one with keyFromSeed(randomBytes(32)))');
        const e = await escrowForOpening(worker, this.me);
        const escrow = this.chain.open(e);
        if (this.checkOnChain) {
            const info = await this.workerInfo(worker);
            if (!info) throw new Error(`openEscrow: no Worker contract at ${worker.toString()}`);
            if (!info.active) throw new Error('openEscrow: the worker is not active (no attested key, expired, or stake below minimum)');
            for (const c of TOKEN_CLASSES) {
                if (info.prices[c] > caps[c]) throw new Error(`openEscrow: the worker's ${c} price ${info.prices[c]} is above your maxPrice ${caps[c]} for ${c} tokens (nanoton per 1M tokens)`);
            }
            const st = await this.escrowState(e.address);
            if (st && st.state !== ESCROW_NONE) throw new Error(`openEscrow: your escrow with this worker is already open at ${e.address.toString()} (top it up instead)`);
        }
        const root = this.rootAddress ?? (await this.workerInfo(worker))?.root;
        if (!root) throw new Error(`openEscrow: no Worker contract at ${worker.toString()} (and no root given to name)`);
        await this.send(escrow, deposit + this.fee('openEscrow'), { $$type: 'OpenEscrow', queryId: nowQueryId(), deposit, caps, clientKey, root }, [e.address, worker]);
        let st: EscrowState | null = null;
        await this.chain.waitUntil(async () => (st = await this.escrowState(e.address)) !== null && st.state === ESCROW_OPEN,
            'openEscrow: the escrow is not open (the worker was inactive or above your maxPrice, and the deposit was refunded)');
        const s = st as unknown as EscrowState;
        return { escrow: e.address, deposit: s.deposit, epoch: s.epoch, teeKey: s.teeKey, caps: s.caps, clientKey: s.clientKey };
    }

    private async clientEscrow(escrow: Address, what: string): Promise<{ e: OpenedContract<ClientEscrow>; st: EscrowState }> {
        const e = this.openEscrowAt(escrow);
        const st = await this.escrowState(escrow);
        if (!st) throw new Error(`${what}: no escrow at ${escrow.toString()}`);
        if (this.checkOnChain) {
            const client = await e.getClient();
            if (!client.equals(this.me)) throw new Error(`${what}: only the escrow's client ${client.toString()} may do this`);
        }
        return { e, st };
    }

    async topUpEscrow(escrow: Address, amount: bigint): Promise<{ escrow: Address; deposit: Change<bigint> }> {
        requirePositive('amount', amount);
        const { e, st } = await this.clientEscrow(escrow, 'topUpEscrow');
        if (this.checkOnChain && st.state !== ESCROW_OPEN) throw new Error('topUpEscrow: the escrow is not open');
        await this.send(e, amount + this.fee('topUpEscrow'), { $$type: 'TopUpEscrow', queryId: nowQueryId(), amount }, [escrow]);
        let after = st;
        await this.chain.waitUntil(async () => (after = await e.getState()).deposit >= st.deposit + amount, 'topUpEscrow');
        return { escrow, deposit: { before: st.deposit, after: after.deposit } };
    }

    async closeEscrow(escrow: Address): Promise<{ escrow: Address; closeAt: number }> {
        const { e, st } = await this.clientEscrow(escrow, 'closeEscrow');
        if (this.checkOnChain && st.state !== ESCROW_OPEN) throw new Error('closeEscrow: the escrow is not open');
        await this.send(e, this.fee('closeEscrow'), { $$type: 'CloseEscrow', queryId: nowQueryId() }, [escrow]);
        let after = st;
        await this.chain.waitUntil(async () => (after = await e.getState()).state === ESCROW_CLOSING, 'closeEscrow');
        return { escrow, closeAt: Number(after.closeAt) };
    }

    async withdrawEscrow(escrow: Address): Promise<{ escrow: Address; amount: bigint; feesFlushed: bigint }> {
        const { e, st } = await this.clientEscrow(escrow, 'withdrawEscrow');
        if (this.checkOnChain) {
            const now = await this.chain.now();
            if (st.state === ESCROW_OPENING) {
                if (BigInt(now) < st.closeAt) throw new Error(`withdrawEscrow: the escrow is still waiting for its worker's answer; if none comes, withdraw after ${new Date(Number(st.closeAt) * 1000).toISOString()}`);
            } else {
                if (st.state !== ESCROW_CLOSING) throw new Error('withdrawEscrow: close the escrow first (closeEscrow), then wait for the dispute window');
                if (BigInt(now) < st.closeAt) throw new Error(`withdrawEscrow: the dispute window ends at ${new Date(Number(st.closeAt) * 1000).toISOString()}`);
            }
        }
        const ours = st.root && st.state !== ESCROW_OPENING ? [escrow, st.root] : [escrow];
        await this.send(e, this.fee('withdrawEscrow'), { $$type: 'WithdrawEscrow', queryId: nowQueryId() }, ours);
        await this.chain.waitUntil(async () => {
            const s = await this.escrowState(escrow);
            return s === null || s.state === ESCROW_NONE;
        }, 'withdrawEscrow');
        return { escrow, amount: st.deposit, feesFlushed: st.feesOwed };
    }

    /**
     * Replaces the escrow's client key (SetClientKey): API keys signed by the old key stop working as
     * soon as worker nodes re-read the escrow. Client only.
     */
    async setClientKey(escrow: Address, clientKey: bigint): Promise<{ escrow: Address; clientKey: Change<bigint> }> {
        requireUint('clientKey', clientKey, 256);
        if (clientKey === 0n) throw new Error('setClientKey: the new key must be a public key, not 0');
        const { e, st } = await this.clientEscrow(escrow, 'setClientKey');
        await this.send(e, this.fee('setClientKey'), { $$type: 'SetClientKey', queryId: nowQueryId(), clientKey }, [escrow]);
        let after = st;
        await this.chain.waitUntil(async () => (after = await e.getState()).clientKey === clientKey, 'setClientKey');
        return { escrow, clientKey: { before: st.clientKey, after: after.clientKey } };
    }

    /** Client or operator: make the escrow read the worker's current TEE key again. */
    async refreshWorker(escrow: Address): Promise<{ escrow: Address; teeKey: Change<bigint> }> {
        const e = this.openEscrowAt(escrow);
        const st = await this.escrowState(escrow);
        if (!st) throw new Error(`refreshWorker: no escrow at ${escrow.toString()}`);
        const worker = await e.getWorker();
        if (this.checkOnChain) {
            if (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING) throw new Error('refreshWorker: the escrow is not open');
            const client = await e.getClient();
            if (!client.equals(this.me) && !(st.operator && st.operator.equals(this.me))) throw new Error("refreshWorker: only the escrow's client or the worker's operator may refresh it");
        }
        const info = await this.workerInfo(worker);
        await this.send(e, this.fee('refreshWorker'), { $$type: 'RefreshWorker', queryId: nowQueryId() }, [escrow, worker]);
        let after = st;
        const expect = info && info.active ? info.teeKey : st.teeKey;
        await this.chain.waitUntil(async () => (after = await e.getState()).teeKey === expect, 'refreshWorker');
        return { escrow, teeKey: { before: st.teeKey, after: after.teeKey } };
    }

    // ------------------------------------------------------------ anyone

    /** Settles a cumulative receipt signed by the worker's TEE key (anyone may send it). */
    async claim(escrow: Address, signed: SignedUsageReceipt): Promise<{ escrow: Address; seq: bigint; paid: bigint; fee: bigint; toOperator: bigint }> {
        const r = signed.receipt;
        if (!r.escrow.equals(escrow)) throw new Error(`claim: the receipt is for escrow ${r.escrow.toString()}, not ${escrow.toString()}`);
        const e = this.openEscrowAt(escrow);
        const st = await this.escrowState(escrow);
        if (!st) throw new Error(`claim: no escrow at ${escrow.toString()}`);
        if (this.checkOnChain) {
            if (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING) throw new Error('claim: the escrow is not open');
            if (st.state === ESCROW_CLOSING && BigInt(await this.chain.now()) >= st.closeAt) throw new Error('claim: the dispute window is over');
            if (r.epoch !== st.epoch) throw new Error(`claim: the receipt is for epoch ${r.epoch}, the escrow is in epoch ${st.epoch} (a receipt of an earlier opening)`);
            if (r.seq <= st.lastSeq) throw new Error(`claim: receipt seq ${r.seq} is not newer than the last settled ${st.lastSeq}`);
            if (receiptTokens(r) < st.lastTokens || r.cost < st.lastCost) throw new Error('claim: the receipt totals go backwards');
            if (r.cost > capCost(r, st.caps)) throw new Error("claim: the receipt's cost is above the client's price caps for its tokens");
            if (!verifyReceipt(signed, bigIntToPublicKey(st.teeKey))) throw new Error("claim: the receipt is not signed by the worker's attested TEE key");
        }
        const ours = st.root ? [escrow, st.root] : [escrow];
        await this.send(e, this.fee('claim'), { $$type: 'Claim', queryId: nowQueryId(), signature: signed.signature, receipt: signed.cell }, ours);
        let after = st;
        await this.chain.waitUntil(async () => (after = await e.getState()).lastSeq >= r.seq, 'claim');
        const paid = after.paid - st.paid;
        const fee = (paid * st.feeBps) / BPS;
        return { escrow, seq: after.lastSeq, paid, fee, toOperator: paid - fee };
    }

    /** Proves equivocation: two receipts signed by the worker's TEE key that contradict each other. */
    async slash(worker: Address, a: SignedUsageReceipt, b: SignedUsageReceipt): Promise<{ worker: Address; slashed: bigint; status: Change<bigint> }> {
        const ra = a.receipt, rb = b.receipt;
        if (!ra.escrow.equals(rb.escrow) || ra.epoch !== rb.epoch) throw new Error('slash: the receipts must be for the same escrow and epoch');
        const fields = ['promptTokens', 'cachedTokens', 'completionTokens', 'cost'] as const;
        const [early, late] = ra.seq <= rb.seq ? [ra, rb] : [rb, ra];
        const conflict = ra.seq === rb.seq ? fields.some((f) => ra[f] !== rb[f]) : fields.some((f) => late[f] < early[f]);
        if (!conflict) throw new Error('slash: the two receipts do not contradict each other');
        const w = this.openWorker(worker);
        const info = await this.workerInfo(worker);
        if (!info) throw new Error(`slash: no Worker contract at ${worker.toString()}`);
        // the key that signed both: the one in force or an earlier one still accountable
        const now = BigInt(await this.chain.now());
        const retired = await this.retiredKeys(worker);
        const candidates = [info.teeKey, ...[...retired.entries()].filter(([, until]) => until > now).map(([k]) => k)].filter((k) => k !== 0n);
        const key = candidates.find((k) => verifyReceipt(a, bigIntToPublicKey(k)) && verifyReceipt(b, bigIntToPublicKey(k)));
        if (this.checkOnChain) {
            if (info.stake + info.unbonding === 0n) throw new Error('slash: the worker has no stake left');
            if (key === undefined) throw new Error("slash: the receipts are not both signed by the worker's TEE key in force nor by an earlier key still accountable");
        }
        const st = await w.getState();
        const bps = st.params ? loadParams(st.params.beginParse()).slashBps : 0n;
        const slashed = (info.stake * bps) / BPS + (info.unbonding * bps) / BPS;
        await this.send(w, this.fee('slash'), {
            $$type: 'SlashProof', queryId: nowQueryId(), key: key ?? info.teeKey, sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b),
        }, [worker, info.root]);
        let after = info;
        await this.chain.waitUntil(async () => (after = await w.getInfo()).status === STATUS_SLASHED, 'slash');
        return { worker, slashed, status: { before: info.status, after: after.status } };
    }
}

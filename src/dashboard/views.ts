// What the dashboard's JSON API answers: the chain read through the SDK (getters of the root, Workers
// and escrows; history decoded by events.ts), shaped for the page. Amounts are decimal nanoton
// strings; addresses are user-friendly (contracts bounceable, wallets non-bounceable; test-only flag
// off mainnet) with the raw form beside them for the wallet.
import { Address } from '@ton/core';
import {
    CocoonRoot, Worker, ClientEscrow, readNetwork, workerAddress, escrowAddress, formatAddress, formatHex256, latestByWorker,
    feeTable, tcbStatusName, WORKER_STATUS, ESCROW_STATE, type WorkerInfo, type EscrowState, type OperationName,
} from '../sdk';
import type { DashboardSource } from './source';
import { readHistory, cumulative, type ChainEvent, type History } from './events';
import { readReputation, type ReputationJson } from './reputation';
import { ReadCache } from './cache';

/** At most this many Workers are read per request (each is one getter call). */
export const MAX_WORKERS = 100;
export const MAX_EVENTS = 200;

export interface AddressJson { address: string; raw: string }
export interface WorkerJson {
    worker: AddressJson;
    operator: AddressJson;
    model: string | null;
    measurement: string;
    status: string;
    active: boolean;
    /** Nanoton per 1M tokens of each token class. */
    prices: { prompt: string; cached: string; completion: string };
    /** The price of a typical request's million tokens (3 prompt : 1 completion), nanoton: what the list sorts by. */
    typicalPrice: string;
    stake: string;
    pending: string;
    unbonding: string;
    withdrawableAt: number;
    expiresAt: number;
    issuedAt: number;
    teeKey: string;
    tlsKeyHash: string;
    quoteHash: string;
    tcbStatus: number;
    /** Intel's name of the TCB status; "None" for a development attestation (no quote). */
    tcb: string;
    fmspc: string;
    endpoint: string | null;
    feeBps: number;
    disputeWindow: number;
    keyPayUntil: number;
    accountableUntil: number;
    retiredKeys: number;
    /** Paid to the operator by settled claims (sandbox: from the escrows' history; remote: null). */
    settled: { volume: string; claims: number } | null;
    /** What the chain proves of its history (the Worker's reputation() getter); null if it has none. */
    reputation: ReputationJson | null;
}

export interface EventJson {
    kind: string;
    time: number;
    lt: string;
    tx: string;
    contract: AddressJson;
    from: AddressJson | null;
    to: AddressJson | null;
    worker: AddressJson | null;
    amount: string | null;
    detail: string;
}

export interface EscrowJson {
    escrow: AddressJson;
    worker: AddressJson;
    client: AddressJson;
    state: string;
    /** What is left of the deposits (claims take from it): what the escrow can still pay or refund. */
    deposit: string;
    /** Paid to the worker so far (its operator's part plus the protocol fee). */
    paid: string;
    feesOwed: string;
    /** The client's caps per token class (nanoton per 1M tokens). */
    caps: { prompt: string; cached: string; completion: string };
    epoch: string;
    lastSeq: string;
    lastTokens: string;
    closeAt: number;
    payUntil: number;
    disputeWindow: number;
    teeKey: string;
    clientKey: string;
    balance: string;
}

export class DashboardViews {
    private readonly cache: ReadCache;
    constructor(readonly source: DashboardSource) {
        this.cache = new ReadCache(source.cacheMs);
    }

    /** Contract address as people read it: bounceable. */
    contract(a: Address): AddressJson {
        return { address: formatAddress(a, this.source.network, true), raw: a.toRawString() };
    }

    /** Wallet address as people read it: non-bounceable (UQ / 0Q). */
    wallet(a: Address): AddressJson {
        return { address: formatAddress(a, this.source.network, false), raw: a.toRawString() };
    }

    history(): Promise<History> {
        return this.cache.get('history', async () => readHistory(await this.source.transactions(), this.source.root));
    }

    now(): Promise<number> {
        return this.source.chain.now();
    }

    feeTable(): Record<OperationName, { required: string; attach: string; basis: string }> {
        const t = feeTable(this.source.prices);
        const out = {} as Record<OperationName, { required: string; attach: string; basis: string }>;
        for (const [k, v] of Object.entries(t)) out[k as OperationName] = { required: v.required.toString(), attach: v.attach.toString(), basis: v.basis };
        return out;
    }

    async network() {
        return this.cache.get('network', async () => {
            const { chain, root } = this.source;
            const n = await readNetwork(chain, root);
            const r = chain.open(CocoonRoot.fromAddress(root));
            const [quorum, balance, h, now] = await Promise.all([r.getVerifierQuorum(), this.source.balance(root), this.history(), this.now()]);
            const fees = h.events.filter((e) => e.kind === 'protocol-fee').reduce((s, e) => s + (e.amount ?? 0n), 0n);
            const settled = [...h.settledByWorker.values()].reduce((s, v) => s + v.volume, 0n);
            const p = n.params;
            return {
                network: this.source.network, now,
                root: this.contract(root), owner: this.wallet(n.owner), pendingOwner: n.pendingOwner ? this.wallet(n.pendingOwner) : null,
                networkId: Number(n.networkId), paused: n.paused, verifierQuorum: Number(quorum), balance: balance.toString(),
                params: {
                    minStake: p.minStake.toString(), maxPrice: p.maxPrice.toString(), unbondingPeriod: Number(p.unbondingPeriod),
                    maxAttestationTtl: Number(p.maxAttestationTtl), disputeWindow: Number(p.disputeWindow), protocolFeeBps: Number(p.protocolFeeBps),
                    stakerShareBps: Number(p.stakerShareBps), slashBps: Number(p.slashBps), reporterBountyBps: Number(p.reporterBountyBps),
                },
                rewards: {
                    totalStake: n.rewards.totalStake.toString(), rewardPool: n.rewards.rewardPool.toString(),
                    treasury: n.rewards.treasury.toString(), acc: n.rewards.acc.toString(),
                },
                /** Protocol fees that reached the root in the history read (all of it in the sandbox; the newest root transactions remotely). */
                feesCollected: fees.toString(),
                settledVolume: this.source.fullHistory ? settled.toString() : null,
                registrations: h.registrations.length,
                historyScope: this.source.fullHistory ? 'all transactions of the local chain' : "the root's newest transactions",
            };
        });
    }

    private async info(worker: Address): Promise<WorkerInfo | null> {
        try {
            return await this.source.chain.open(Worker.fromAddress(worker)).getInfo();
        } catch {
            return null;
        }
    }

    private async workerJson(worker: Address, info: WorkerInfo, model: string | null, h: History): Promise<WorkerJson> {
        const s = h.settledByWorker.get(worker.toRawString());
        return {
            worker: this.contract(worker), operator: this.wallet(info.operator), model, measurement: formatHex256(info.measurement),
            status: WORKER_STATUS[Number(info.status)] ?? `unknown (${info.status})`, active: info.active,
            prices: { prompt: info.prices.prompt.toString(), cached: info.prices.cached.toString(), completion: info.prices.completion.toString() },
            typicalPrice: ((3n * info.prices.prompt + info.prices.completion) / 4n).toString(),
            stake: info.stake.toString(), pending: info.pending.toString(), unbonding: info.unbonding.toString(),
            withdrawableAt: Number(info.withdrawableAt), expiresAt: Number(info.expiresAt), issuedAt: Number(info.issuedAt),
            teeKey: formatHex256(info.teeKey), tlsKeyHash: formatHex256(info.tlsKeyHash), quoteHash: formatHex256(info.quoteHash),
            tcbStatus: Number(info.tcbStatus), tcb: tcbStatusName(Number(info.tcbStatus)), fmspc: '0x' + info.fmspc.toString(16).padStart(12, '0'), endpoint: info.endpoint,
            feeBps: Number(info.feeBps), disputeWindow: Number(info.disputeWindow), keyPayUntil: Number(info.keyPayUntil),
            accountableUntil: Number(info.accountableUntil), retiredKeys: Number(info.retiredKeys),
            settled: this.source.fullHistory ? { volume: (s?.volume ?? 0n).toString(), claims: s?.claims ?? 0 } : null,
            reputation: await readReputation(this.source.chain, worker),
        };
    }

    /** Every Worker the root registered (newest registration each), read from its contract; cheapest active first. */
    async workers(): Promise<WorkerJson[]> {
        return this.cache.get('workers', async () => {
            const h = await this.history();
            const regs = latestByWorker(h.registrations).slice(-MAX_WORKERS);
            const root = this.source.chain.open(CocoonRoot.fromAddress(this.source.root));
            const models = new Map<bigint, string | null>();
            const out: WorkerJson[] = [];
            for (const r of regs) {
                const info = await this.info(r.worker);
                if (!info || !info.root.equals(this.source.root) || !info.operator.equals(r.operator)) continue;
                if (!models.has(info.measurement)) models.set(info.measurement, await root.getModelOf(info.measurement));
                out.push(await this.workerJson(r.worker, info, models.get(info.measurement) ?? null, h));
            }
            return out.sort((a, b) => Number(b.active) - Number(a.active) || cmp(BigInt(a.typicalPrice), BigInt(b.typicalPrice)) || cmp(BigInt(b.stake), BigInt(a.stake)));
        });
    }

    async worker(worker: Address): Promise<WorkerJson | null> {
        const info = await this.info(worker);
        if (!info || !info.root.equals(this.source.root)) return null;
        const model = await this.source.chain.open(CocoonRoot.fromAddress(this.source.root)).getModelOf(info.measurement);
        return this.workerJson(worker, info, model, await this.history());
    }

    async events(limit: number): Promise<EventJson[]> {
        const h = await this.history();
        const contracts = new Set([this.source.root.toRawString(), ...h.escrows.keys(), ...h.registrations.map((r) => r.worker.toRawString())]);
        return h.events.slice(-Math.min(limit, MAX_EVENTS)).reverse().map((e) => this.eventJson(e, contracts));
    }

    /** `contracts`: raw addresses of this network's contracts, shown bounceable when they send; anyone else as a wallet. */
    private eventJson(e: ChainEvent, contracts: Set<string>): EventJson {
        return {
            kind: e.kind, time: e.time, lt: e.lt.toString(), tx: e.tx, contract: this.contract(e.contract),
            from: e.from ? (contracts.has(e.from.toRawString()) ? this.contract(e.from) : this.wallet(e.from)) : null, to: e.to ? this.wallet(e.to) : null, worker: e.worker ? this.contract(e.worker) : null,
            amount: e.amount === null ? null : e.amount.toString(), detail: e.detail,
        };
    }

    /** Cumulative protocol fees at the root and paid-to-operators volume over chain time. */
    async series() {
        const h = await this.history();
        const pts = (k: Parameters<typeof cumulative>[1]) => cumulative(h.events, k).map((p) => ({ time: p.time, value: p.value.toString() }));
        return { fees: pts('protocol-fee'), settled: this.source.fullHistory ? pts('claim') : null, now: await this.now() };
    }

    /** The operator's Worker, its stake, earnings and claimable rewards. */
    operator(operator: Address) {
        return this.cache.get(`operator:${operator.toRawString()}`, () => this.readOperator(operator));
    }

    private async readOperator(operator: Address) {
        const worker = await workerAddress(this.source.root, operator);
        const [info, h, now, balance] = await Promise.all([this.info(worker), this.history(), this.now(), this.source.balance(operator)]);
        const inc = h.operatorIncome.get(operator.toRawString());
        let pendingRewards: bigint | null = null;
        let w: WorkerJson | null = null;
        if (info && info.root.equals(this.source.root)) {
            const acc = (await this.source.chain.open(CocoonRoot.fromAddress(this.source.root)).getRewardState()).acc;
            pendingRewards = await this.source.chain.open(Worker.fromAddress(worker)).getPendingRewards(acc);
            w = await this.worker(worker);
        }
        return {
            operator: this.wallet(operator), balance: balance.toString(), now, worker: w, workerAddress: this.contract(worker),
            pendingRewards: pendingRewards === null ? null : pendingRewards.toString(),
            earnings: this.source.fullHistory ? { payouts: (inc?.payouts ?? 0n).toString(), claims: inc?.claims ?? 0, rewards: (inc?.rewards ?? 0n).toString() } : null,
        };
    }

    /** The client's escrows: one per Worker it could have opened one with (derived, then read). */
    client(client: Address) {
        return this.cache.get(`client:${client.toRawString()}`, () => this.readClient(client));
    }

    private async readClient(client: Address) {
        const [h, now, balance] = await Promise.all([this.history(), this.now(), this.source.balance(client)]);
        const workers = new Map<string, Address>();
        for (const r of latestByWorker(h.registrations).slice(-MAX_WORKERS)) workers.set(r.worker.toRawString(), r.worker);
        for (const e of h.escrows.values()) if (e.client.equals(client)) workers.set(e.worker.toRawString(), e.worker);
        const escrows: EscrowJson[] = [];
        for (const worker of [...workers.values()].slice(0, MAX_WORKERS)) {
            const address = await escrowAddress(worker, client);
            let st: EscrowState;
            try {
                st = await this.source.chain.open(ClientEscrow.fromAddress(address)).getState();
            } catch {
                continue; // not deployed: never opened, refused, or withdrawn
            }
            if (st.state === 0n) continue;
            escrows.push({
                escrow: this.contract(address), worker: this.contract(worker), client: this.wallet(client),
                state: ESCROW_STATE[Number(st.state)] ?? `unknown (${st.state})`, deposit: st.deposit.toString(), paid: st.paid.toString(),
                feesOwed: st.feesOwed.toString(), caps: { prompt: st.caps.prompt.toString(), cached: st.caps.cached.toString(), completion: st.caps.completion.toString() },
                epoch: st.epoch.toString(), lastSeq: st.lastSeq.toString(), lastTokens: st.lastTokens.toString(), closeAt: Number(st.closeAt),
                payUntil: Number(st.payUntil), disputeWindow: Number(st.disputeWindow), teeKey: formatHex256(st.teeKey),
                clientKey: formatHex256(st.clientKey), balance: (await this.source.balance(address)).toString(),
            });
        }
        return { client: this.wallet(client), balance: balance.toString(), now, escrows };
    }
}

function cmp(a: bigint, b: bigint): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

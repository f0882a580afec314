// The network's history as events, decoded from transactions with the wrappers' load* functions.
// Only transactions of contracts the dashboard can vouch for count: the root, the Workers the root
// registered (addresses derived from (root, operator) as the root derives them), and escrows whose
// opening named such a Worker (address derived from (worker, client)). Anyone can send a message with
// our opcodes to any address; those are not events of this network.
import { Address, type Message, type Slice, type Transaction } from '@ton/core';
import {
    loadEscrowPayout, loadFundRewards, loadOpenEscrow, loadProtocolFee, loadRegisterWorker, loadRewardsPaid,
    loadTopUpEscrow, loadTopUpStake, loadWithdrawTreasury, loadSetPrice, escrowAddress, workerRegistrations, latestByWorker,
    WORKER_ATTESTED_OPCODE, formatTon, decodeChange, describeChange, loadProposalCreated, loadProposalExecuted, loadProposalCancelled,
    type WorkerRegistration,
} from '../sdk';

export type EventKind =
    | 'register' | 'attested' | 'fund-rewards' | 'protocol-fee' | 'withdraw-treasury' | 'governance' | 'rewards-paid'
    | 'top-up-stake' | 'set-price' | 'set-endpoint' | 'unbond' | 'withdraw-stake' | 'claim-rewards' | 'slash' | 'drop-inactive'
    | 'open-escrow' | 'top-up-escrow' | 'close-escrow' | 'withdraw-escrow' | 'claim' | 'refresh-worker' | 'set-client-key';

export interface ChainEvent {
    kind: EventKind;
    /** Unix time of the transaction (chain time). */
    time: number;
    lt: bigint;
    /** Transaction hash, hex. */
    tx: string;
    /** The contract the event happened on (root, Worker or escrow). */
    contract: Address;
    /** Sender of the message that caused it (null for external messages). */
    from: Address | null;
    /** Who received the value, where the event pays someone (rewards paid to an operator). */
    to?: Address;
    /** The Worker concerned, where there is one. */
    worker: Address | null;
    /** nanoton the event moved (deposit, fee, payout…), where it has one. */
    amount: bigint | null;
    /** Short human text. */
    detail: string;
}

export interface History {
    events: ChainEvent[];
    registrations: WorkerRegistration[];
    /** Escrow address (raw) → its worker and client, for escrows seen opening. */
    escrows: Map<string, { escrow: Address; worker: Address; client: Address }>;
    /** Per operator (raw): EscrowPayout received from this network's escrows, and RewardsPaid from the root. */
    operatorIncome: Map<string, { payouts: bigint; claims: number; rewards: bigint }>;
    /** Per Worker (raw): paid to its operator by settled claims. */
    settledByWorker: Map<string, { volume: bigint; claims: number }>;
}

const OP = {
    SetParams: 0xc0c00101, AddMeasurement: 0xc0c00102, RemoveMeasurement: 0xc0c00103, AddVerifierKey: 0xc0c00104,
    RemoveVerifierKey: 0xc0c00105, SetPaused: 0xc0c00106, ProposeOwner: 0xc0c00107, AcceptOwnership: 0xc0c00108,
    DeactivateWorker: 0xc0c00109, WithdrawTreasury: 0xc0c0010a, SetVerifierQuorum: 0xc0c0010b,
    FundRewards: 0xc0c00111, ProtocolFee: 0xc0c00112, RegisterWorker: 0xc0c00201,
    AttestResult: 0xc0c00131, TopUpStake: 0xc0c00202, SetPrice: 0xc0c00203, SetEndpoint: 0xc0c00207, Unbond: 0xc0c00204,
    WithdrawStake: 0xc0c00205, ClaimRewards: 0xc0c00206, SlashProof: 0xc0c00211, EscrowQuery: 0xc0c00212, DropInactive: 0xc0c00213,
    OpenEscrow: 0xc0c00301, TopUpEscrow: 0xc0c00302, CloseEscrow: 0xc0c00303, WithdrawEscrow: 0xc0c00304, Claim: 0xc0c00305,
    RefreshWorker: 0xc0c00306, SetClientKey: 0xc0c00307, RewardsPaid: 0xc0c00402, EscrowPayout: 0xc0c00403,
    Propose: 0xc0c00140, Execute: 0xc0c00141, Cancel: 0xc0c00142,
    ProposalCreated: 0xc0c00150, ProposalExecuted: 0xc0c00151, ProposalCancelled: 0xc0c00152,
} as const;

const GOVERNANCE: Record<number, string> = {
    [OP.SetParams]: 'parameters changed', [OP.AddMeasurement]: 'measurement whitelisted', [OP.RemoveMeasurement]: 'measurement removed',
    [OP.AddVerifierKey]: 'verifier key trusted', [OP.RemoveVerifierKey]: 'verifier key removed', [OP.SetPaused]: 'pause switched',
    [OP.ProposeOwner]: 'new owner proposed', [OP.AcceptOwnership]: 'ownership accepted', [OP.DeactivateWorker]: 'worker deactivated',
    [OP.SetVerifierQuorum]: 'verifier quorum changed',
};

function opcodeOf(m: Message | undefined): { op: number; body: Slice } | null {
    if (!m) return null;
    const s = m.body.beginParse();
    if (s.remainingBits < 32) return null;
    return { op: s.preloadUint(32), body: s };
}

function succeeded(tx: Transaction): boolean {
    const d = tx.description;
    if (d.type !== 'generic' || d.aborted) return false;
    if (d.computePhase.type !== 'vm' || !d.computePhase.success) return false;
    return !d.actionPhase || d.actionPhase.success;
}

/** An internal inbound message that was not a bounce. */
function inbound(tx: Transaction): { from: Address; value: bigint; op: number; body: Slice } | null {
    const m = tx.inMessage;
    if (!m || m.info.type !== 'internal' || m.info.bounced) return null;
    const o = opcodeOf(m);
    return o ? { from: m.info.src, value: m.info.value.coins, ...o } : null;
}

function outMessages(tx: Transaction): Message[] {
    return [...tx.outMessages.values()];
}

/** The root's governance events (external out messages) of a transaction, decoded. */
function governanceEvents(tx: Transaction) {
    const out: { created?: ReturnType<typeof loadProposalCreated>; executed?: bigint; cancelled?: bigint }[] = [];
    for (const m of outMessages(tx)) {
        if (m.info.type !== 'external-out') continue;
        const o = opcodeOf(m);
        if (o?.op === OP.ProposalCreated) out.push({ created: safe(() => loadProposalCreated(o.body)) ?? undefined });
        else if (o?.op === OP.ProposalExecuted) out.push({ executed: safe(() => loadProposalExecuted(o.body).id) ?? undefined });
        else if (o?.op === OP.ProposalCancelled) out.push({ cancelled: safe(() => loadProposalCancelled(o.body).id) ?? undefined });
    }
    return out;
}

const escrowCache = new Map<string, string>();
async function derivedEscrow(worker: Address, client: Address): Promise<string> {
    const k = worker.toRawString() + '|' + client.toRawString();
    let v = escrowCache.get(k);
    if (!v) {
        v = (await escrowAddress(worker, client)).toRawString();
        if (escrowCache.size > 10_000) escrowCache.clear();
        escrowCache.set(k, v);
    }
    return v;
}

const safe = <T>(f: () => T): T | null => {
    try {
        return f();
    } catch {
        return null;
    }
};

/** Decodes `transactions` (oldest first) into the events of `root`'s network. */
export async function readHistory(transactions: Transaction[], root: Address): Promise<History> {
    const registrations = await workerRegistrations(transactions, root);
    const workers = new Map<string, Address>();
    const operatorOf = new Map<string, Address>();
    for (const r of latestByWorker(registrations)) {
        workers.set(r.worker.toRawString(), r.worker);
        operatorOf.set(r.worker.toRawString(), r.operator);
    }
    const rootRaw = root.toRawString();
    /** Proposal id → what it changes (from its ProposalCreated event), for Execute and Cancel. */
    const proposals = new Map<bigint, string>();
    const h: History = { events: [], registrations, escrows: new Map(), operatorIncome: new Map(), settledByWorker: new Map() };
    const income = (op: Address) => {
        const k = op.toRawString();
        let v = h.operatorIncome.get(k);
        if (!v) h.operatorIncome.set(k, (v = { payouts: 0n, claims: 0, rewards: 0n }));
        return v;
    };

    for (const tx of transactions) {
        if (!succeeded(tx)) continue;
        const at = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex'));
        const atRaw = at.toRawString();
        const base = { time: tx.now, lt: tx.lt, tx: tx.hash().toString('hex'), contract: at };
        const push = (kind: EventKind, from: Address | null, worker: Address | null, amount: bigint | null, detail: string) =>
            h.events.push({ ...base, kind, from, worker, amount, detail });

        if (atRaw === rootRaw) {
            const m = inbound(tx);
            if (m) {
                if (m.op === OP.RegisterWorker) {
                    const r = safe(() => loadRegisterWorker(m.body));
                    push('register', m.from, null, r?.stake ?? null, r && r.stake > 0n ? 'registration with stake' : 're-attestation');
                } else if (m.op === OP.FundRewards) {
                    push('fund-rewards', m.from, null, safe(() => loadFundRewards(m.body).amount), 'staking rewards funded');
                } else if (m.op === OP.ProtocolFee) {
                    push('protocol-fee', m.from, null, safe(() => loadProtocolFee(m.body).amount), 'protocol fees reached the root');
                } else if (m.op === OP.WithdrawTreasury) {
                    push('withdraw-treasury', m.from, null, safe(() => loadWithdrawTreasury(m.body).amount), 'treasury withdrawn by the owner');
                } else if (GOVERNANCE[m.op]) {
                    push('governance', m.from, null, null, GOVERNANCE[m.op]);
                } else if (m.op === OP.Propose || m.op === OP.Execute || m.op === OP.Cancel) {
                    // timelocked governance: the change is named once, by the root's ProposalCreated event
                    for (const e of governanceEvents(tx)) {
                        if (e.created) {
                            const what = safe(() => describeChange(decodeChange(e.created!.change))) ?? 'a change';
                            proposals.set(e.created.id, what);
                            push('governance', m.from, null, null, `proposed: ${what} (executable from ${new Date(Number(e.created.eta) * 1000).toISOString()})`);
                        } else if (e.executed !== undefined) {
                            push('governance', m.from, null, null, `executed: ${proposals.get(e.executed) ?? 'proposal 0x' + e.executed.toString(16).slice(0, 12) + '…'}`);
                        } else if (e.cancelled !== undefined) {
                            push('governance', m.from, null, null, `cancelled: ${proposals.get(e.cancelled) ?? 'proposal 0x' + e.cancelled.toString(16).slice(0, 12) + '…'}`);
                        }
                    }
                }
            }
            for (const out of outMessages(tx)) {
                const o = opcodeOf(out);
                if (!o || out.info.type !== 'internal' || o.op !== OP.RewardsPaid) continue;
                const amount = safe(() => loadRewardsPaid(o.body).amount);
                if (amount === null) continue;
                income(out.info.dest).rewards += amount;
                h.events.push({ ...base, kind: 'rewards-paid', from: null, to: out.info.dest, worker: null, amount, detail: 'staking rewards paid to the operator' });
            }
            continue;
        }

        const worker = workers.get(atRaw);
        if (worker) {
            const m = inbound(tx);
            const attested = outMessages(tx).some((o) => o.info.type === 'external-out' && opcodeOf(o)?.op === WORKER_ATTESTED_OPCODE);
            if (attested) push('attested', m?.from ?? null, worker, null, 'attestation took effect (WorkerAttested)');
            if (!m) continue;
            switch (m.op) {
                case OP.TopUpStake: push('top-up-stake', m.from, worker, safe(() => loadTopUpStake(m.body).amount), 'stake topped up'); break;
                case OP.SetPrice: {
                    const p = safe(() => loadSetPrice(m.body).prices);
                    push('set-price', m.from, worker, null, p === null ? 'prices set'
                        : `prices set to ${formatTon(p.prompt)} prompt / ${formatTon(p.cached)} cached / ${formatTon(p.completion)} completion per 1M tokens`);
                    break;
                }
                case OP.SetEndpoint: push('set-endpoint', m.from, worker, null, 'endpoint published'); break;
                case OP.Unbond: push('unbond', m.from, worker, null, 'unbonding started'); break;
                case OP.WithdrawStake: push('withdraw-stake', m.from, worker, null, 'unbonded stake withdrawn'); break;
                case OP.ClaimRewards: push('claim-rewards', m.from, worker, null, 'rewards claimed'); break;
                case OP.SlashProof: push('slash', m.from, worker, null, 'slashed for equivocation'); break;
                case OP.DropInactive: push('drop-inactive', m.from, worker, null, 'inactive worker dropped'); break;
                default: break;
            }
            continue;
        }

        const m = inbound(tx);
        if (!m) continue;
        let escrow = h.escrows.get(atRaw);
        if (!escrow && m.op === OP.OpenEscrow) {
            // an opening names its Worker in the EscrowQuery it sends; the address must derive from both
            for (const out of outMessages(tx)) {
                if (out.info.type !== 'internal' || opcodeOf(out)?.op !== OP.EscrowQuery) continue;
                const w = workers.get(out.info.dest.toRawString());
                if (w && (await derivedEscrow(w, m.from)) === atRaw) {
                    escrow = { escrow: at, worker: w, client: m.from };
                    h.escrows.set(atRaw, escrow);
                }
            }
        }
        if (!escrow) continue;
        switch (m.op) {
            case OP.OpenEscrow: push('open-escrow', m.from, escrow.worker, safe(() => loadOpenEscrow(m.body).deposit), 'escrow opened'); break;
            case OP.TopUpEscrow: push('top-up-escrow', m.from, escrow.worker, safe(() => loadTopUpEscrow(m.body).amount), 'escrow topped up'); break;
            case OP.CloseEscrow: push('close-escrow', m.from, escrow.worker, null, 'escrow closing: dispute window open'); break;
            case OP.WithdrawEscrow: push('withdraw-escrow', m.from, escrow.worker, null, 'escrow withdrawn'); break;
            case OP.RefreshWorker: push('refresh-worker', m.from, escrow.worker, null, "escrow re-read its worker's key"); break;
            case OP.SetClientKey: push('set-client-key', m.from, escrow.worker, null, 'client key replaced'); break;
            case OP.Claim: {
                let paid = 0n;
                for (const out of outMessages(tx)) {
                    const o = opcodeOf(out);
                    if (!o || out.info.type !== 'internal' || o.op !== OP.EscrowPayout) continue;
                    const p = safe(() => loadEscrowPayout(o.body));
                    if (!p) continue;
                    paid += p.amount;
                    const inc = income(out.info.dest);
                    inc.payouts += p.amount;
                    inc.claims += 1;
                }
                const k = escrow.worker.toRawString();
                const s = h.settledByWorker.get(k) ?? { volume: 0n, claims: 0 };
                s.volume += paid;
                s.claims += 1;
                h.settledByWorker.set(k, s);
                push('claim', m.from, escrow.worker, paid, 'receipt settled: paid to the operator');
                break;
            }
            default: break;
        }
    }
    return h;
}

export interface SeriesPoint { time: number; value: bigint }

/** Cumulative sums of the events of `kind` over time, one point per event (a step line). */
export function cumulative(events: ChainEvent[], kind: EventKind): SeriesPoint[] {
    let total = 0n;
    const out: SeriesPoint[] = [];
    for (const e of events) {
        if (e.kind !== kind || e.amount === null) continue;
        total += e.amount;
        const last = out[out.length - 1];
        if (last && last.time === e.time) last.value = total;
        else out.push({ time: e.time, value: total });
    }
    return out;
}

// Admission: who may spend which escrow, and whether this request fits. A small interface:
//
//   authenticate(req)        headers only, before the body is read  -> Principal   (apiKeyAuth.ts)
//   admit(principal, up)     escrow and worker checks, the worst case reserved   -> Admission
//   release(admission, cost) the reservation goes, the receipt's cost is spent
//
// Only admitted requests count against maxInflight: a request is admitted once its sender proved it
// may spend the escrow and its body was read and checked, so slow uploads and strangers never hold
// a place. Everything it refuses is an HttpError (errors.ts); an unauthenticated or refused request
// reserves nothing, calls no backend and gets no receipt.
import type { IncomingMessage } from 'node:http';
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import { pricesWithin, worstCaseCost, TOKEN_CLASSES, type PriceSet, type WorkerInfo } from '../sdk';
import { Authenticator, type AuthConfig, type Principal } from './apiKeyAuth';
import type { RequestPlan } from './backendCall';
import { ESCROW_CLOSING, ESCROW_OPEN, ESCROW_OPENING, type EscrowSnapshot, type EscrowView } from './chainViews';
import { HttpError, Refuse } from './errors';
import { chainPosition, maxPosition, type LedgerPosition } from './ledger';
import type { WorkerMetrics } from './metrics';
import type { LedgerHealth } from './receipts';
import type { SpendBook } from './spend';
import type { TokenCounter } from './tokenCount';

export type { Principal } from './apiKeyAuth';

export interface Admission {
    principal: Principal;
    escrow: Address;
    epoch: bigint;
    /** The Worker's prices for this request, per token class (nanoton per 1M tokens). */
    prices: PriceSet;
    /** The escrow's caps per class. */
    caps: PriceSet;
    /** Worst case held for this request (nanoton). */
    reserved: bigint;
    /** The chain's settled position, when the ledger is behind it and this key has not signed for the escrow epoch yet. */
    floor: LedgerPosition | null;
    /** The prompt tokens counted exactly at admission, if they were. */
    promptTokens: number | null;
}

export interface AdmissionConfig {
    maxInflight: number;
    closingMarginSec: number;
    auth: AuthConfig;
}

export interface AdmissionDeps {
    config: AdmissionConfig;
    worker: Address;
    /** This node's TEE key (public). */
    teeKey: bigint;
    escrows: EscrowView;
    workerInfo: () => Promise<WorkerInfo | null>;
    /** Chain time, unix seconds. */
    now: () => Promise<number>;
    /** Receipt positions: the furthest known, and whether this key signed for the escrow epoch. */
    positions: { known(escrow: Address, epoch: bigint): LedgerPosition; hasSigned(escrow: Address, epoch: bigint): boolean };
    ledgerHealth: () => LedgerHealth;
    /** Moves an escrow holding an older key of this worker to the current one. */
    refresh: (snap: EscrowSnapshot) => Promise<EscrowSnapshot>;
    spend: SpendBook;
    counter: Pick<TokenCounter, 'countTexts'>;
    metrics: WorkerMetrics;
    log: Logger;
}

export class AdmissionControl {
    readonly auth: Authenticator;
    /** Worst case held by requests in progress, per escrow epoch. */
    private readonly reservations = new Map<string, bigint>();
    private admitted = 0;
    /** Escrows whose ledger was found behind the chain (logged once each). */
    private readonly behindLogged = new Set<string>();

    constructor(private readonly d: AdmissionDeps) {
        this.auth = new Authenticator({
            escrows: d.escrows, worker: d.worker, now: d.now, config: d.config.auth,
            onFailure: (reason) => d.metrics.authFailures.inc({ reason }),
        });
    }

    /** Requests admitted and not yet released. */
    get inflight(): number {
        return this.admitted;
    }

    authenticate(req: Pick<IncomingMessage, 'headers' | 'socket'>): Promise<Principal> {
        return this.auth.authenticate(req);
    }

    /** Checks the escrow and the worker for this request and holds its worst case; throws HttpError. */
    async admit(p: Principal, up: Pick<RequestPlan, 'promptBound' | 'promptTexts' | 'maxTokens'>): Promise<Admission> {
        const health = this.d.ledgerHealth();
        if (!health.ok) throw Refuse.ledgerUnavailable(health.reason!);
        const max = this.d.config.maxInflight;
        if (this.admitted >= max) throw Refuse.tooManyRequests(max);
        // the place is taken now: the checks below may wait (chain reads, the token count)
        this.admitted++;
        this.d.metrics.inflight.set(this.admitted);
        try {
            return await this.check(p, up);
        } catch (e) {
            this.admitted--;
            this.d.metrics.inflight.set(this.admitted);
            throw e;
        }
    }

    private async check(p: Principal, up: Pick<RequestPlan, 'promptBound' | 'promptTexts' | 'maxTokens'>): Promise<Admission> {
        const d = this.d;
        const info = await d.workerInfo();
        if (!info || !info.active) throw new HttpError(503, 'this worker is not active on-chain (not registered, unbonding or attestation expired); retry later or pick another worker', 'service_unavailable', 'worker_inactive');
        if (info.teeKey !== d.teeKey) {
            throw new HttpError(503, "the Worker contract holds another TEE key than this node's (the re-registration at start has not landed); retry in a minute", 'service_unavailable', 'tee_key_mismatch', { 'retry-after': '30' });
        }
        const prices = info.prices;
        // the freshest state the cache allows (authentication may have used an older one)
        const again = await d.escrows.lookup(p.escrow);
        const snap = again.kind === 'escrow' ? again.snap : p.snap;
        const st = snap.state;
        if (st.state === ESCROW_OPENING) throw new HttpError(402, 'the escrow is still opening: wait for the worker to confirm it on-chain', 'payment_required', 'escrow_not_open');
        if (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING) throw new HttpError(402, 'the escrow is not open: open it again (cocoon open-escrow)', 'payment_required', 'escrow_not_open');
        if (st.state === ESCROW_CLOSING && BigInt(await d.now()) + BigInt(d.config.closingMarginSec) >= st.closeAt) {
            throw new HttpError(402, 'the escrow is closing and its claim window is (nearly) over: open a new escrow', 'payment_required', 'escrow_closing');
        }
        if (!pricesWithin(prices, st.caps)) {
            const over = TOKEN_CLASSES.filter((c) => prices[c] > st.caps[c]).map((c) => `${c} ${prices[c]} > ${st.caps[c]}`).join(', ');
            throw new HttpError(403, `the worker's prices are above your escrow's caps (${over}, nanoton per 1M tokens); open an escrow with higher caps`, 'permission_denied', 'price_above_cap');
        }
        const escrow = p.escrow;
        const known = d.positions.known(escrow, st.epoch);
        const chain: LedgerPosition = chainPosition(st);
        let floor: LedgerPosition | null = null;
        if (chain.seq > known.seq) {
            if (d.positions.hasSigned(escrow, st.epoch)) {
                // this key signed every receipt the escrow can have settled: the chain cannot be ahead
                d.metrics.errors.inc({ kind: 'ledger_behind_chain' });
                d.log.error({ escrow: escrow.toString(), chainSeq: chain.seq.toString(), ledgerSeq: known.seq.toString() }, 'the chain is ahead of what this key signed: refusing to sign');
                throw new HttpError(503, 'this node cannot serve this escrow right now (its receipt ledger is behind the chain); retry later or pick another worker', 'service_unavailable', 'ledger_behind');
            }
            // a restored or lost ledger: this key continues from what the chain settled
            floor = chain;
            const k = escrow.toRawString();
            if (!this.behindLogged.has(k) && this.behindLogged.size < 10_000) {
                this.behindLogged.add(k);
                d.log.warn({ escrow: escrow.toString(), chainSeq: chain.seq.toString(), ledgerSeq: known.seq.toString() },
                    'the ledger is behind the chain for this escrow (restored or lost ledger?): continuing from the settled position');
            }
        }
        const pos = maxPosition(known, floor);
        const reserveKey = `${escrow.toRawString()}/${st.epoch}`;
        // deposit + paid is what the client funded this epoch (a claim moves value from one to the
        // other); every receipt issued counts against it, claimed or not, and so does the worst case
        // of every request still in progress.
        const unspent = st.deposit + st.paid - pos.cost;
        if (st.deposit === 0n || unspent <= 0n) throw new HttpError(402, 'the escrow is empty: top it up (cocoon top-up) or open a new one', 'payment_required', 'escrow_empty');
        const keyId = p.key.id;
        const limit = p.key.limit;
        // The tokenizer is the dearest step: first try a bound that needs none (UTF-8 bytes >= BPE
        // tokens); only when that does not fit, count (small prompts at once, large ones in a thread
        // with a deadline). Either way the request is held at no less than its worst case.
        let promptTokens = up.promptBound;
        let exact: number | null = null;
        const fits = (worst: bigint) => {
            const held = this.reservations.get(reserveKey) ?? 0n;
            if (unspent - held < worst) return false;
            if (limit === 0n) return true;
            const s = d.spend.state(keyId);
            return s.spent + s.held + worst <= limit;
        };
        let worst = worstCaseCost(BigInt(promptTokens), BigInt(up.maxTokens), prices);
        if (!fits(worst)) {
            const n = await d.counter.countTexts(up.promptTexts.texts);
            if (n !== null) {
                exact = up.promptTexts.framing + n;
                promptTokens = exact;
                worst = worstCaseCost(BigInt(promptTokens), BigInt(up.maxTokens), prices);
            }
        }
        // (re-read after the count: other requests may have reserved meanwhile)
        const held = this.reservations.get(reserveKey) ?? 0n;
        const available = unspent - held;
        if (available < worst) {
            throw new HttpError(402,
                `the escrow does not cover this request: worst case ${worst} nanoton (${promptTokens} prompt tokens x ${prices.prompt > prices.cached ? prices.prompt : prices.cached} + ${up.maxTokens} max_tokens x ${prices.completion} per 1M), ` +
                `available ${available > 0n ? available : 0n} nanoton${held > 0n ? ` (${held} held by requests in progress)` : ''}; top it up or lower max_tokens`,
                'payment_required', 'insufficient_balance');
        }
        if (limit > 0n) {
            const s = d.spend.state(keyId);
            if (s.spent + s.held + worst > limit) throw Refuse.spendLimit(s.spent, s.held, worst, limit);
            d.spend.reserve(keyId, worst);
        }
        this.reservations.set(reserveKey, held + worst);
        const a: Admission = { principal: p, escrow, epoch: st.epoch, prices, caps: st.caps, reserved: worst, floor, promptTokens: exact };
        // Last, once the request is known to fit: an escrow still holding an older key of this worker
        // (opened before this node's start) is moved to the current key (RefreshWorker, then a
        // carry-over receipt); one whose payUntil for the key is near gets the later one of the
        // renewed lease. A refused request never makes the operator pay for that.
        const now = BigInt(await d.now());
        const leaseNear = (s: EscrowSnapshot) => now + BigInt(d.config.closingMarginSec) >= s.state.payUntil;
        if (st.teeKey !== d.teeKey || leaseNear(snap)) {
            try {
                const after = await d.refresh(snap);
                if (leaseNear(after)) {
                    throw new HttpError(503, `the escrow pays receipts of this worker's key only until ${new Date(Number(after.state.payUntil) * 1000).toISOString()} ` +
                        "(its attestation lease); the node renews it before then: retry later or pick another worker", 'service_unavailable', 'worker_lease_ending', { 'retry-after': '60' });
                }
            } catch (e) {
                this.unreserve(a, 0n);
                throw e;
            }
        }
        return a;
    }

    private unreserve(a: Admission, charged: bigint): void {
        const reserveKey = `${a.escrow.toRawString()}/${a.epoch}`;
        const left = (this.reservations.get(reserveKey) ?? 0n) - a.reserved;
        if (left > 0n) this.reservations.set(reserveKey, left);
        else this.reservations.delete(reserveKey);
        if (a.principal.key.limit > 0n) this.d.spend.settle(a.principal.key.id, a.reserved, charged);
    }

    /** The request is over: its worst case is released; `charged` is what its receipt cost (0n: none). */
    release(a: Admission, charged: bigint): void {
        this.unreserve(a, charged);
        this.admitted--;
        this.d.metrics.inflight.set(this.admitted);
    }
}

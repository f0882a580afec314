// The claim loop: settles issued receipts on-chain with the operator's wallet. An escrow epoch is
// claimed when its unclaimed value reaches the threshold, or as soon as the client starts closing it
// (state CLOSING: only until closeAt can the node still be paid).
import { Address } from '@ton/core';
import type { Logger } from 'pino';
import { Chain, ClientEscrow, Sender } from '../sdk';
import { EscrowView, ESCROW_CLOSING, ESCROW_NONE } from './chainViews';
import { ReceiptLedger, EscrowAccount } from './ledger';
import { WorkerMetrics } from './metrics';
import type { OperatorLane } from './identity';

export interface ClaimOutcome {
    escrow: Address;
    epoch: bigint;
    seq: bigint;
    cost: bigint;
    reason: 'threshold' | 'closing' | 'lease_ending';
    ok: boolean;
    error?: string;
    /** What the chain's send returned (on the sandbox: the transactions). */
    result?: unknown;
}

export interface ClaimLoopOptions {
    chain: Chain;
    sender: Sender;
    ledger: ReceiptLedger;
    escrows: EscrowView;
    threshold: bigint;
    value: bigint;
    intervalMs: number;
    confirmTimeoutMs: number;
    logger: Logger;
    metrics: WorkerMetrics;
    onClaim?: (c: ClaimOutcome) => void;
    /** Serialises the operator wallet's sends with the node's other operations (default: none). */
    lane?: OperatorLane;
}

export class ClaimLoop {
    private timer: NodeJS.Timeout | null = null;
    private running: Promise<ClaimOutcome[]> | null = null;
    private stopped = true;
    private queryId = BigInt(Date.now()) * 1000n;

    constructor(private readonly o: ClaimLoopOptions) {}

    start(): void {
        this.stopped = false;
        this.schedule();
    }

    private schedule() {
        if (this.stopped) return;
        this.timer = setTimeout(() => {
            this.timer = null;
            this.runOnce()
                .catch((e) => this.o.logger.error({ err: (e as Error).message }, 'claim pass failed'))
                .finally(() => this.schedule());
        }, this.o.intervalMs);
        this.timer.unref();
    }

    /** Stops the timer and waits for a pass in progress. */
    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (this.running) await this.running.catch(() => undefined);
    }

    /** One pass over every account with unsettled receipts (passes never overlap). */
    runOnce(): Promise<ClaimOutcome[]> {
        if (this.running) return this.running.then(() => this.runOnce());
        this.running = this.pass().finally(() => {
            this.running = null;
        });
        return this.running;
    }

    private async pass(): Promise<ClaimOutcome[]> {
        const out: ClaimOutcome[] = [];
        for (const acc of this.o.ledger.unsettled()) {
            try {
                const r = await this.consider(acc);
                if (r) out.push(r);
            } catch (e) {
                this.o.metrics.errors.inc({ kind: 'claim_check' });
                this.o.logger.warn({ escrow: acc.escrow.toString(), err: (e as Error).message }, 'could not check escrow for a claim');
            }
        }
        return out;
    }

    private async consider(acc: EscrowAccount): Promise<ClaimOutcome | null> {
        const { ledger, escrows, logger } = this.o;
        const snap = await escrows.get(acc.escrow, { fresh: true });
        const log = { escrow: acc.escrow.toString(), epoch: acc.epoch.toString() };
        if (!snap || snap.state.state === ESCROW_NONE || snap.state.epoch !== acc.epoch) {
            ledger.markDone(acc.escrow, acc.epoch);
            logger.warn({ ...log, seq: acc.seq.toString(), unclaimed: (acc.cost - acc.claimedCost).toString() }, 'escrow epoch ended before its last receipt was claimed');
            return null;
        }
        const st = snap.state;
        if (st.lastSeq > acc.claimedSeq) ledger.markSettled(acc.escrow, acc.epoch, st.lastSeq, st.lastCost);
        if (st.lastSeq >= acc.seq) return null;
        const closing = st.state === ESCROW_CLOSING;
        if (closing && BigInt(await this.o.chain.now()) >= st.closeAt) {
            ledger.markDone(acc.escrow, acc.epoch);
            logger.warn({ ...log, seq: acc.seq.toString() }, 'dispute window over: receipts beyond the last claim can no longer be paid');
            return null;
        }
        // The escrow pays receipts signed by the key it holds: the latest of those (after a restart the
        // node signs with a new key; receipts of the old one stay claimable until the escrow is moved
        // to the new key, whose first receipt carries their totals over).
        const latest = ledger.latestSignedBy(acc.escrow, acc.epoch, st.teeKey);
        if (!latest || latest.seq <= st.lastSeq) return null;
        const unclaimed = latest.cost - st.lastCost;
        // the escrow pays receipts of its key only until payUntil (the key's lease + dispute window):
        // near it, claim whatever is there, as for a closing escrow
        const now = BigInt(await this.o.chain.now());
        if (st.payUntil > 0n && now >= st.payUntil) return null;
        const leaseEnding = st.payUntil > 0n && now + BigInt(Math.max(600, Math.ceil((3 * this.o.intervalMs) / 1000))) >= st.payUntil;
        if (unclaimed <= 0n || !(closing || leaseEnding || unclaimed >= this.o.threshold)) return null;
        const reason = closing ? 'closing' : leaseEnding ? 'lease_ending' : 'threshold';
        const outcome: ClaimOutcome = { escrow: acc.escrow, epoch: acc.epoch, seq: latest.seq, cost: latest.cost, reason, ok: false };
        const send = async () => {
            outcome.result = await this.o.chain.open(ClientEscrow.fromAddress(acc.escrow)).send(this.o.sender, { value: this.o.value }, {
                $$type: 'Claim', queryId: this.queryId++, signature: latest.signature, receipt: latest.receiptCell,
            });
            await this.o.chain.waitUntil(
                async () => ((await escrows.get(acc.escrow, { fresh: true }))?.state.lastSeq ?? 0n) >= latest.seq,
                `Claim of ${acc.escrow.toString()} seq ${latest.seq}`,
                this.o.confirmTimeoutMs,
            );
        };
        try {
            await (this.o.lane ? this.o.lane.run(send) : send());
            ledger.markSettled(acc.escrow, acc.epoch, latest.seq, latest.cost);
            outcome.ok = true;
            this.o.metrics.claims.inc({ result: 'ok' });
            this.o.metrics.claimed.inc(Number(latest.cost - st.lastCost));
            logger.info({ ...log, seq: latest.seq.toString(), cost: latest.cost.toString(), reason }, 'claim settled');
        } catch (e) {
            outcome.error = (e as Error).message;
            this.o.metrics.claims.inc({ result: 'failed' });
            logger.error({ ...log, seq: latest.seq.toString(), err: outcome.error }, 'claim failed');
        }
        this.o.onClaim?.(outcome);
        return outcome;
    }
}

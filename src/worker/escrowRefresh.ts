// Escrows that still hold an older TEE key of this worker (opened before this node's start) are
// moved to the current key when their client comes back: the node sends RefreshWorker from the
// operator's wallet, waits until the escrow shows the new key, and then signs a carry-over receipt of
// no tokens with the new key that continues the escrow epoch's totals (the later of its ledger and
// the chain). What the older key signed and was not claimed stays payable through it, and the older
// key's receipts can no longer be claimed (the escrow checks the key it holds), so the chain's
// settled position is final for them when the new key continues from it.
//
// Only requests that authenticated for the escrow get here (a stranger cannot make the operator pay
// for refreshes); refreshes are deduplicated per escrow and run a few at a time.
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import { Chain, CocoonOps, Sender } from '../sdk';
import type { EscrowSnapshot, EscrowView } from './chainViews';
import { HttpError } from './errors';
import type { OperatorLane } from './identity';
import type { WorkerMetrics } from './metrics';
import type { ReceiptIssuer } from './receipts';
import { chainPosition } from './ledger';

export interface EscrowRefresherOptions {
    chain: Chain;
    sender: Sender;
    root: Address;
    escrows: EscrowView;
    issuer: Pick<ReceiptIssuer, 'known' | 'carryOver' | 'teeKey'>;
    lane: OperatorLane;
    log: Logger;
    metrics: WorkerMetrics;
    /** How long a request waits for its escrow's refresh (ms); the refresh goes on after. */
    waitMs: number;
    /** Refreshes waiting at most (beyond: 503 at once). */
    maxQueued?: number;
}

const busy = (why: string, retrySec: number) =>
    new HttpError(503, `${why}; retry in ${retrySec} s`, 'service_unavailable', 'escrow_refreshing', { 'retry-after': String(retrySec) });

export class EscrowRefresher {
    private readonly running = new Map<string, Promise<EscrowSnapshot>>();
    private readonly ops: CocoonOps;

    constructor(private readonly o: EscrowRefresherOptions) {
        this.ops = new CocoonOps(o.chain, o.sender, o.root);
    }

    /**
     * The escrow after a refresh (RefreshWorker): it then holds this node's key with the payUntil of
     * the key's current lease. Throws HttpError 503 when that cannot be done now.
     */
    async ensure(snap: EscrowSnapshot): Promise<EscrowSnapshot> {
        const k = snap.address.toRawString();
        let p = this.running.get(k);
        if (!p) {
            if (this.running.size >= (this.o.maxQueued ?? 64)) throw busy('this node is moving many escrows to its new key', 10);
            p = this.refresh(snap).finally(() => this.running.delete(k));
            this.running.set(k, p);
        }
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(busy('this node restarted with a new TEE key and is moving your escrow to it (RefreshWorker)', 10)), this.o.waitMs);
        });
        try {
            return await Promise.race([p, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }

    private async refresh(snap: EscrowSnapshot): Promise<EscrowSnapshot> {
        const { log, metrics, issuer } = this.o;
        const escrow = snap.address;
        const ctx = { escrow: escrow.toString(), from: '0x' + snap.state.teeKey.toString(16).padStart(64, '0').slice(0, 16) };
        try {
            await this.o.lane.run(() => this.ops.refreshWorker(escrow));
        } catch (e) {
            metrics.refreshes.inc({ result: 'failed' });
            log.error({ ...ctx, err: (e as Error).message }, 'RefreshWorker failed');
            throw busy(`could not move your escrow to this node's new TEE key (${(e as Error).message})`, 30);
        }
        const after = await this.o.escrows.get(escrow, { fresh: true });
        if (after && snap.state.teeKey === issuer.teeKey && after.state.teeKey === issuer.teeKey) {
            // a renewal of the same key: nothing to carry over
            metrics.refreshes.inc({ result: 'ok' });
            log.info({ escrow: escrow.toString(), payUntil: after.state.payUntil.toString() }, 'escrow refreshed: later payUntil for this key');
            return after;
        }
        if (!after || after.state.teeKey !== issuer.teeKey) {
            metrics.refreshes.inc({ result: 'failed' });
            throw new HttpError(503, "the escrow still holds another key after RefreshWorker (is this node's key the Worker's?); retry later",
                'service_unavailable', 'escrow_key_mismatch', { 'retry-after': '30' });
        }
        metrics.refreshes.inc({ result: 'ok' });
        const st = after.state;
        const chain = chainPosition(st);
        const known = issuer.known(escrow, st.epoch);
        if (known.seq > chain.seq || known.cost > chain.cost) {
            const r = await issuer.carryOver(escrow, st.epoch, st.caps, chain);
            log.info({ ...ctx, seq: r.seq.toString(), tokens: r.tokens.toString(), cost: r.cost.toString() }, 'escrow moved to the new key; carry-over receipt signed');
        } else {
            log.info(ctx, 'escrow moved to the new key');
        }
        return after;
    }
}

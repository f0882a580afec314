// The node's identity on-chain: a TEE key made fresh at every start (in memory, as an enclave makes
// it; never written anywhere), its attestation (TEE key, measurement, TLS key for this operator on
// this root), and the re-registration that puts the new key on the Worker contract.
//
// Why a fresh key per start: receipts are cumulative and numbered, and two different receipts with
// the same (escrow, epoch, seq) signed by one key are a slashing proof. A key's positions must
// therefore never go back. Keeping the key beside its ledger protects against a lost or swapped
// ledger but not against an old copy of the same ledger put back (same key, older positions: nothing
// local tells it from the live file). A key that exists only in the memory of one process cannot
// outlive the positions it signed: after any restart, restore or swap, the node signs with a key
// that has never signed anything, so it cannot contradict itself.
import { randomBytes } from 'node:crypto';
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import {
    Chain, CocoonOps, Ed25519Key, Sender, SignedStatement, Statement, NO_QUOTE, buildStatementCell, keyFromSeed, verifySignedAttestation,
    type WorkerInfo,
} from '../sdk';
import type { AttestationProvider } from './attestation';

/** A new ed25519 key from 32 random bytes; the seed buffer is wiped once the key object holds it. */
export function freshTeeKey(): Ed25519Key {
    const seed = randomBytes(32);
    try {
        return keyFromSeed(seed);
    } finally {
        seed.fill(0);
    }
}

export interface AttestInput {
    chain: Chain;
    provider: AttestationProvider;
    root: Address;
    operator: Address;
    teeKey: bigint;
    tlsKeyHash: bigint;
    measurement: bigint;
    ttlSec: number;
    /** The Worker contract as it is now (its statement in force), if deployed. */
    current: WorkerInfo | null;
}

/**
 * Asks the provider to attest the node's keys and checks what comes back. issuedAt is later than the
 * statement in force (the Worker takes only a newer one), even after a restart within the second.
 */
export async function attestKeys(i: AttestInput): Promise<{ signed: SignedStatement; evidence?: Buffer }> {
    const now = await i.chain.now();
    const issuedAt = Math.max(now, Number(i.current?.issuedAt ?? 0n) + 1);
    const wanted: Statement = {
        root: i.root, operator: i.operator, issuedAt, expiresAt: now + i.ttlSec,
        teeKey: i.teeKey, measurement: i.measurement, tlsKeyHash: i.tlsKeyHash, ...NO_QUOTE,
    };
    const r = await i.provider.attest(wanted);
    const got = r.signed.statement;
    if (!verifySignedAttestation(r.signed)) throw new Error('the attestation provider returned a statement with a bad verifier signature');
    if (!got.root.equals(i.root) || !got.operator.equals(i.operator) || got.teeKey !== i.teeKey || got.tlsKeyHash !== i.tlsKeyHash || got.measurement !== i.measurement) {
        throw new Error('the attestation provider signed a statement for another root, operator, TEE key, TLS key or measurement');
    }
    if (!buildStatementCell(got).hash().equals(r.signed.statementCell.hash())) throw new Error('the attestation statement cell does not match its fields');
    return r;
}

/**
 * One operation at a time from the operator's wallet: a wallet's sends carry a sequence number,
 * so two sends in flight from the same wallet make one of them fail. Claims, refreshes and the
 * re-registration all go through this lane (each send and its confirmation).
 */
export class OperatorLane {
    private tail: Promise<unknown> = Promise.resolve();

    run<T>(fn: () => Promise<T>): Promise<T> {
        const run = this.tail.then(fn, fn);
        this.tail = run.catch(() => undefined);
        return run;
    }
}

export type ReregisterOutcome = 'registered' | 'renewed' | 'not-registered' | 'skipped';

/**
 * Puts the node's new key on its Worker contract: RegisterWorker with stake 0 (a re-attestation)
 * from the operator's wallet. A Worker that does not exist yet is left to the operator (a first
 * registration brings the stake: `npx blueprint run registerWorker … stake=…`).
 */
export async function reregister(o: {
    chain: Chain; sender: Sender; root: Address; attestation: SignedStatement; current: WorkerInfo | null; lane: OperatorLane; log: Logger;
}): Promise<ReregisterOutcome> {
    if (!o.current) {
        o.log.warn('this operator has no Worker contract on this root yet: register it with its stake (registerWorker, attestation from GET /attestation); until then the node answers 503 worker_inactive');
        return 'not-registered';
    }
    const renewal = o.current.teeKey === o.attestation.statement.teeKey;
    if (renewal && BigInt(o.attestation.statement.issuedAt) <= o.current.issuedAt) return 'skipped';
    const ops = new CocoonOps(o.chain, o.sender, o.root);
    let r;
    try {
        r = await o.lane.run(() => ops.registerWorker(o.attestation, 0n));
    } catch (e) {
        const m = (e as Error).message;
        // the Worker keeps at most 16 earlier keys accountable (issue 11); a key per start needs room
        if (/earlier TEE keys of this worker are still accountable/.test(m)) {
            throw new Error(`${m.replace(/, or renew the current key$/, '')}. This node makes a new key at every start: restart it less often, ` +
                'or attest shorter leases (attestationTtlSec) so that earlier keys stop being accountable sooner');
        }
        throw e;
    }
    if (r.teeKey !== o.attestation.statement.teeKey) throw new Error('the re-registration did not take effect: the Worker still holds another TEE key');
    o.log.info({ teeKey: '0x' + r.teeKey.toString(16), active: r.active, expiresAt: r.expiresAt },
        renewal ? 'renewed the lease of this TEE key on the Worker (stake 0)' : 're-registered the Worker with this start\'s TEE key (stake 0)');
    return renewal ? 'renewed' : 'registered';
}

/**
 * Keeps the lease of the node's key: when the Worker's attestation of this key has less than a
 * quarter of its lifetime left, the node attests the same key again and re-registers (stake 0).
 * Escrows then get the later payUntil when they are refreshed (admission does it when a client comes
 * back to an escrow whose payUntil is near).
 */
export class LeaseKeeper {
    private timer: NodeJS.Timeout | null = null;
    private running: Promise<boolean> | null = null;

    constructor(private readonly o: {
        ttlSec: number;
        checkMs: number;
        teeKey: bigint;
        now: () => Promise<number>;
        current: () => Promise<WorkerInfo | null>;
        /** Attests the key again and re-registers; resolves with the new statement. */
        renew: (current: WorkerInfo) => Promise<void>;
        log: Logger;
    }) {}

    start(): void {
        this.schedule();
    }

    private schedule(): void {
        this.timer = setTimeout(() => {
            void this.check().finally(() => this.schedule());
        }, this.o.checkMs);
        this.timer.unref();
    }

    /** Renews now if the lease is in its last quarter; true when it renewed. */
    check(): Promise<boolean> {
        this.running ??= (async () => {
            try {
                const info = await this.o.current();
                if (!info || info.teeKey !== this.o.teeKey) return false;
                const left = Number(info.expiresAt) - (await this.o.now());
                if (left > this.o.ttlSec / 4) return false;
                await this.o.renew(info);
                return true;
            } catch (e) {
                this.o.log.error({ err: (e as Error).message }, 'could not renew the attestation lease of this TEE key; retrying');
                return false;
            }
        })().finally(() => {
            this.running = null;
        });
        return this.running;
    }

    stop(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
    }
}

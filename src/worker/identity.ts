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

export type ReregisterOutcome = 'registered' | 'not-registered' | 'skipped';

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
    if (o.current.teeKey === o.attestation.statement.teeKey) return 'skipped';
    const ops = new CocoonOps(o.chain, o.sender, o.root);
    const r = await o.lane.run(() => ops.registerWorker(o.attestation, 0n));
    o.log.info({ teeKey: '0x' + r.teeKey.toString(16), active: r.active }, 're-registered the Worker with this start\'s TEE key (stake 0)');
    return 'registered';
}

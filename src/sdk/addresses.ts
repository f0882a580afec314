// Addresses of the child contracts, derived exactly as the contracts derive them.
import { Address } from '@ton/core';
import { Worker, ClientEscrow, type WorkerState, type EscrowBook } from './contracts';

export function emptyWorkerState(): WorkerState {
    return {
        $$type: 'WorkerState', status: 0n, stake: 0n, pending: 0n, unbonding: 0n, unbondingSince: 0n,
        prices: 0n, teeKey: 0n, expiresAt: 0n, issuedAt: 0n, keyPayUntil: 0n, rewardStake: 0n, checkpoint: 0n, accrued: 0n,
        params: null, attestation: null, extra: null,
    };
}

export function emptyEscrowState(): EscrowBook {
    return {
        $$type: 'EscrowBook', state: 0n, deposit: 0n, paid: 0n, feesOwed: 0n, lastSeq: 0n, lastTokens: 0n,
        lastCost: 0n, closeAt: 0n, terms: null,
    };
}

// The wrappers below carry no StateInit: a message sent through them to an account that does not
// exist (a withdrawn escrow, a worker never registered) bounces instead of deploying a blank
// contract at the sender's cost. Only opening an escrow deploys it (escrowForOpening); the root
// deploys Workers itself.

/** The operator's Worker under `root` (address only, no StateInit). */
export async function workerFor(root: Address, operator: Address): Promise<Worker> {
    return Worker.fromAddress(await workerAddress(root, operator));
}

/** The client's escrow with `worker` (address only, no StateInit): for every message but OpenEscrow. */
export async function escrowFor(worker: Address, client: Address): Promise<ClientEscrow> {
    return ClientEscrow.fromAddress(await escrowAddress(worker, client));
}

/** The escrow with its StateInit, for the OpenEscrow that deploys it (or reopens it after a withdrawal). */
export async function escrowForOpening(worker: Address, client: Address): Promise<ClientEscrow> {
    return ClientEscrow.fromInit(worker, client, emptyEscrowState());
}

export async function workerAddress(root: Address, operator: Address): Promise<Address> {
    return (await Worker.fromInit(root, operator, emptyWorkerState())).address;
}

export async function escrowAddress(worker: Address, client: Address): Promise<Address> {
    return (await escrowForOpening(worker, client)).address;
}

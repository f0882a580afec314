// Addresses of the child contracts, derived exactly as the contracts derive them.
import { Address } from '@ton/core';
import { Worker, ClientEscrow, type WorkerState, type EscrowBook } from './contracts';

export function emptyWorkerState(): WorkerState {
    return {
        $$type: 'WorkerState', status: 0n, stake: 0n, pending: 0n, unbonding: 0n, unbondingSince: 0n,
        price: 0n, teeKey: 0n, expiresAt: 0n, issuedAt: 0n, rewardStake: 0n, checkpoint: 0n, accrued: 0n,
        params: null, statement: null, extra: null,
    };
}

export function emptyEscrowState(): EscrowBook {
    return {
        $$type: 'EscrowBook', state: 0n, deposit: 0n, paid: 0n, feesOwed: 0n, lastSeq: 0n, lastTokens: 0n,
        lastCost: 0n, closeAt: 0n, terms: null,
    };
}

export async function workerFor(root: Address, operator: Address): Promise<Worker> {
    return Worker.fromInit(root, operator, emptyWorkerState());
}

export async function escrowFor(worker: Address, client: Address): Promise<ClientEscrow> {
    return ClientEscrow.fromInit(worker, client, emptyEscrowState());
}

export async function workerAddress(root: Address, operator: Address): Promise<Address> {
    return (await workerFor(root, operator)).address;
}

export async function escrowAddress(worker: Address, client: Address): Promise<Address> {
    return (await escrowFor(worker, client)).address;
}

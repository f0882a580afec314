// A Worker's reputation as the chain proves it: the Worker's `reputation()` getter (registered since,
// renewals, slashes, and the volume escrows reported at withdrawal, once per epoch — see
// docs/ARCHITECTURE.md, Reputation). One getter call per Worker; null where the Worker predates the
// getter or is not deployed.
import type { Address } from '@ton/core';
import { Worker, type Chain } from '../sdk';

export interface ReputationJson {
    /** unix time the first statement took effect */
    registeredAt: number;
    renewals: number;
    slashes: number;
    /** escrow epochs that reported their settlement at withdrawal */
    settledEscrows: number;
    /** nanoton those escrows paid (operator's share + protocol fee) */
    settledVolume: string;
}

export async function readReputation(chain: Chain, worker: Address): Promise<ReputationJson | null> {
    try {
        const r = await chain.open(Worker.fromAddress(worker)).getReputation();
        return {
            registeredAt: Number(r.registeredAt), renewals: Number(r.renewals), slashes: Number(r.slashes),
            settledEscrows: Number(r.settledEscrows), settledVolume: r.settledVolume.toString(),
        };
    } catch {
        return null;
    }
}

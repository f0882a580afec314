// Sensible default parameters for a new network (the demo and the tests use them).
import { toNano, Dictionary, Address, Cell, beginCell } from '@ton/core';
import { CocoonRoot, storeParams, type Params, type RewardState } from './contracts';
import { govStateCell, DEFAULT_GOVERNANCE_DELAY, validateGovernanceDelay, measurementValue } from './governance';

export function defaultParams(over: Partial<Omit<Params, '$$type'>> = {}): Params {
    return {
        $$type: 'Params',
        minStake: toNano('10'),
        maxPrice: toNano('1'),          // 1 TON per million tokens at most
        unbondingPeriod: 7n * 86400n,
        maxAttestationTtl: 30n * 86400n,
        disputeWindow: 86400n,
        protocolFeeBps: 500n,           // 5% of each claim
        stakerShareBps: 5000n,          // half of the fee to stakers
        slashBps: 5000n,                // half of the bonded stake
        reporterBountyBps: 1000n,       // 10% of the slashed amount to the reporter
        ...over,
    };
}

export function emptyRewardState(): RewardState {
    return { $$type: 'RewardState', totalStake: 0n, acc: 0n, rewardPool: 0n, treasury: 0n };
}

export function paramsCell(p: Params): Cell {
    return beginCell().store(storeParams(p)).endCell();
}

/** What a new root starts with beyond its parameters: all of it is in its StateInit, visible before anyone stakes. */
export interface RootGenesis {
    /** Seconds between Propose and the earliest Execute of a change that adds power (default DEFAULT_GOVERNANCE_DELAY, 1 hour..30 days). */
    governanceDelay?: number;
    /** Measurements whitelisted from the start (measurement hash, model name). */
    measurements?: Iterable<readonly [bigint, string]>;
    /** Verifier keys trusted from the start. */
    verifierKeys?: Iterable<bigint>;
}

/**
 * The root contract for (owner, networkId, params, verifierQuorum, genesis): its address is fixed by
 * these. A new network starts with a quorum of 1 (one verifier signature per statement); governance
 * raises it with SetVerifierQuorum once several verifiers run. Later additions to the whitelists are
 * timelocked (Propose, then Execute after the governance delay), so a network's first measurements
 * and verifier keys are best given here.
 */
export async function rootFor(owner: Address, networkId: number, params: Params, verifierQuorum = 1, genesis: RootGenesis = {}): Promise<CocoonRoot> {
    const delay = validateGovernanceDelay(genesis.governanceDelay ?? DEFAULT_GOVERNANCE_DELAY);
    const measurements = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell());
    for (const [m, model] of genesis.measurements ?? []) measurements.set(m, measurementValue(model));
    const keys = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
    for (const k of genesis.verifierKeys ?? []) keys.set(k, true);
    return CocoonRoot.fromInit(
        govStateCell(delay),
        owner, BigInt(networkId), null, false, paramsCell(params), measurements, keys,
        BigInt(verifierQuorum),
        emptyRewardState(),
    );
}

export type { Cell };

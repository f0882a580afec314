// Sensible default parameters for a new network (the demo and the tests use them).
import { toNano, Dictionary, Address, Cell, beginCell } from '@ton/core';
import { CocoonRoot, storeParams, type Params, type RewardState } from './contracts';

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

/**
 * The root contract for (owner, networkId, params, verifierQuorum): its address is fixed by these.
 * A new network starts with a quorum of 1 (one verifier signature per statement); governance raises
 * it with SetVerifierQuorum once several verifiers run.
 */
export async function rootFor(owner: Address, networkId: number, params: Params, verifierQuorum = 1): Promise<CocoonRoot> {
    return CocoonRoot.fromInit(
        owner, BigInt(networkId), null, false, paramsCell(params),
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell()),
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool()),
        BigInt(verifierQuorum),
        emptyRewardState(),
    );
}

export type { Cell };

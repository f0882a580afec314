// The network's state as one read-only view (the `status` script, the dashboard): every getter of the
// root that describes the network, read once. Operations that change it live in ops.ts.
import { Address } from '@ton/core';
import { CocoonRoot, type Params, type RewardState } from './contracts';
import { type Chain } from './chain';

export interface NetworkStatus {
    root: Address;
    owner: Address;
    pendingOwner: Address | null;
    networkId: bigint;
    paused: boolean;
    params: Params;
    rewards: RewardState;
    /** Data layout version of the root's code (ROOT_VERSION; grows with each upgrade). */
    version: bigint;
    /** Seconds between a proposal and its earliest execution. */
    governanceDelay: bigint;
}

export async function readNetwork(chain: Chain, root: Address): Promise<NetworkStatus> {
    const r = chain.open(CocoonRoot.fromAddress(root));
    return {
        root, owner: await r.getOwner(), pendingOwner: await r.getPendingOwner(), networkId: await r.getNetworkId(),
        paused: await r.getPaused(), params: await r.getParams(), rewards: await r.getRewardState(),
        version: await r.getVersion(), governanceDelay: await r.getGovernanceDelay(),
    };
}

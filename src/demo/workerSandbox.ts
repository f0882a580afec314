// `cocoon-worker --network sandbox`: the worker node against an embedded @ton/sandbox chain in the
// same process, for trying the node (and for the tests that start the CLI as an operator would).
// The chain has a root that whitelists the node's measurement and trusts a development verifier
// key; once the node is up, its operator (a sandbox wallet) registers it with the minimum stake,
// sets its price and endpoint, and a sandbox client wallet opens an escrow whose client key is the
// local one (loadClientKey: ~/.cocoon/client-key or COCOON_CLIENT_KEY_SEED), so `cocoon api-key
// --escrow <escrow>` mints a key this node accepts. Nothing persists but the node's ledger.
import { Address, toNano, type Sender } from '@ton/core';
import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox';
import { randomBytes } from 'node:crypto';
import { CocoonOps, SandboxChain, defaultParams, escrowAddress, keyFromSeed, publicKeyToBigInt, type Ed25519Key, type Params, type PriceSet } from '../sdk';
import type { WorkerNodeHandle } from '../worker';

const senderOf = (t: SandboxContract<TreasuryContract>) => t.getSender() as Sender & { address: Address };

export interface WorkerSandbox {
    bc: Blockchain;
    chain: SandboxChain;
    params: Params;
    root: Address;
    operator: SandboxContract<TreasuryContract>;
    client: SandboxContract<TreasuryContract>;
    verifier: Ed25519Key;
    /** Stops the clock that follows wall time. */
    stop(): void;
}

/**
 * The chain, root and wallets, before the node starts (it needs the root and operator addresses).
 * `model`: the names the measurement is whitelisted for, separated by commas.
 */
export async function prepareWorkerSandbox(o: { model: string; measurement: bigint; verifierSeed?: Buffer; maxPrice?: bigint }): Promise<WorkerSandbox> {
    const bc = await Blockchain.create();
    bc.now = Math.floor(Date.now() / 1000);
    // chain time follows the wall clock (API key expiry, attestation expiry)
    const clock = setInterval(() => {
        bc.now = Math.max(bc.now ?? 0, Math.floor(Date.now() / 1000));
    }, 1000);
    clock.unref();
    const chain = new SandboxChain(bc);
    const owner = await bc.treasury('owner');
    const operator = await bc.treasury('operator');
    const client = await bc.treasury('client');
    const params = defaultParams({ maxPrice: o.maxPrice ?? toNano('1') });
    const verifier = keyFromSeed(o.verifierSeed ?? randomBytes(32));
    // the measurement and verifier key are in the root's genesis (later additions are timelocked)
    const { root } = await new CocoonOps(chain, senderOf(owner)).deployRoot({
        networkId: 1, params, measurements: [[o.measurement, o.model]], verifierKeys: [publicKeyToBigInt(verifier.publicKey)],
    });
    return { bc, chain, params, root, operator, client, verifier, stop: () => clearInterval(clock) };
}

/** Registers the started node (minimum stake), sets its prices and endpoint, opens the client's escrow (caps: those prices). */
export async function finishWorkerSandbox(s: WorkerSandbox, node: WorkerNodeHandle, o: { price: bigint | PriceSet; deposit: bigint; clientKey: bigint }): Promise<{ escrow: Address }> {
    const ops = new CocoonOps(s.chain, senderOf(s.operator), s.root);
    await ops.registerWorker(node.attestation, s.params.minStake);
    await ops.setPrice(o.price);
    await ops.setEndpoint(node.url);
    await new CocoonOps(s.chain, senderOf(s.client), s.root).openEscrow(node.worker, o.deposit, o.price, o.clientKey);
    node.refresh();
    return { escrow: await escrowAddress(node.worker, s.client.address) };
}

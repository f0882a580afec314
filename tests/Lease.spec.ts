// The key's lease (issue 11 on-chain, handled by the node): an escrow pays receipts of its key only
// until payUntil (the attestation's end + the dispute window). The node renews its key's lease while
// it runs, moves an escrow whose payUntil is near to the renewed one when its client comes back,
// claims what is unclaimed before payUntil passes, and refuses to serve what it could not be paid for.
import '@ton/test-utils';
import { toNano } from '@ton/core';
import { tlsKeyHashOfCert, asPrices } from '../src/sdk';
import { DevBackend } from '../src/backend';
import type { WorkerNodeHandle } from '../src/worker';
import { createNet, registerWorker, openEscrow, MODEL, type Net, type WorkerHandle, type EscrowHandle } from './helpers/network';
import { nodeFixture, apiKeyFor, openai, refused, type NodeFixture } from './helpers/node';

const PRICE = toNano('0.5');
const TTL = 8000;
const WINDOW = 1800;

describe('the lease of the node key', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let fx: NodeFixture;
    let node: WorkerNodeHandle;
    let e: EscrowHandle;
    let t0: number;
    const messages = [{ role: 'user' as const, content: 'lease' }];
    const ask = () => openai(node, apiKeyFor(net, e, 'lease-client', { ttlSec: 100_000 }), fx.agent).chat.completions.create({ model: MODEL, messages, max_tokens: 8 });

    beforeAll(async () => {
        net = await createNet({ params: { disputeWindow: BigInt(WINDOW) } });
        fx = await nodeFixture(net);
        w = await registerWorker(net, 'lease-op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
        dev = await DevBackend.start({ tokens: 8, delayMs: 0 });
        t0 = net.chain.now!;
        node = await fx.start(w, dev, { attestationTtlSec: TTL, closingMarginSec: 600, escrowCacheMs: 0, workerCacheMs: 0 });
        e = await openEscrow(net, w, 'lease-client', toNano('1'), PRICE);
    });

    afterAll(async () => {
        await node?.stop();
        await dev?.stop();
        fx?.cleanup();
    });

    it('the escrow pays the key until the lease end + the dispute window', async () => {
        const info = await w.worker.getInfo();
        expect(Number(info.expiresAt)).toBe(t0 + TTL);
        expect(Number((await e.escrow.getState()).payUntil)).toBe(t0 + TTL + WINDOW);
        expect((await ask()).choices).toHaveLength(1);
        // not in its last quarter yet: nothing to renew
        expect(await node.renewLease()).toBe(false);
    });

    it('renews the lease in its last quarter: same key, a later expiry on the Worker', async () => {
        net.chain.now = t0 + TTL - 1500;
        const key = (await w.worker.getInfo()).teeKey;
        expect(await node.renewLease()).toBe(true);
        const info = await w.worker.getInfo();
        expect(info.teeKey).toBe(key);
        expect(Number(info.expiresAt)).toBe(t0 + TTL - 1500 + TTL);
        // /attestation serves the renewed statement
        const att = (await fetchAttestation()).json;
        expect(att.expiresAt).toBe(Number(info.expiresAt));
    });

    it('claims what is unclaimed before the escrow stops paying the key, whatever the threshold', async () => {
        net.chain.now = t0 + TTL + WINDOW - 700;
        const claims = await node.runClaims();
        const mine = claims.filter((c) => c.escrow.equals(e.escrow.address));
        expect(mine).toHaveLength(1);
        expect(mine[0]).toMatchObject({ reason: 'lease_ending', ok: true });
        expect((await e.escrow.getState()).lastSeq).toBe(1n);
    });

    it('moves an escrow whose payUntil is near to the renewed lease when its client comes back, then serves it', async () => {
        net.chain.now = t0 + TTL + WINDOW - 500;
        const before = await e.escrow.getState();
        const r = await ask();
        expect((r as any).cocoon_receipt.seq).toBe('2');
        const after = await e.escrow.getState();
        expect(after.payUntil).toBeGreaterThan(before.payUntil);
        expect(Number(after.payUntil)).toBe(Number((await w.worker.getInfo()).expiresAt) + WINDOW);
    });

    it('serves nothing it could not be paid for: past the renewed lease too, 503', async () => {
        // the node did not renew again (its lease ran out on-chain): the worker is not active
        net.chain.now = Number((await w.worker.getInfo()).expiresAt) + 10;
        node.refresh();
        await refused(ask(), 503, 'worker_inactive');
    });

    async function fetchAttestation() {
        const { raw } = await import('./helpers/node');
        return raw(node, fx.certPem, 'GET', '/attestation');
    }
});

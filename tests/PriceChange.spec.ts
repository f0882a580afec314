// Issue 12 item 3: a price change with receipts outstanding. The node prices new tokens at the new
// price; the client library checks each receipt's increment against the price in force for that
// request (docs/SIGNING.md "Pricing rule"), so it keeps working instead of blaming the worker.
import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { SandboxChain, publicKeyToBigInt, signReceipt, signedReceiptCell, tlsKeyHashOfCert } from '../src/sdk';
import { DevBackend } from '../src/backend';
import { CocoonClient, ReceiptBook, cumulativeCost, expectedRequestCost, sandboxEventSource, verifyWireReceipt, type WireReceipt } from '../src/client';
import type { WorkerNodeHandle } from '../src/worker';
import { createNet, registerWorker, seededKey, clientKeyOf, MODEL, type Net, type WorkerHandle } from './helpers/network';
import { nodeFixture, type NodeFixture } from './helpers/node';

const P1 = toNano('0.5');
const P2 = toNano('0.8');
const P3 = toNano('0.3');

describe('price changes (client library against a real node)', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let fx: NodeFixture;
    let node: WorkerNodeHandle;
    let client: CocoonClient;

    const setPrice = (price: bigint) => w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, price });

    beforeAll(async () => {
        net = await createNet({ params: { maxPrice: toNano('2') } });
        fx = await nodeFixture(net);
        w = await registerWorker(net, 'op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await setPrice(P1);
        dev = await DevBackend.start({ tokens: 20, delayMs: 0 });
        node = await fx.start(w, dev, { workerCacheMs: 0, escrowCacheMs: 0 });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: node.url });
        const wallet = await net.chain.treasury('client');
        client = new CocoonClient({
            chain: new SandboxChain(net.chain), root: net.root.address, wallet: wallet.getSender() as any, events: sandboxEventSource(net.chain, net.root.address),
            clientKey: clientKeyOf('client'),
        });
        await client.escrows.open(w.worker.address, toNano('5'), toNano('1'), publicKeyToBigInt(clientKeyOf('client').publicKey));
    });

    afterAll(async () => {
        client?.close();
        await node?.stop();
        await dev?.stop();
        fx?.cleanup();
    });

    it('keeps verifying after setPrice up and down, each increment at the price in force', async () => {
        const session = await client.session(w.worker.address);
        const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'price me' }], max_tokens: 20 };
        const a = await session.chat(body);
        expect(a.receipt.cost).toBe(cumulativeCost(a.receipt.tokens, P1));
        await setPrice(P2);
        const b = await session.chat(body, { stream: true });
        expect(b.receipt.price).toBe(P2);
        expect(b.receipt.requestCost).toBe(cumulativeCost(b.receipt.tokens, P2) - cumulativeCost(a.receipt.tokens, P2));
        // the cumulative total is no longer tokens x one price: that is what the old check demanded
        expect(b.receipt.cost).not.toBe(cumulativeCost(b.receipt.tokens, P2));
        await setPrice(P3);
        const c = await session.chat(body);
        expect(c.receipt.price).toBe(P3);
        expect(c.receipt.cost).toBe(b.receipt.cost + c.receipt.requestCost);
        expect(c.receipt.seq).toBe(3n);
    });
});

describe('pricing rule (receipt verification)', () => {
    const tee = seededKey('tee:price');
    const teeKey = publicKeyToBigInt(tee.publicKey);
    const escrow = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
    const epoch = 5n;

    /** A receipt as the node signs it: after (t0, c0), n tokens at price p within the cap. */
    function next(seq: bigint, t0: bigint, c0: bigint, n: bigint, p: bigint, cap = toNano('1')): WireReceipt {
        const inc = expectedRequestCost(t0, c0, n, p, cap);
        const s = signReceipt({ escrow, epoch, seq, tokens: t0 + n, cost: c0 + inc }, tee);
        return {
            escrow: escrow.toString(), epoch: epoch.toString(), seq: seq.toString(), tokens: (t0 + n).toString(), cost: (c0 + inc).toString(),
            requestTokens: n.toString(), requestCost: inc.toString(), signature: s.signature.toString('hex'), boc: signedReceiptCell(s).toBoc().toString('base64'),
        };
    }
    const ctx = (n: bigint, price: bigint, prices: bigint[] = []) => ({ escrow, epoch, teeKey, price, prices, maxPrice: toNano('1'), usageTokens: n });

    it('accepts increments at the price read before the request, after it, or the one before the previous request; nothing else', () => {
        const book = new ReceiptBook();
        const r1 = book.accept(next(1n, 0n, 0n, 1001n, P1), ctx(1001n, P1));
        // the price went up before request 2
        const r2 = book.accept(next(2n, r1.tokens, r1.cost, 999n, P2), ctx(999n, P2));
        expect(r2.price).toBe(P2);
        // the node's cached price may lag one change: request 3 read P3, the node still charged P2
        const r3 = book.accept(next(3n, r2.tokens, r2.cost, 500n, P2), ctx(500n, P3, [P2]));
        expect(r3.price).toBe(P2);
        // a price that was never in force for this request is a mismatch
        expect(() => book.accept(next(4n, r3.tokens, r3.cost, 500n, P1), ctx(500n, P3, [P3]))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // the cap: the cumulative cost stays within tokens x maxPrice (a price above the cap bills the cap)
        const capped = next(4n, r3.tokens, r3.cost, 500n, toNano('1.5'));
        expect(book.accept(capped, { ...ctx(500n, toNano('1.5')) }).cost).toBeLessThanOrEqual(cumulativeCost(r3.tokens + 500n, toNano('1')));
    });

    it('rejects an increment computed on other totals than the receipt says', () => {
        const good = next(1n, 0n, 0n, 1000n, P1);
        const w2 = next(2n, 1000n, BigInt(good.cost), 1000n, P2);
        // claims one more nanoton than the increment
        const s = signReceipt({ escrow, epoch, seq: 2n, tokens: 2000n, cost: BigInt(w2.cost) + 1n }, tee);
        const forged = { ...w2, cost: (BigInt(w2.cost) + 1n).toString(), requestCost: (BigInt(w2.requestCost) + 1n).toString(), signature: s.signature.toString('hex'), boc: signedReceiptCell(s).toBoc().toString('base64') };
        expect(() => verifyWireReceipt(forged, ctx(1000n, P2))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
    });
});

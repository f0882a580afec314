// Issue 12 item 3: a price change with receipts outstanding. The node prices new tokens at the new
// prices; the client library checks each receipt's increment against the prices in force for that
// request, class by class (docs/SIGNING.md "Pricing rule"), so it keeps working instead of blaming
// the worker.
import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { SandboxChain, publicKeyToBigInt, signReceipt, signedReceiptCell, tlsKeyHashOfCert, asPrices, type ClassTokens, type PriceSet } from '../src/sdk';
import { DevBackend } from '../src/backend';
import { CocoonClient, ReceiptBook, cumulativeCost, expectedRequestCost, sandboxEventSource, verifyWireReceipt, type WireReceipt } from '../src/client';
import type { WorkerNodeHandle } from '../src/worker';
import { createNet, registerWorker, seededKey, clientKeyOf, MODEL, type Net, type WorkerHandle } from './helpers/network';
import { nodeFixture, type NodeFixture } from './helpers/node';

// per class: prompt, cached, completion (completion dearest)
const P1: PriceSet = { prompt: toNano('0.5'), cached: toNano('0.1'), completion: toNano('0.9') };
const P2: PriceSet = { prompt: toNano('0.8'), cached: toNano('0.2'), completion: toNano('0.95') };
const P3: PriceSet = { prompt: toNano('0.3'), cached: toNano('0.05'), completion: toNano('0.6') };
const CAPS: PriceSet = asPrices(toNano('1'));
const C = (promptTokens: bigint, cachedTokens: bigint, completionTokens: bigint): ClassTokens => ({ promptTokens, cachedTokens, completionTokens });
const add = (a: ClassTokens, b: ClassTokens) => C(a.promptTokens + b.promptTokens, a.cachedTokens + b.cachedTokens, a.completionTokens + b.completionTokens);
const classesOf = (r: ClassTokens) => C(r.promptTokens, r.cachedTokens, r.completionTokens);

describe('price changes (client library against a real node)', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let fx: NodeFixture;
    let node: WorkerNodeHandle;
    let client: CocoonClient;

    const setPrice = (price: PriceSet) => w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(price) });

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
        expect(a.receipt.cost).toBe(cumulativeCost(a.receipt, P1));
        expect(a.receipt.completionTokens).toBe(20n);
        await setPrice(P2);
        const b = await session.chat(body, { stream: true });
        expect(b.receipt.prices).toEqual(P2);
        expect(b.receipt.requestCost).toBe(cumulativeCost(b.receipt, P2) - cumulativeCost(a.receipt, P2));
        // the cumulative total is no longer tokens x one price set: that is what the old check demanded
        expect(b.receipt.cost).not.toBe(cumulativeCost(b.receipt, P2));
        await setPrice(P3);
        const c = await session.chat(body);
        expect(c.receipt.prices).toEqual(P3);
        expect(c.receipt.cost).toBe(b.receipt.cost + c.receipt.requestCost);
        expect(c.receipt.seq).toBe(3n);
    });
});

describe('pricing rule (receipt verification)', () => {
    const tee = seededKey('tee:price');
    const teeKey = publicKeyToBigInt(tee.publicKey);
    const escrow = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
    const epoch = 5n;

    /** A receipt as the node signs it: after (t0, c0), n tokens at prices p within the caps. */
    function next(seq: bigint, t0: ClassTokens, c0: bigint, n: ClassTokens, p: PriceSet, caps = CAPS): WireReceipt {
        const inc = expectedRequestCost(t0, c0, n, p, caps);
        const t1 = add(t0, n);
        const s = signReceipt({ escrow, epoch, seq, ...t1, cost: c0 + inc }, tee);
        const sum = (t: ClassTokens) => (t.promptTokens + t.cachedTokens + t.completionTokens).toString();
        return {
            escrow: escrow.toString(), epoch: epoch.toString(), seq: seq.toString(),
            promptTokens: t1.promptTokens.toString(), cachedTokens: t1.cachedTokens.toString(), completionTokens: t1.completionTokens.toString(), tokens: sum(t1),
            cost: (c0 + inc).toString(),
            requestPromptTokens: n.promptTokens.toString(), requestCachedTokens: n.cachedTokens.toString(), requestCompletionTokens: n.completionTokens.toString(),
            requestTokens: sum(n), requestCost: inc.toString(), signature: s.signature.toString('hex'), boc: signedReceiptCell(s).toBoc().toString('base64'),
        };
    }
    const ctx = (n: ClassTokens, prices: PriceSet, otherPrices: PriceSet[] = []) => ({ escrow, epoch, teeKey, prices, otherPrices, caps: CAPS, usage: n });
    const N1 = C(700n, 201n, 100n), N2 = C(500n, 0n, 499n), N3 = C(0n, 250n, 250n);

    it('accepts increments at the price read before the request, after it, or the one before the previous request; nothing else', () => {
        const book = new ReceiptBook();
        const r1 = book.accept(next(1n, C(0n, 0n, 0n), 0n, N1, P1), ctx(N1, P1));
        // the prices went up before request 2
        const r2 = book.accept(next(2n, classesOf(r1), r1.cost, N2, P2), ctx(N2, P2));
        expect(r2.prices).toEqual(P2);
        // the node's cached prices may lag one change: request 3 read P3, the node still charged P2
        const r3 = book.accept(next(3n, classesOf(r2), r2.cost, N3, P2), ctx(N3, P3, [P2]));
        expect(r3.prices).toEqual(P2);
        // prices never in force for this request are a mismatch
        expect(() => book.accept(next(4n, classesOf(r3), r3.cost, N3, P1), ctx(N3, P3, [P3]))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // one class at another price is enough to refuse it
        expect(() => book.accept(next(4n, classesOf(r3), r3.cost, N3, { ...P3, cached: P2.cached }), ctx(N3, P3))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // the caps: the cumulative cost stays within sum(tokens x cap) (prices above the caps bill the caps)
        const over = { prompt: toNano('1.5'), cached: toNano('1.5'), completion: toNano('1.5') };
        const capped = next(4n, classesOf(r3), r3.cost, N3, over);
        expect(book.accept(capped, ctx(N3, over)).cost).toBeLessThanOrEqual(cumulativeCost(add(classesOf(r3), N3), CAPS));
    });

    it('rejects an increment computed on other totals than the receipt says', () => {
        const n = C(600n, 100n, 300n);
        const good = next(1n, C(0n, 0n, 0n), 0n, n, P1);
        const w2 = next(2n, n, BigInt(good.cost), n, P2);
        // claims one more nanoton than the increment
        const s = signReceipt({ escrow, epoch, seq: 2n, ...add(n, n), cost: BigInt(w2.cost) + 1n }, tee);
        const forged = { ...w2, cost: (BigInt(w2.cost) + 1n).toString(), requestCost: (BigInt(w2.requestCost) + 1n).toString(), signature: s.signature.toString('hex'), boc: signedReceiptCell(s).toBoc().toString('base64') };
        expect(() => verifyWireReceipt(forged, ctx(n, P2))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
    });
});

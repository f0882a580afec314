// Several models per node, several upstreams per model, and the routes beyond chat (issue 16): one
// node serves a chat model from two upstreams and an embedding model from a third; /v1/completions
// and /v1/embeddings answer with receipts priced per token class like chat; cached prompt tokens
// (the development backend's prompt cache) are billed at the cached price; the receipts verify in
// the client library, and the node's claim pays the escrow's latest cost to the nanoton.
import '@ton/test-utils';
import { Cell, toNano } from '@ton/core';
import {
    SandboxChain, asPrices, bigIntToPublicKey, cumulativeCost, parseSignedReceiptCell, publicKeyToBigInt, tlsKeyHashOfCert, verifyReceipt, type PriceSet,
} from '../src/sdk';
import { DevBackend, UpstreamPool, countPromptTokens, countTextTokens, devAnswerTokens, devEmbedding, usageOf, BackendError, UpstreamUnreachable, type InferenceBackend, type ChatRequest } from '../src/backend';
import { usageClasses, usageJson, type WorkerNodeHandle } from '../src/worker';
import { CocoonClient, sandboxEventSource } from '../src/client';
import { createNet, registerWorker, openEscrow, clientKeyOf, governed, MODEL, MEASUREMENT, type Net, type WorkerHandle, type EscrowHandle } from './helpers/network';
import { nodeFixture, apiKeyFor, openai, raw, refused, sleep, type NodeFixture } from './helpers/node';

const EMBEDDER = 'bge-small-en';
const PRICES: PriceSet = { prompt: toNano('0.2'), cached: toNano('0.05'), completion: toNano('0.6') };
const SYSTEM = 'You answer in one short sentence, plainly, about confidential computing on TON.';

describe('a node with two models, several upstreams, and the completions and embeddings routes', () => {
    let net: Net;
    let w: WorkerHandle;
    let fx: NodeFixture;
    let chatA: DevBackend;
    let chatB: DevBackend;
    let embed: DevBackend;
    let node: WorkerNodeHandle;
    let e: EscrowHandle;
    const ai = () => openai(node, apiKeyFor(net, e, 'client'), fx.agent);
    const receiptOf = (boc: string) => parseSignedReceiptCell(Cell.fromBoc(Buffer.from(boc, 'base64'))[0]);

    beforeAll(async () => {
        net = await createNet({ params: { maxPrice: toNano('1') } });
        // one image whitelisted for both models (a governed change: proposed, then executed after the delay)
        await governed(net, { kind: 'addMeasurement', measurement: MEASUREMENT, model: `${MODEL},${EMBEDDER}` });
        fx = await nodeFixture(net);
        w = await registerWorker(net, 'op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICES) });
        chatA = await DevBackend.start({ tokens: 12, delayMs: 2, promptCache: true });
        chatB = await DevBackend.start({ tokens: 12, delayMs: 2, promptCache: true });
        embed = await DevBackend.start({ model: 'dev-bge', embeddingDimensions: 16 });
        node = await fx.start(w, chatA, {
            model: undefined, backend: undefined, escrowCacheMs: 0, workerCacheMs: 0, claim: { threshold: 1n, intervalMs: 3_600_000, value: toNano('0.05') },
            models: [
                { name: MODEL, upstreams: [{ url: chatA.url, model: 'dev-model' }, { url: chatB.url, model: 'dev-model' }] },
                { name: EMBEDDER, upstreams: [{ url: embed.url, model: 'dev-bge' }], capabilities: ['embeddings'] },
            ],
            upstreamHealth: { intervalMs: 0, timeoutMs: 1000, cooldownMs: 60_000 },
        });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: node.url });
        e = await openEscrow(net, w, 'client', toNano('10'), PRICES);
        expect((await e.escrow.getState()).state).toBe(2n);
    });

    afterAll(async () => {
        await node?.stop();
        for (const b of [chatA, chatB, embed]) await b?.stop();
        fx?.cleanup();
    });

    it('lists both models with what each is served for', async () => {
        const r = await raw(node, fx.certPem, 'GET', '/v1/models');
        expect(r.json.data.map((m: any) => [m.id, m.capabilities])).toEqual([[MODEL, ['chat', 'completions']], [EMBEDDER, ['embeddings']]]);
        const att = await raw(node, fx.certPem, 'GET', '/attestation');
        expect(att.json.models).toEqual([{ id: MODEL, capabilities: ['chat', 'completions'] }, { id: EMBEDDER, capabilities: ['embeddings'] }]);
    });

    it('bills a repeated system prompt as cached tokens, each class at its own price', async () => {
        const messages = [{ role: 'system' as const, content: SYSTEM }, { role: 'user' as const, content: 'First question?' }];
        const first = await ai().chat.completions.create({ model: MODEL, messages, max_tokens: 12 });
        const again = [messages[0], { role: 'user' as const, content: 'Second question?' }];
        // the first went to one upstream; the next goes to the other (least loaded, in turn), which has not
        // seen the system prompt yet: ask twice so the one that has answers
        await ai().chat.completions.create({ model: MODEL, messages: again, max_tokens: 12 });
        const second = await ai().chat.completions.create({ model: MODEL, messages: again, max_tokens: 12 });
        expect(first.usage!.prompt_tokens_details).toEqual({ cached_tokens: 0 });
        const cached = countPromptTokens([messages[0]]) - 3; // the system message without the reply framing
        expect(second.usage!.prompt_tokens_details).toEqual({ cached_tokens: cached });
        const rc = (second as any).cocoon_receipt;
        expect([rc.requestPromptTokens, rc.requestCachedTokens, rc.requestCompletionTokens]).toEqual([
            String(second.usage!.prompt_tokens - cached), String(cached), String(second.usage!.completion_tokens),
        ]);
        expect(rc.prices).toEqual({ prompt: PRICES.prompt.toString(), cached: PRICES.cached.toString(), completion: PRICES.completion.toString() });
        const s = receiptOf(rc.boc);
        expect(verifyReceipt(s, bigIntToPublicKey(node.teeKey))).toBe(true);
        // the increment per class: each class's cumulative total rounded down on its own
        const before = { promptTokens: s.receipt.promptTokens - BigInt(rc.requestPromptTokens), cachedTokens: s.receipt.cachedTokens - BigInt(rc.requestCachedTokens), completionTokens: s.receipt.completionTokens - BigInt(rc.requestCompletionTokens) };
        expect(BigInt(rc.requestCost)).toBe(cumulativeCost(s.receipt, PRICES) - cumulativeCost(before, PRICES));
        // cheaper than the same tokens uncached
        expect(BigInt(rc.requestCost)).toBeLessThan((BigInt(second.usage!.prompt_tokens) * PRICES.prompt + BigInt(second.usage!.completion_tokens) * PRICES.completion) / 1_000_000n);
        expect(chatA.requests).toBeGreaterThan(0);
        expect(chatB.requests).toBeGreaterThan(0);
    });

    it('spreads concurrent requests over both upstreams of a model (least loaded first)', async () => {
        const [a0, b0] = [chatA.requests, chatB.requests];
        await Promise.all([1, 2, 3, 4, 5, 6].map((i) => ai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `spread ${i}` }], max_tokens: 12 })));
        expect(chatA.requests - a0).toBe(3);
        expect(chatB.requests - b0).toBe(3);
    });

    it('answers /v1/completions, whole and streamed, with receipts priced like chat', async () => {
        const prompt = 'Complete this sentence about escrows:';
        const whole = await ai().completions.create({ model: MODEL, prompt, max_tokens: 8 });
        expect(whole.object).toBe('text_completion');
        expect(whole.choices[0].text).toBe(devAnswerTokens([{ role: 'user', content: prompt }], 8).join(''));
        expect(whole.choices[0].finish_reason).toBe('length');
        const n = countTextTokens(prompt);
        expect([whole.usage!.prompt_tokens, whole.usage!.completion_tokens]).toEqual([n, 8]);
        const rc = (whole as any).cocoon_receipt;
        expect([rc.requestPromptTokens, rc.requestCompletionTokens, rc.requestTokens]).toEqual([String(n - Number(rc.requestCachedTokens)), '8', String(n + 8)]);
        expect(verifyReceipt(receiptOf(rc.boc), bigIntToPublicKey(node.teeKey))).toBe(true);

        const stream = await ai().completions.create({ model: MODEL, prompt: 'Another prompt', max_tokens: 5, stream: true, stream_options: { include_usage: true } });
        const pieces: string[] = [];
        let last: any = null;
        for await (const c of stream) {
            if (c.choices[0]?.text) pieces.push(c.choices[0].text);
            last = c;
        }
        expect(pieces).toEqual(devAnswerTokens([{ role: 'user', content: 'Another prompt' }], 5));
        expect(last.choices).toEqual([]);
        expect(last.usage.completion_tokens).toBe(5);
        expect(BigInt(last.cocoon_receipt.seq)).toBe(BigInt(rc.seq) + 1n);
    });

    it('answers /v1/embeddings with the upstream\'s vectors, billed as prompt tokens only', async () => {
        const input = ['attested inference', 'escrow on TON'];
        const r = await ai().embeddings.create({ model: EMBEDDER, input });
        expect(r.data.map((d) => d.index)).toEqual([0, 1]);
        for (let i = 0; i < 2; i++) {
            const got = r.data[i].embedding as number[];
            devEmbedding(input[i], 16).forEach((x, k) => expect(got[k]).toBeCloseTo(x, 6));
        }
        const n = countTextTokens(input[0]) + countTextTokens(input[1]);
        expect(r.usage).toEqual({ prompt_tokens: n, total_tokens: n });
        const rc = (r as any).cocoon_receipt;
        expect([rc.requestPromptTokens, rc.requestCachedTokens, rc.requestCompletionTokens]).toEqual([String(n), '0', '0']);
        const s = receiptOf(rc.boc);
        expect(BigInt(rc.requestCost)).toBe((s.receipt.promptTokens * PRICES.prompt) / 1_000_000n - ((s.receipt.promptTokens - BigInt(n)) * PRICES.prompt) / 1_000_000n);
        expect(embed.requests).toBe(1);
    });

    it('refuses a route a model is not served on, and a model it does not serve, billing nothing', async () => {
        const st = await e.escrow.getState();
        const before = node.ledger.position(e.escrow.address, st.epoch);
        const e1 = await refused(ai().embeddings.create({ model: MODEL, input: 'x' }), 400, 'unsupported_endpoint');
        expect(e1.message).toContain('/v1/chat/completions, /v1/completions');
        await refused(ai().chat.completions.create({ model: EMBEDDER, messages: [{ role: 'user', content: 'hi' }] }), 400, 'unsupported_endpoint');
        await refused(ai().completions.create({ model: 'gpt-17', prompt: 'x' }), 404, 'model_not_found');
        await refused(ai().completions.create({ model: MODEL, prompt: 'x', echo: true } as any), 400, 'unsupported_parameter');
        await refused(ai().embeddings.create({ model: EMBEDDER, input: [] as string[] }), 400, 'invalid_body');
        expect(node.ledger.position(e.escrow.address, st.epoch)).toEqual(before);
    });

    it('the client library verifies chat, completion and embedding receipts; the claim pays the latest cost to the nanoton', async () => {
        const wallet = await net.chain.treasury('client');
        const client = new CocoonClient({
            chain: new SandboxChain(net.chain), root: net.root.address, wallet: wallet.getSender() as any,
            events: sandboxEventSource(net.chain, net.root.address), clientKey: clientKeyOf('client'), requestTimeoutMs: 10_000,
        });
        try {
            const [listing] = (await client.listWorkers({ model: EMBEDDER })).workers;
            expect(listing.models).toEqual([MODEL, EMBEDDER]);
            expect(listing.prices).toEqual(PRICES);
            const session = await client.session(listing);
            const c = await session.chat({ model: MODEL, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'via the client' }], max_tokens: 12 });
            const t = await session.complete({ model: MODEL, prompt: 'via the client', max_tokens: 6 }, { stream: true });
            const m = await session.embed({ model: EMBEDDER, input: 'via the client' });
            expect(m.embeddings).toHaveLength(1);
            expect(m.receipt.request).toEqual({ promptTokens: BigInt(countTextTokens('via the client')), cachedTokens: 0n, completionTokens: 0n });
            expect([c.receipt.seq + 1n, t.receipt.seq + 1n]).toEqual([t.receipt.seq, m.receipt.seq]);
            const latest = client.receipts.latest(e.escrow.address)!;
            expect(latest.seq).toBe(m.receipt.seq);

            const claims = await node.runClaims();
            expect(claims.filter((x) => x.escrow.equals(e.escrow.address)).map((x) => x.ok)).toEqual([true]);
            const st = await e.escrow.getState();
            expect([st.lastSeq, st.paid, st.lastTokens]).toEqual([latest.seq, latest.cost, latest.tokens]);
            // a single price set for the whole epoch: what was paid is each class's total at its price
            expect(st.paid).toBe(cumulativeCost(latest, PRICES));
            expect(latest.cachedTokens).toBeGreaterThan(0n);
        } finally {
            client.close();
        }
    });

    it('keeps serving a model when one of its upstreams goes down; /healthz shows which', async () => {
        await chatB.stop();
        const a0 = chatA.requests;
        // whole and streamed: a call that found its upstream unreachable went on to the other one
        const asks = await Promise.all([1, 2, 3, 4].map((i) => ai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `after ${i}` }], max_tokens: 4, stream: i % 2 === 0 })));
        expect(asks).toHaveLength(4);
        expect(chatA.requests - a0).toBe(4);
        const again = await ai().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'after all' }], max_tokens: 4 });
        expect((again as any).cocoon_receipt).toBeDefined();
        const h = await raw(node, fx.certPem, 'GET', '/healthz');
        const ups = h.json.upstreams[MODEL];
        expect(ups.map((u: any) => u.healthy)).toEqual([true, false]);
        expect(ups[1].why).toMatch(/unreachable|ECONNREFUSED/);
        expect(h.json.upstreams[EMBEDDER].map((u: any) => u.healthy)).toEqual([true]);
    });

    it('refuses to start with a model the root does not list for its image', async () => {
        const w2 = await registerWorker(net, 'op-unlisted', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await expect(fx.start(w2, chatA, { model: 'not-listed', backend: { url: chatA.url } }))
            .rejects.toThrow(/the root does not list not-listed for this node's measurement .*it lists: llama-3-8b-instruct, bge-small-en/);
    });
});

describe('usage classes from what an engine reports', () => {
    it('cached tokens are among the prompt tokens, reasoning tokens among the completion tokens', () => {
        const u = usageOf({ prompt_tokens: 100, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 64 }, completion_tokens_details: { reasoning_tokens: 250 } })!;
        expect(u).toEqual({ promptTokens: 100, cachedTokens: 64, completionTokens: 300, reasoningTokens: 250 });
        // billed: 36 uncached, 64 cached, 300 completion (the reasoning inside it)
        expect(usageClasses(u)).toEqual({ promptTokens: 36n, cachedTokens: 64n, completionTokens: 300n });
        expect(usageJson(u)).toEqual({
            prompt_tokens: 100, completion_tokens: 300, total_tokens: 400, prompt_tokens_details: { cached_tokens: 64 }, completion_tokens_details: { reasoning_tokens: 250 },
        });
        // details that do not fit their totals are ignored; a missing total is no usage at all (the node counts)
        expect(usageOf({ prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 11 } })).toEqual({ promptTokens: 10, completionTokens: 1 });
        expect(usageOf({ prompt_tokens: 10 })).toBeNull();
        expect(usageOf({ prompt_tokens: 10 }, false)).toEqual({ promptTokens: 10, completionTokens: 0 });
        expect(usageOf({ prompt_tokens: -1, completion_tokens: 1 })).toBeNull();
    });
});

describe('upstream pool', () => {
    /** A backend whose calls wait until released, and that can be made to fail. */
    function fake(name: string) {
        const waiting: (() => void)[] = [];
        const b = {
            name, calls: 0, down: false, healthy: true,
            release: () => waiting.splice(0).forEach((f) => f()),
            async complete(_req: ChatRequest) {
                b.calls++;
                if (b.down) throw new BackendError(`inference backend unreachable (${name}): ECONNREFUSED`);
                await new Promise<void>((r) => waiting.push(r));
                return { content: name, finishReason: 'stop', usage: { promptTokens: 1, completionTokens: 1 }, usageReported: true };
            },
            async *stream() { /* not used */ },
            async health() {
                return b.healthy ? null : 'down';
            },
        };
        return b;
    }
    const req: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }], maxTokens: 1 };

    it('sends each call to the upstream with the fewest in flight, in turn on ties', async () => {
        const [a, b, c] = [fake('a'), fake('b'), fake('c')];
        const pool = new UpstreamPool([a, b, c].map((backend) => ({ backend: backend as unknown as InferenceBackend })));
        const calls = [1, 2, 3, 4, 5].map(() => pool.complete(req));
        await sleep(5);
        expect([a.calls, b.calls, c.calls]).toEqual([2, 2, 1]);
        expect(pool.status().map((s) => s.inflight)).toEqual([2, 2, 1]);
        [a, b, c].forEach((x) => x.release());
        expect((await Promise.all(calls)).map((r) => r.content)).toEqual(['a', 'b', 'c', 'a', 'b']);
        expect(pool.status().map((s) => s.inflight)).toEqual([0, 0, 0]);
    });

    it('leaves out an upstream whose call failed until a probe succeeds; with none healthy it still tries one', async () => {
        let now = 1_000;
        const [a, b] = [fake('a'), fake('b')];
        const changes: string[] = [];
        const pool = new UpstreamPool([a, b].map((backend) => ({ backend: backend as unknown as InferenceBackend, model: 'engine-name' })), {
            cooldownMs: 5_000, clock: () => now, onChange: (n, healthy) => changes.push(`${n} ${healthy ? 'up' : 'down'}`),
        });
        a.down = true;
        await expect(pool.complete(req)).rejects.toThrow(/unreachable/);
        expect(pool.status().map((s) => s.healthy)).toEqual([false, true]);
        const p = pool.complete(req);
        await sleep(1);
        b.release();
        expect((await p).content).toBe('b');
        expect(a.calls).toBe(1);
        // the probe finds it answering again
        a.down = false;
        expect(await pool.probe()).toBe(2);
        expect(pool.status().map((s) => s.healthy)).toEqual([true, true]);
        // both down: the one left out longest is still tried
        a.down = true;
        b.down = true;
        await expect(pool.complete(req)).rejects.toThrow();
        now += 1;
        await expect(pool.complete(req)).rejects.toThrow();
        const tries = a.calls + b.calls;
        await expect(pool.complete(req)).rejects.toThrow();
        expect(a.calls + b.calls).toBe(tries + 1);
        // after the cooldown it is healthy again by itself
        now += 6_000;
        expect(pool.status().every((s) => s.healthy)).toBe(true);
        expect(changes).toEqual(['a down', 'a up', 'a down', 'b down']);
        pool.close();
    });

    it('a call whose upstream cannot be reached goes to the next healthy one; a refusal does not', async () => {
        const [a, b] = [fake('a'), fake('b')];
        const unreachable = { ...a, complete: async () => { a.calls++; throw new UpstreamUnreachable('inference backend unreachable (a): ECONNREFUSED'); } };
        const pool = new UpstreamPool([{ backend: unreachable as unknown as InferenceBackend }, { backend: b as unknown as InferenceBackend }]);
        const p = pool.complete(req);
        await sleep(1);
        b.release();
        expect((await p).content).toBe('b');
        expect([a.calls, b.calls]).toEqual([1, 1]);
        expect(pool.status().map((s) => s.healthy)).toEqual([false, true]);
        // every upstream tried once at most: with b unreachable too, the call fails with that
        b.down = true;
        const onlyB = new UpstreamPool([{ backend: { ...b, complete: async () => { b.calls++; throw new UpstreamUnreachable('b gone'); } } as unknown as InferenceBackend }]);
        await expect(onlyB.complete(req)).rejects.toThrow('b gone');
    });

    it('a refusal by the upstream (4xx) does not count against its health', async () => {
        const a = fake('a');
        const pool = new UpstreamPool([{ backend: { ...a, complete: async () => { throw new BackendError('bad request', 400); } } as unknown as InferenceBackend }]);
        await expect(pool.complete(req)).rejects.toThrow('bad request');
        expect(pool.status()[0].healthy).toBe(true);
    });
});

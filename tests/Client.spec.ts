import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import https from 'node:https';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { fastSelfSignedCert } from '../src/demo/certs';
import { SandboxChain, ClientEscrow, signReceipt, signStatement, signedReceiptCell, publicKeyToBigInt, escrowAddress, parseApiKey, verifyApiKey, type Ed25519Key, asPrices, type ClassTokens, type PriceSet } from '../src/sdk';
import { tlsKeyHashOfCert } from '../src/sdk/tls';
import {
    CocoonClient, PinnedAgent, ReceiptBook, pinnedRequest, verifyWireReceipt, sandboxEventSource, cumulativeCost as classCost, usageClassesOf,
    isClientError, type WireReceipt,
} from '../src/client';
import { createNet, registerWorker, seededKey, governed, clientKeyOf, openEscrow, signedReceiptFor, claimBody, makeStatement, REGISTER_GAS, MODEL, type Net } from './helpers/network';
import { equivocatingPair, slashProofBody } from './helpers/money';

// ---------------------------------------------------------------- helpers

interface Cert { certPem: string; keyPem: string; hash: bigint }

/** A self-signed certificate (the demo's fast generator) and its attested hash. */
function makeCert(): Cert {
    const c = fastSelfSignedCert('test-worker');
    return { ...c, hash: tlsKeyHashOfCert(c.certPem) };
}

/** A TLS server that records every application byte it receives and answers any request with 200 {}. */
async function recordingTlsServer(cert: Cert) {
    const seen = { connections: 0, handshakes: 0, bytes: 0, text: '' };
    const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem }, (sock) => {
        seen.handshakes++;
        sock.on('data', (d: Buffer) => {
            seen.bytes += d.length;
            seen.text += d.toString('latin1');
            if (seen.text.includes('\r\n\r\n')) sock.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}');
        });
        sock.on('error', () => undefined);
    });
    server.on('connection', () => seen.connections++);
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return { seen, url, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

const PRICE = toNano('0.5'); // nanoton per 1M tokens, every class
const PRICES = asPrices(PRICE);

/** Tokens of a test: one number is that many completion tokens; or the three classes. */
type Tok = bigint | ClassTokens;
const T = (n: Tok): ClassTokens => (typeof n === 'bigint' ? { promptTokens: 0n, cachedTokens: 0n, completionTokens: n } : n);
const plus = (a: Tok, b: Tok): ClassTokens => {
    const x = T(a), y = T(b);
    return { promptTokens: x.promptTokens + y.promptTokens, cachedTokens: x.cachedTokens + y.cachedTokens, completionTokens: x.completionTokens + y.completionTokens };
};
const cumulativeCost = (n: Tok, price: bigint | PriceSet = PRICE) => classCost(T(n), asPrices(price));

function wire(s: ReturnType<typeof signReceipt>, request: Tok, requestCost: bigint): WireReceipt {
    const q = T(request);
    const r = s.receipt;
    return {
        escrow: r.escrow.toString(), epoch: r.epoch.toString(), seq: r.seq.toString(),
        promptTokens: r.promptTokens.toString(), cachedTokens: r.cachedTokens.toString(), completionTokens: r.completionTokens.toString(),
        tokens: (r.promptTokens + r.cachedTokens + r.completionTokens).toString(), cost: r.cost.toString(),
        requestPromptTokens: q.promptTokens.toString(), requestCachedTokens: q.cachedTokens.toString(), requestCompletionTokens: q.completionTokens.toString(),
        requestTokens: (q.promptTokens + q.cachedTokens + q.completionTokens).toString(), requestCost: requestCost.toString(),
        signature: s.signature.toString('hex'), boc: signedReceiptCell(s).toBoc().toString('base64'),
    };
}

/** An honest cumulative receipt for a request of `n` tokens after `before` tokens, at `price` (one or per class). */
function honest(tee: Ed25519Key, escrow: Address, epoch: bigint, seq: bigint, before: Tok, n: Tok, price: bigint | PriceSet = PRICE): WireReceipt {
    const after = plus(before, n);
    const s = signReceipt({ escrow, epoch, seq, ...after, cost: cumulativeCost(after, price) }, tee);
    return wire(s, n, cumulativeCost(after, price) - cumulativeCost(before, price));
}

/** What the fake node's answers show: 12 prompt tokens, 8 completion tokens. */
const FAKE_USAGE = { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 };
const FAKE_REQ: ClassTokens = { promptTokens: 12n, cachedTokens: 0n, completionTokens: 8n };

/**
 * A stand-in worker node speaking the HTTP API (docs/HTTP-API.md) with a chosen misbehaviour, so the
 * client's checks are tested independently of src/worker.
 */
async function fakeNode(cert: Cert, tee: Ed25519Key, epochOf: (escrow: Address) => Promise<bigint>, clientKeyOf: (escrow: Address) => Promise<bigint | null> = async () => null) {
    const state = { mode: 'ok' as 'ok' | 'overcharge' | 'badsig' | 'rollback', requests: 0, seq: 0n, tokens: T(0n), apiKeys: [] as string[] };
    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        state.requests++;
        const j = JSON.parse(body);
        // the escrow is the one the API key names; the fake node checks the key like a real one
        const key = parseApiKey(String(req.headers.authorization));
        const escrow = key.escrow;
        state.apiKeys.push(String(req.headers.authorization));
        const clientKey = (await clientKeyOf(escrow)) ?? 0n;
        if (!verifyApiKey(key, clientKey)) {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } }));
            return;
        }
        const epoch = await epochOf(escrow);
        const usage = FAKE_USAGE;
        const n = FAKE_REQ;
        let r: WireReceipt;
        if (state.mode === 'rollback') {
            r = honest(tee, escrow, epoch, 1n, 0n, n); // starts the counters over
        } else {
            state.seq++;
            const signer = state.mode === 'badsig' ? seededKey('impostor') : tee;
            r = honest(signer, escrow, epoch, state.seq, state.tokens, n);
            if (state.mode === 'overcharge') {
                const s = signReceipt({ escrow, epoch, seq: state.seq, ...plus(state.tokens, n), cost: cumulativeCost(plus(state.tokens, n), PRICE) * 2n }, tee);
                r = wire(s, n, BigInt(r.requestCost) * 2n);
            }
            state.tokens = plus(state.tokens, n);
        }
        const words = ['Hello', ' from', ' a', ' fake', ' node'];
        if (j.stream) {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            for (const w of words) res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`);
            res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
            res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [], usage, cocoon_receipt: r })}\n\n`);
            res.end('data: [DONE]\n\n');
        } else {
            res.writeHead(200, { 'content-type': 'application/json', 'x-cocoon-receipt': r.boc });
            res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }], usage, cocoon_receipt: r }));
        }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { state, url, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** A registered worker whose attestation pins `tlsHash`, with a price and an endpoint on-chain. */
async function liveWorker(net: Net, name: string, tlsHash: bigint, endpoint: string | null, over: Parameters<typeof registerWorker>[3] = {}) {
    const w = await registerWorker(net, name, toNano('100'), { tlsKeyHash: tlsHash, ...over });
    expect(w.result.transactions).toHaveTransaction({ to: w.worker.address, success: true });
    await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
    if (endpoint) await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint });
    return w;
}

async function clientOn(net: Net, name = 'client') {
    const wallet = await net.chain.treasury(name);
    const client = new CocoonClient({
        chain: new SandboxChain(net.chain), root: net.root.address, wallet: wallet.getSender() as any,
        events: sandboxEventSource(net.chain, net.root.address), requestTimeoutMs: 10_000, clientKey: clientKeyOf(name),
    });
    return { wallet, client };
}

// ---------------------------------------------------------------- TLS pinning

describe('TLS pinning', () => {
    let attested: Cert;
    let impostor: Cert;
    beforeAll(() => {
        attested = makeCert();
        impostor = makeCert();
    });

    it('refuses a server whose key does not hash to the pin, before writing any request byte', async () => {
        const srv = await recordingTlsServer(impostor);
        const agent = new PinnedAgent(attested.hash);
        try {
            const err = await pinnedRequest(agent, new URL('v1/chat/completions', srv.url), 'POST', { messages: [{ role: 'user', content: 'secret prompt' }] }, { 'x-cocoon-escrow': 'EQ-secret' }, 5000)
                .then(() => null, (e) => e);
            expect(isClientError(err, 'TLS_KEY_MISMATCH')).toBe(true);
            expect(err.message).toContain('nothing was sent');
            await settle();
            expect(srv.seen.connections).toBe(1); // it connected and saw the certificate: the refusal is the pin's
            expect(srv.seen.bytes).toBe(0);
            expect(srv.seen.text).not.toContain('secret');
        } finally {
            agent.destroy();
            await srv.close();
        }
    });

    it('sends the request to a server whose key matches the pin', async () => {
        const srv = await recordingTlsServer(attested);
        const agent = new PinnedAgent(attested.hash);
        try {
            const r = await pinnedRequest(agent, new URL('v1/chat/completions', srv.url), 'POST', { hello: 1 }, {}, 5000);
            expect(r.status).toBe(200);
            r.res.resume();
            expect(srv.seen.text.startsWith('POST /v1/chat/completions HTTP/1.1')).toBe(true);
        } finally {
            agent.destroy();
            await srv.close();
        }
    });

    it('a chat with a worker whose endpoint shows another key is refused and sends nothing', async () => {
        const net = await createNet();
        const srv = await recordingTlsServer(impostor);
        try {
            const w = await liveWorker(net, 'op-pinned', attested.hash, srv.url.replace(/\/$/, ''));
            const { wallet, client } = await clientOn(net);
            await client.escrows.open(w.worker.address, toNano('2'), PRICE, publicKeyToBigInt(clientKeyOf('client').publicKey));
            const session = await client.session(w.worker.address);
            const err = await session.chat({ model: MODEL, messages: [{ role: 'user', content: 'secret prompt' }], max_tokens: 16 }).then(() => null, (e) => e);
            expect(isClientError(err, 'TLS_KEY_MISMATCH')).toBe(true);
            await settle();
            expect(srv.seen.connections).toBe(1);
            expect(srv.seen.bytes).toBe(0);
            expect(client.receipts.latest(await escrowAddress(w.worker.address, wallet.address))).toBeUndefined();
            client.close();
        } finally {
            await srv.close();
        }
    });
});

// ---------------------------------------------------------------- receipts

describe('receipt verification', () => {
    const tee = seededKey('tee:receipts');
    const escrow = Address.parse('EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG');
    const epoch = 77n;
    const teeKey = publicKeyToBigInt(tee.publicKey);
    const ctx = (usage: Tok) => ({ escrow, epoch, teeKey, prices: PRICES, caps: PRICES, usage: T(usage) });

    it('accepts honest receipts and keeps the latest per escrow', () => {
        const book = new ReceiptBook();
        const a = book.accept(honest(tee, escrow, epoch, 1n, 0n, 1001n), ctx(1001n));
        expect(a.cost).toBe(cumulativeCost(1001n, PRICE));
        const b = book.accept(honest(tee, escrow, epoch, 2n, 1001n, 999n), ctx(999n));
        expect(b.tokens).toBe(2000n);
        expect(b.requestCost).toBe(cumulativeCost(2000n, PRICE) - cumulativeCost(1001n, PRICE));
        expect(book.latest(escrow)?.seq).toBe(2n);
    });

    it('rejects a receipt not signed by the on-chain TEE key', () => {
        const w = honest(seededKey('someone-else'), escrow, epoch, 1n, 0n, 100n);
        expect(() => verifyWireReceipt(w, ctx(100n))).toThrow(expect.objectContaining({ code: 'BAD_RECEIPT_SIGNATURE' }));
    });

    it('rejects a signature field that is not the signed one', () => {
        const w = honest(tee, escrow, epoch, 1n, 0n, 100n);
        const other = honest(tee, escrow, epoch, 2n, 0n, 100n);
        expect(() => verifyWireReceipt({ ...w, signature: other.signature }, ctx(100n))).toThrow(expect.objectContaining({ code: 'BAD_RECEIPT' }));
    });

    it('rejects a cost that does not match the usage shown', () => {
        // the signed cost is right for the tokens, but the answer showed fewer tokens
        expect(() => verifyWireReceipt(honest(tee, escrow, epoch, 1n, 0n, 100n), ctx(90n))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // the cumulative cost is above price x tokens
        const s = signReceipt({ escrow, epoch, seq: 1n, ...T(100n), cost: cumulativeCost(100n, PRICE) + 1n }, tee);
        expect(() => verifyWireReceipt(wire(s, 100n, cumulativeCost(100n, PRICE) + 1n), ctx(100n))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // the request cost does not follow from the cumulative totals
        const t = signReceipt({ escrow, epoch, seq: 1n, ...T(100n), cost: cumulativeCost(100n, PRICE) }, tee);
        expect(() => verifyWireReceipt(wire(t, 100n, cumulativeCost(100n, PRICE) + 5n), ctx(100n))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // JSON fields claiming less than the signed cell
        const h = honest(tee, escrow, epoch, 1n, 0n, 100n);
        expect(() => verifyWireReceipt({ ...h, cost: '1' }, ctx(100n))).toThrow(expect.objectContaining({ code: 'BAD_RECEIPT' }));
    });

    it('rejects seq going backwards or repeating, and a skipped-ahead token count', () => {
        const book = new ReceiptBook();
        book.accept(honest(tee, escrow, epoch, 5n, 0n, 100n), ctx(100n));
        expect(() => book.accept(honest(tee, escrow, epoch, 4n, 100n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'STALE_RECEIPT' }));
        expect(() => book.accept(honest(tee, escrow, epoch, 5n, 100n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'STALE_RECEIPT' }));
        // tokens jumping beyond previous + this request's usage is an overcharge
        expect(() => book.accept(honest(tee, escrow, epoch, 6n, 150n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        // the book still holds the last good one
        expect(book.latest(escrow)?.seq).toBe(5n);
        expect(book.accept(honest(tee, escrow, epoch, 6n, 100n, 100n), ctx(100n)).tokens).toBe(200n);
    });

    it('after a request failed mid-way, accepts totals that grew by more than the next answer (a receipt it never saw), but never less', () => {
        const book = new ReceiptBook();
        book.accept(honest(tee, escrow, epoch, 1n, 0n, 100n), ctx(100n));
        book.markGap(escrow); // e.g. a stream cut after the worker billed 40 tokens
        expect(() => book.accept(honest(tee, escrow, epoch, 3n, 50n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'STALE_RECEIPT' }));
        expect(book.accept(honest(tee, escrow, epoch, 3n, 140n, 100n), ctx(100n)).tokens).toBe(240n);
        // the allowance is for one receipt only
        expect(() => book.accept(honest(tee, escrow, epoch, 4n, 260n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
    });

    it('rejects a receipt of another escrow or epoch, and one not newer than what is settled on-chain', () => {
        const other = Address.parse('EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N');
        expect(() => verifyWireReceipt(honest(tee, other, epoch, 1n, 0n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'BAD_RECEIPT' }));
        expect(() => verifyWireReceipt(honest(tee, escrow, epoch + 1n, 1n, 0n, 100n), ctx(100n))).toThrow(expect.objectContaining({ code: 'BAD_RECEIPT' }));
        expect(() => verifyWireReceipt(honest(tee, escrow, epoch, 3n, 500n, 100n), { ...ctx(100n), settled: { seq: 3n, tokens: 500n, cost: cumulativeCost(500n, PRICE) } }))
            .toThrow(expect.objectContaining({ code: 'STALE_RECEIPT' }));
    });

    describe('per token class', () => {
        const P = { prompt: 300_000n, cached: 75_000n, completion: 1_200_000n }; // fractions of a nanoton per token: rounding matters
        const pctx = (usage: Tok, over: Record<string, unknown> = {}) => ({ ...ctx(usage), prices: P, caps: P, ...over });
        const req = { promptTokens: 7n, cachedTokens: 5n, completionTokens: 3n };

        it('accepts each class priced at its own price, every class rounded down on its own total', () => {
            const book = new ReceiptBook();
            const a = book.accept(honest(tee, escrow, epoch, 1n, 0n, req, P), pctx(req));
            // 7 x 0.3 -> 2, 5 x 0.075 -> 0, 3 x 1.2 -> 3
            expect(a.cost).toBe(5n);
            expect(a.request).toEqual(req);
            expect(a.prices).toEqual(P);
            const b = book.accept(honest(tee, escrow, epoch, 2n, req, req, P), pctx(req));
            // 14 x 0.3 -> 4, 10 x 0.075 -> 0, 6 x 1.2 -> 7: 11 in all, 6 for this request
            expect([b.cost, b.requestCost]).toEqual([11n, 6n]);
            expect([b.promptTokens, b.cachedTokens, b.completionTokens, b.tokens]).toEqual([14n, 10n, 6n, 30n]);
        });

        it('refuses cached tokens billed as prompt tokens, and classes that differ from the usage shown', () => {
            // the same 15 tokens, none of them cached: dearer
            const uncached = { promptTokens: 12n, cachedTokens: 0n, completionTokens: 3n };
            expect(() => verifyWireReceipt(honest(tee, escrow, epoch, 1n, 0n, uncached, P), pctx(req)))
                .toThrow(expect.objectContaining({ code: 'COST_MISMATCH', message: expect.stringMatching(/bills 12 prompt, 0 cached, 3 completion tokens but the answer's usage shows 7 prompt, 5 cached, 3 completion/) }));
            // the right classes at the prompt price for every class
            expect(() => verifyWireReceipt(honest(tee, escrow, epoch, 1n, 0n, req, { ...P, cached: P.prompt }), pctx(req)))
                .toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        });

        it('accepts the prices read after the answer (a change in between), nothing else', () => {
            const changed = { ...P, completion: 2_000_000n };
            const w = honest(tee, escrow, epoch, 1n, 0n, req, changed);
            expect(() => verifyWireReceipt(w, pctx(req, { caps: changed }))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
            expect(verifyWireReceipt(w, pctx(req, { caps: changed, otherPrices: [changed] })).prices).toEqual(changed);
        });

        it('reads the classes of an answer\'s usage: cached among the prompt tokens, none for embeddings', () => {
            expect(usageClassesOf({ prompt_tokens: 12, completion_tokens: 8, total_tokens: 20, prompt_tokens_details: { cached_tokens: 5 } }))
                .toEqual({ promptTokens: 7n, cachedTokens: 5n, completionTokens: 8n });
            expect(usageClassesOf({ prompt_tokens: 9, total_tokens: 9 })).toEqual({ promptTokens: 9n, cachedTokens: 0n, completionTokens: 0n });
            // reasoning tokens are completion tokens: nothing apart
            expect(usageClassesOf({ prompt_tokens: 1, completion_tokens: 30, total_tokens: 31, completion_tokens_details: { reasoning_tokens: 20 } }).completionTokens).toBe(30n);
            expect(() => usageClassesOf({ prompt_tokens: 3, completion_tokens: 1, total_tokens: 4, prompt_tokens_details: { cached_tokens: 4 } })).toThrow(/does not add up/);
            expect(() => usageClassesOf({ prompt_tokens: 3, completion_tokens: 1, total_tokens: 5 })).toThrow(/does not add up/);
        });

        it('holds the cost within the escrow\'s caps: a worker charging above them is clamped, as on-chain', () => {
            const caps = { prompt: 200_000n, cached: 75_000n, completion: 1_000_000n };
            const big = { promptTokens: 1_000n, cachedTokens: 0n, completionTokens: 1_000n };
            // at P: 300 + 1200 = 1500; the caps allow 200 + 1000 = 1200
            const clamped = (() => {
                const s = signReceipt({ escrow, epoch, seq: 1n, ...big, cost: 1200n }, tee);
                return wire(s, big, 1200n);
            })();
            expect(verifyWireReceipt(clamped, pctx(big, { caps })).cost).toBe(1200n);
            expect(() => verifyWireReceipt(honest(tee, escrow, epoch, 1n, 0n, big, P), pctx(big, { caps }))).toThrow(expect.objectContaining({ code: 'COST_MISMATCH' }));
        });
    });
});

// ---------------------------------------------------------------- listing and a session end to end

describe('worker listing and sessions on the sandbox', () => {
    it('lists only active, unexpired workers of the model with an endpoint, cheapest first', async () => {
        const net = await createNet();
        const other = BigInt('0x' + 'ab'.repeat(32));
        await governed(net, { kind: 'addMeasurement', measurement: other, model: 'other-model' });
        const now = net.chain.now!;
        const good = await liveWorker(net, 'op-good', 1n, 'https://good.example:8443');
        const cheap = await liveWorker(net, 'op-cheap', 2n, 'https://cheap.example:8443');
        await cheap.worker.send(cheap.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE / 2n) });
        const unbonded = await liveWorker(net, 'op-unbonded', 3n, 'https://unbonded.example:8443');
        await unbonded.worker.send(unbonded.operator.getSender(), { value: toNano('0.2') }, { $$type: 'Unbond', queryId: 0n });
        expect((await unbonded.worker.getInfo()).active).toBe(false);
        const shortLived = await liveWorker(net, 'op-short', 4n, 'https://short.example:8443', { expiresAt: now + 3600 });
        await liveWorker(net, 'op-noendpoint', 5n, null);
        await liveWorker(net, 'op-other', 6n, 'https://other.example:8443', { measurement: other });

        const { client } = await clientOn(net);
        const before = await client.listWorkers({ model: MODEL });
        expect(before.workers.map((w) => w.worker.toString())).toEqual([cheap.worker.address.toString(), good.worker.address.toString(), shortLived.worker.address.toString()]);
        expect(before.workers[1]).toMatchObject({ prices: { prompt: PRICE, cached: PRICE, completion: PRICE }, endpoint: 'https://good.example:8443', tlsKeyHash: 1n, model: MODEL, models: [MODEL], teeKey: publicKeyToBigInt(good.tee.publicKey) });
        expect(before.workers[1].reputation).toMatchObject({ renewals: 0n, slashes: 0n, settledEscrows: 0n, settledVolume: 0n });

        net.chain.now = now + 2 * 3600; // the short attestation has expired
        const after = await client.listWorkers({ model: MODEL });
        expect(after.workers.map((w) => w.worker.toString())).toEqual([cheap.worker.address.toString(), good.worker.address.toString()]);
        const reasons = Object.fromEntries(after.skipped.map((s) => [s.worker.toString(), s.reason]));
        expect(reasons).toEqual({
            [unbonded.worker.address.toString()]: 'inactive',
            [shortLived.worker.address.toString()]: 'expired',
            [(await net.root.getWorkerAddressOf((await net.chain.treasury('op-noendpoint')).address)).toString()]: 'no-endpoint',
            [(await net.root.getWorkerAddressOf((await net.chain.treasury('op-other')).address)).toString()]: 'other-model',
        });
        // a price cap filters too
        expect((await client.listWorkers({ model: MODEL, maxPrice: PRICE / 2n })).workers.length).toBe(1);
        client.close();
    });

    it('orders equal prices by settled volume and skips a worker with a proven equivocation unless asked', async () => {
        const net = await createNet();
        const a = await liveWorker(net, 'op-a', 11n, 'https://a.example:8443');
        const b = await liveWorker(net, 'op-b', 12n, 'https://b.example:8443');
        const { client } = await clientOn(net);
        // b registered later; equal prices, nothing settled: the earlier registration first
        net.chain.now = net.chain.now! + 10;
        const first = await client.listWorkers({ model: MODEL });
        expect(first.workers.map((w) => w.worker.toString())).toEqual([a.worker.address.toString(), b.worker.address.toString()]);
        // an escrow with b settles 1 TON and is withdrawn: b's reputation counts it, b goes first
        const e = await openEscrow(net, b, 'payer', toNano('3'), PRICE);
        const r = await signedReceiptFor(e, b.tee, { seq: 1n, tokens: 2_000_000n, cost: toNano('1') });
        await e.escrow.send(b.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        net.chain.now = net.chain.now! + Number(net.params.disputeWindow);
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        const second = await client.listWorkers({ model: MODEL });
        expect(second.workers.map((w) => w.worker.toString())).toEqual([b.worker.address.toString(), a.worker.address.toString()]);
        expect(second.workers[0].reputation).toMatchObject({ settledEscrows: 1n, settledVolume: toNano('1') });
        // b equivocates (two receipts, same seq, different totals), is slashed, and comes back with a new key and stake
        const st = await e.escrow.getState().catch(() => null);
        const [x, y] = equivocatingPair(e.escrow.address, st?.epoch ?? 1n, b.tee, 9n);
        const reporter = await net.chain.treasury('reporter');
        await b.worker.send(reporter.getSender(), { value: toNano('0.2') }, slashProofBody(x, y, b.tee));
        net.chain.now = net.chain.now! + 60;
        const again = signStatement(makeStatement(net, b.operator.address, seededKey('tee:op-b:2'), { tlsKeyHash: 12n }), net.verifier);
        await net.root.send(b.operator.getSender(), { value: toNano('100') + REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 0n, stake: toNano('100'), attestation: again.cell });
        expect((await b.worker.getInfo()).active).toBe(true);
        expect((await b.worker.getReputation()).slashes).toBe(1n);
        const third = await client.listWorkers({ model: MODEL });
        expect(third.workers.map((w) => w.worker.toString())).toEqual([a.worker.address.toString()]);
        expect(third.skipped.map((x) => [x.worker.toString(), x.reason])).toEqual([[b.worker.address.toString(), 'slashed']]);
        const asked = await client.listWorkers({ model: MODEL, includeSlashed: true });
        expect(asked.workers.map((w) => w.worker.toString())).toEqual([b.worker.address.toString(), a.worker.address.toString()]);
        client.close();
    });

    it('chats through a pinned session, stores verified receipts and refuses a misbehaving worker', async () => {
        const net = await createNet();
        const cert = makeCert();
        const tee = seededKey('tee:op-live');
        let node: Awaited<ReturnType<typeof fakeNode>> | undefined;
        try {
            const stateOf = (e: Address) => net.chain.openContract(ClientEscrow.fromAddress(e)).getState();
            node = await fakeNode(cert, tee, async (e) => (await stateOf(e)).epoch, async (e) => (await stateOf(e)).clientKey);
            const w = await liveWorker(net, 'op-live', cert.hash, node.url);
            const { wallet, client } = await clientOn(net);
            const [listing] = (await client.listWorkers({ model: MODEL })).workers;
            expect(listing.worker.equals(w.worker.address)).toBe(true);
            const opened = await client.escrows.open(w.worker.address, toNano('2'), PRICE, publicKeyToBigInt(clientKeyOf('client').publicKey));
            expect(opened.deposit).toBe(toNano('2'));
            const session = await client.session(listing);
            const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 16 };

            const a = await session.chat(body);
            expect(a.content).toBe('Hello from a fake node');
            expect(a.receipt).toMatchObject({ seq: 1n, tokens: 20n, promptTokens: 12n, completionTokens: 8n, cost: cumulativeCost(FAKE_REQ, PRICE) });
            const deltas: string[] = [];
            const b = await session.chat(body, { stream: true, onDelta: (d) => deltas.push(d) });
            expect(deltas.join('')).toBe('Hello from a fake node');
            expect(b.receipt).toMatchObject({ seq: 2n, tokens: 40n, promptTokens: 24n, completionTokens: 16n, cost: cumulativeCost(plus(FAKE_REQ, FAKE_REQ), PRICE) });

            for (const [mode, code] of [['overcharge', 'COST_MISMATCH'], ['badsig', 'BAD_RECEIPT_SIGNATURE'], ['rollback', 'STALE_RECEIPT']] as const) {
                node.state.mode = mode;
                const err = await session.chat(body).then(() => null, (e) => e);
                expect(err?.code).toBe(code);
            }
            const escrow = await escrowAddress(w.worker.address, wallet.address);
            expect(client.receipts.latest(escrow)?.seq).toBe(2n);
            expect(node.state.requests).toBe(5);
            // every request carried an API key for this escrow, signed by the client key it holds; never the bare escrow header
            expect(node.state.apiKeys).toHaveLength(5);
            for (const h of node.state.apiKeys) expect(parseApiKey(h).escrow.equals(escrow)).toBe(true);
            client.close();
        } finally {
            await node?.close();
        }
    });
});

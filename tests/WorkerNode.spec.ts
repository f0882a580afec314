// The worker node end to end on the sandbox chain: the official `openai` client (only baseURL and an
// API key) over the node's real HTTPS server, receipts checked against the node's TEE key and the
// price, refusals, a restart (fresh key, escrow moved to it, totals carried over), and the claim loop
// settling on-chain.
import '@ton/test-utils';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename, dirname } from 'node:path';
import { X509Certificate } from 'node:crypto';
import OpenAI from 'openai';
import { Address, Cell, toNano } from '@ton/core';
import {
    escrowAddress, parseSignedReceiptCell, verifyReceipt, parseSignedAttestation, verifySignedAttestation,
    publicKeyToBigInt, bigIntToPublicKey, loadEscrowPayout, tlsKeyHashOfCert, hex256, keyFromSeed, signStatement, buildStatementCell, NO_QUOTE, keyBinding, asPrices
} from '../src/sdk';
import { DevBackend, devAnswerTokens, countPromptTokens } from '../src/backend';
import {
    WorkerNodeHandle, DevAttestationProvider, parseWorkerConfig, ConfigError, TdxAttestationProvider, TdxUnavailableError, TsmFs, type LedgerPosition,
} from '../src/worker';
import { chatBodySchema, parseChatBody, describeIssues } from '../src/worker/chatBody';
import { createNet, registerWorker, openEscrow, MODEL, MEASUREMENT, Net, WorkerHandle, EscrowHandle } from './helpers/network';
import { nodeFixture, apiKeyFor, openai, raw as rawOn, refused, type NodeFixture } from './helpers/node';

/** Chat messages as both the openai client and the backend accept them. */
type Msg = { role: 'system' | 'user'; content: string };

const PRICE = toNano('0.5'); // nanoton per million tokens, every class: 500 nanoton per token
const THRESHOLD = 50_000n;
/** The cost of `t` tokens at PRICE in every class (a whole number of nanoton per token: no rounding). */
const cumulativeCost = (t: bigint, price: bigint) => (t * price) / 1_000_000n;
const sumOf = (p: LedgerPosition) => p.promptTokens + p.cachedTokens + p.completionTokens;
/** OpenAI's usage with no cached tokens. */
const usageOf = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: 0 } });

describe('worker node (sandbox, HTTPS, openai client)', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let node: WorkerNodeHandle;
    let fx: NodeFixture;
    let main: EscrowHandle;
    let capped: EscrowHandle;

    const messages: Msg[] = [{ role: 'user', content: 'What is Cocoon on TON?' }];
    const tee = () => bigIntToPublicKey(node.teeKey);
    const raw = (method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}) => rawOn(node, fx.certPem, method, path, opts);
    /** The openai client of the client that opened `e` (its API key), on `n`. */
    const ai = (e: EscrowHandle, name: string, n: WorkerNodeHandle = node) => openai(n, apiKeyFor(net, e, name), fx.agent);

    const receiptOf = (boc: string) => parseSignedReceiptCell(Cell.fromBoc(Buffer.from(boc, 'base64'))[0]);

    beforeAll(async () => {
        net = await createNet();
        fx = await nodeFixture(net);
        // The operator registers a worker whose attestation binds a TEE key and the node's TLS key; the
        // node makes its own fresh key at start and re-registers the Worker with it.
        w = await registerWorker(net, 'op1', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        expect((await w.worker.getInfo()).active).toBe(true);
        const setPrice = (price: bigint) => w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(price) });
        // an escrow whose cap is below the price the node will charge
        await setPrice(toNano('0.4'));
        capped = await openEscrow(net, w, 'capped', toNano('1'), toNano('0.4'));
        expect((await capped.escrow.getState()).state).toBe(2n);
        await setPrice(PRICE);
        expect((await w.worker.getInfo()).prices.completion).toBe(PRICE);
        main = await openEscrow(net, w, 'client1', toNano('5'), PRICE);
        expect((await main.escrow.getState()).state).toBe(2n);

        dev = await DevBackend.start({ tokens: 50, delayMs: 1 });
        node = await fx.start(w, dev);
    });

    afterAll(async () => {
        await node?.stop();
        await dev?.stop();
        fx?.cleanup();
    });

    it('makes a fresh TEE key at start and puts it on its Worker contract (re-registration, stake 0)', async () => {
        expect(node.registration).toBe('registered');
        expect(node.teeKey).not.toBe(publicKeyToBigInt(w.tee.publicKey));
        const info = await w.worker.getInfo();
        expect(info.teeKey).toBe(node.teeKey);
        expect(info.stake).toBe(toNano('100'));
        expect(info.active).toBe(true);
        // the escrows opened before still hold the key of the registration
        expect((await main.escrow.getState()).teeKey).toBe(publicKeyToBigInt(w.tee.publicKey));
    });

    it('serves its model list and an attestation bound to the TLS key it presents', async () => {
        const models = await ai(main, 'client1').models.list();
        expect(models.data.map((m) => [m.id, m.object, m.owned_by, (m as any).capabilities])).toEqual([[MODEL, 'model', 'cocoon', ['chat', 'completions']]]);

        const r = await raw('GET', '/attestation');
        expect(r.status).toBe(200);
        const att = parseSignedAttestation(Cell.fromBoc(Buffer.from(r.json.attestationBoc, 'base64'))[0]);
        expect(verifySignedAttestation(att)).toBe(true);
        const presented = tlsKeyHashOfCert(new X509Certificate(r.peerCertDer!).toString());
        expect(att.statement.tlsKeyHash).toBe(presented);
        expect(r.json.tlsKeyHash).toBe(hex256(presented));
        expect(att.statement.teeKey).toBe(node.teeKey);
        expect(r.json.teeKey).toBe(hex256(node.teeKey));
        expect(r.json.measurement).toBe(hex256(MEASUREMENT));
        expect(Address.parse(r.json.worker).equals(w.worker.address)).toBe(true);
        expect(Address.parse(r.json.root).equals(net.root.address)).toBe(true);
        expect(Address.parse(r.json.operator).equals(w.operator.address)).toBe(true);
        expect(r.json.prices).toEqual({ prompt: PRICE.toString(), cached: PRICE.toString(), completion: PRICE.toString() });
        expect(r.json.models).toEqual([{ id: MODEL, capabilities: ['chat', 'completions'] }]);
        expect(r.json.expiresAt).toBe(att.statement.expiresAt);
        expect(r.json.registered).toBe(true);
        // the development provider has no TEE evidence to show
        expect(r.json.evidence).toBeNull();
        // the same key hash the chain attested
        expect((await w.worker.getInfo()).tlsKeyHash).toBe(presented);
    });

    it('serves the TEE evidence (the TDX quote) with its attestation, so anyone can verify it again', async () => {
        const wq = await registerWorker(net, 'op-quote', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        let quote: Buffer | null = null;
        const provider = {
            kind: 'tdx',
            attest: async (st: Parameters<typeof signStatement>[0]) => {
                quote = Buffer.concat([Buffer.from('TDX-QUOTE:'), buildStatementCell(st).hash()]);
                return { signed: signStatement(st, net.verifier), evidence: quote };
            },
        };
        const n = await fx.start(wq, dev, {}, { attestationProvider: provider });
        try {
            const r = await rawOn(n, fx.certPem, 'GET', '/attestation');
            expect(r.json.evidence).toEqual({ kind: 'tdx', base64: quote!.toString('base64') });
            // the quote binds the statement the Worker holds
            const att = parseSignedAttestation(Cell.fromBoc(Buffer.from(r.json.attestationBoc, 'base64'))[0]);
            expect(Buffer.from(r.json.evidence.base64, 'base64').subarray(10).equals(att.statementCell.hash())).toBe(true);
        } finally {
            await n.stop();
        }
    });

    it('answers a whole completion with a receipt that verifies and prices the usage (after moving the escrow to its key)', async () => {
        const st = await main.escrow.getState();
        const { data, response } = await ai(main, 'client1').chat.completions.create({ model: MODEL, messages, max_tokens: 100 }).withResponse();
        // the node sent RefreshWorker: the escrow now holds the node's key
        expect((await main.escrow.getState()).teeKey).toBe(node.teeKey);
        const prompt = countPromptTokens(messages);
        expect(data.choices[0].message.content).toBe(devAnswerTokens(messages, 50).join(''));
        expect(data.usage).toEqual(usageOf(prompt, 50));
        const rc = (data as any).cocoon_receipt;
        const total = BigInt(prompt + 50);
        const P = PRICE.toString();
        expect(rc).toEqual({
            escrow: main.escrow.address.toString(), epoch: st.epoch.toString(), seq: '1',
            promptTokens: String(prompt), cachedTokens: '0', completionTokens: '50', tokens: total.toString(), cost: cumulativeCost(total, PRICE).toString(),
            requestPromptTokens: String(prompt), requestCachedTokens: '0', requestCompletionTokens: '50', requestTokens: total.toString(),
            requestCost: cumulativeCost(total, PRICE).toString(),
            prices: { prompt: P, cached: P, completion: P }, signature: expect.stringMatching(/^[0-9a-f]{128}$/), boc: expect.any(String),
        });
        expect(rc.cost).toBe((total * 500n).toString());
        expect(response.headers.get('x-cocoon-receipt')).toBe(rc.boc);
        const s = receiptOf(rc.boc);
        expect(verifyReceipt(s, tee())).toBe(true);
        expect(s.signature.toString('hex')).toBe(rc.signature);
        expect(s.receipt.escrow.equals(main.escrow.address)).toBe(true);
        expect([s.receipt.epoch, s.receipt.seq, s.receipt.promptTokens, s.receipt.cachedTokens, s.receipt.completionTokens, s.receipt.cost])
            .toEqual([st.epoch, 1n, BigInt(prompt), 0n, 50n, total * 500n]);
        // persisted before it was returned, with the key that signed it and the API key it was spent under
        const stored = node.ledger.latestReceipt(main.escrow.address, st.epoch)!;
        expect(stored.boc.toString('base64')).toBe(rc.boc);
        expect(stored.teeKey).toBe(node.teeKey);
        expect(stored.apiKey).toMatch(/^[0-9a-f]{32}$/);
    });

    it('streams a completion and ends with the usage chunk carrying the next cumulative receipt', async () => {
        const st = await main.escrow.getState();
        const before = node.ledger.position(main.escrow.address, st.epoch);
        const msgs: Msg[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Stream please.' }];
        const stream = await ai(main, 'client1').chat.completions.create({ model: MODEL, messages: msgs, stream: true, max_tokens: 200 });
        const pieces: string[] = [];
        let last: any = null;
        let finish: string | null = null;
        for await (const c of stream) {
            if (c.choices[0]?.delta?.content) pieces.push(c.choices[0].delta.content);
            if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
            last = c;
        }
        expect(pieces).toEqual(devAnswerTokens(msgs, 50));
        expect(finish).toBe('stop');
        const request = BigInt(countPromptTokens(msgs) + 50);
        expect(last.choices).toEqual([]);
        expect(last.object).toBe('chat.completion.chunk');
        expect(last.usage).toEqual(usageOf(countPromptTokens(msgs), 50));
        const rc = last.cocoon_receipt;
        const tokens = sumOf(before) + request;
        expect([rc.seq, rc.tokens, rc.cost, rc.requestTokens, rc.requestCost]).toEqual([
            (before.seq + 1n).toString(), tokens.toString(), cumulativeCost(tokens, PRICE).toString(), request.toString(),
            (cumulativeCost(tokens, PRICE) - before.cost).toString(),
        ]);
        const s = receiptOf(rc.boc);
        expect(verifyReceipt(s, tee())).toBe(true);
        expect([s.receipt.seq, s.receipt.promptTokens + s.receipt.cachedTokens + s.receipt.completionTokens, s.receipt.completionTokens, s.receipt.cost])
            .toEqual([before.seq + 1n, tokens, before.completionTokens + 50n, cumulativeCost(tokens, PRICE)]);
    });

    it('gives concurrent requests on one escrow consecutive receipts', async () => {
        const st = await main.escrow.getState();
        const before = node.ledger.position(main.escrow.address, st.epoch);
        const asks = [5, 9, 13].map((n) => ai(main, 'client1').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `q${n}` }], max_tokens: n }));
        const answers = await Promise.all(asks);
        const seqs = answers.map((a) => BigInt((a as any).cocoon_receipt.seq)).sort((x, y) => (x < y ? -1 : 1));
        expect(seqs).toEqual([before.seq + 1n, before.seq + 2n, before.seq + 3n]);
        const added = answers.reduce((s, a) => s + BigInt(a.usage!.total_tokens), 0n);
        const after = node.ledger.position(main.escrow.address, st.epoch);
        expect(sumOf(after)).toBe(sumOf(before) + added);
        expect(after.cost).toBe(cumulativeCost(sumOf(after), PRICE));
        const all = node.ledger.receipts(main.escrow.address, st.epoch);
        expect(all.map((r) => r.seq)).toEqual(all.map((_, i) => BigInt(i + 1)));
    });

    it('refuses bad requests with 4xx and an OpenAI error, and keeps serving', async () => {
        const st = await main.escrow.getState();
        const before = node.ledger.position(main.escrow.address, st.epoch);
        const ask = (e: EscrowHandle, name: string, over: Record<string, unknown> = {}) =>
            ai(e, name).chat.completions.create({ model: MODEL, messages, max_tokens: 100, ...over } as any);

        // the escrow of another worker (its own client's key, sent to this node)
        const w2 = await registerWorker(net, 'op2');
        const other = await openEscrow(net, w2, 'client1', toNano('1'), PRICE);
        expect((await other.escrow.getState()).state).toBe(2n);
        const e403 = await refused(ask(other, 'client1'), 403, 'wrong_worker');
        expect(e403.message).toContain('another worker');
        // price above the client's cap
        const e403b = await refused(ask(capped, 'capped'), 403, 'price_above_cap');
        expect(e403b.message).toContain(PRICE.toString());
        // a deposit too small for the worst case: (prompt + max_tokens) x price
        const prompt = countPromptTokens(messages);
        const exact = BigInt(prompt + 10) * 500n;
        const poor = await openEscrow(net, w, 'poor', exact, PRICE);
        expect((await poor.escrow.getState()).state).toBe(2n);
        const e402 = await refused(ask(poor, 'poor', { max_tokens: 11 }), 402, 'insufficient_balance');
        expect(e402.message).toContain(`worst case ${exact + 500n}`);
        // exactly enough once, then empty
        const once = await ask(poor, 'poor', { max_tokens: 10 });
        expect((once as any).cocoon_receipt.cost).toBe(exact.toString());
        await refused(ask(poor, 'poor', { max_tokens: 1 }), 402, 'escrow_empty');
        // unknown model
        await refused(ask(main, 'client1', { model: 'gpt-17' }), 404, 'model_not_found');
        // invalid body
        await refused(ask(main, 'client1', { messages: [] }), 400, 'invalid_body');
        await refused(ask(main, 'client1', { max_tokens: 10 ** 6 }), 400, 'max_tokens_too_large');
        // oversized body
        await refused(ask(main, 'client1', { messages: [{ role: 'user', content: 'x'.repeat(64 * 1024 + 1) }] }), 413, 'body_too_large');
        // fields that change the answer and cannot be forwarded are refused, not dropped
        await refused(ask(main, 'client1', { logit_bias: { '50256': -100 } }), 400, 'unsupported_parameter');
        // bad JSON, and routes that do not exist
        const bearer = { authorization: `Bearer ${apiKeyFor(net, main, 'client1')}` };
        const bad = await raw('POST', '/v1/chat/completions', { headers: { 'content-type': 'application/json', ...bearer }, body: '{"model": "' });
        expect(bad.status).toBe(400);
        expect(bad.json.error).toEqual({ message: 'the request body is not valid JSON', type: 'invalid_request_error', code: 'invalid_json' });
        expect((await raw('GET', '/v1/nothing')).status).toBe(404);
        expect((await raw('GET', '/v1/chat/completions')).status).toBe(405);

        // nothing was billed to the main escrow by any refusal, and it is still served
        expect(node.ledger.position(main.escrow.address, st.epoch)).toEqual(before);
        const ok = await ask(main, 'client1', { max_tokens: 3 });
        expect((ok as any).cocoon_receipt.seq).toBe((before.seq + 1n).toString());

        const metrics = (await raw('GET', '/metrics')).text;
        expect(metrics).toMatch(/cocoon_worker_requests_total\{route="\/v1\/chat\/completions",status="402"\} 2\n/);
        expect(metrics).toMatch(/cocoon_worker_requests_total\{route="\/v1\/chat\/completions",status="400"\} 4\n/);
        expect(metrics).toMatch(/cocoon_worker_requests_total\{route="\/v1\/chat\/completions",status="403"\} 2\n/);
        expect(metrics).toMatch(/cocoon_worker_requests_total\{route="\/v1\/chat\/completions",status="413"\} 1\n/);
        expect(metrics).toMatch(new RegExp(`cocoon_worker_unclaimed_nanoton ${node.ledger.unclaimedTotal()}\\n`));
    });

    it('holds the worst case of requests in progress, so two that each fit but not together get one 200 and one 402', async () => {
        const prompt = countPromptTokens(messages);
        const worst = BigInt(prompt + 10) * 500n;
        const twins = await openEscrow(net, w, 'twins', worst, PRICE);
        expect((await twins.escrow.getState()).state).toBe(2n);
        const results = await Promise.allSettled([0, 1].map(() => ai(twins, 'twins').chat.completions.create({ model: MODEL, messages, max_tokens: 10 })));
        const ok = results.filter((r) => r.status === 'fulfilled');
        const no = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
        expect(ok).toHaveLength(1);
        expect(no).toHaveLength(1);
        expect([no[0].reason.status, no[0].reason.code]).toEqual([402, 'insufficient_balance']);
        expect(node.ledger.position(twins.escrow.address, (await twins.escrow.getState()).epoch)).toEqual({ seq: 1n, promptTokens: BigInt(prompt), cachedTokens: 0n, completionTokens: 10n, cost: worst });
    });

    it('bills the tokens a stream produced when the client goes away mid-stream', async () => {
        // a second operator's node with a slow backend
        const slow = await DevBackend.start({ tokens: 50, delayMs: 25 });
        const w3 = await registerWorker(net, 'op-slow', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await w3.worker.send(w3.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
        const other = await fx.start(w3, slow, { backend: { url: slow.url, model: 'dev-model' } });
        const aborter = await openEscrow(net, w3, 'aborter', toNano('1'), PRICE);
        try {
            const epoch = (await aborter.escrow.getState()).epoch;
            const stream = await ai(aborter, 'aborter', other).chat.completions.create({ model: MODEL, messages, stream: true, max_tokens: 50 });
            let got = 0;
            for await (const c of stream) {
                if (c.choices[0]?.delta?.content) got++;
                if (got === 3) break; // leaving the loop aborts the HTTP response
            }
            for (let i = 0; i < 200 && other.ledger.position(aborter.escrow.address, epoch).seq === 0n; i++) await new Promise((r) => setTimeout(r, 10));
            const r = other.ledger.latestReceipt(aborter.escrow.address, epoch)!;
            const prompt = BigInt(countPromptTokens(messages));
            expect(r.seq).toBe(1n);
            expect(r.requestTokens).toBeGreaterThanOrEqual(prompt + 3n);
            expect(r.requestTokens).toBeLessThan(prompt + 50n);
            expect(r.cost).toBe(cumulativeCost(r.tokens, PRICE));
        } finally {
            await other.stop();
            await slow.stop();
        }
    });

    it('writes a fast stream in a few writes and a slow one token by token (streamFlushMs), same bytes', async () => {
        const slowBackend = await DevBackend.start({ tokens: 6, delayMs: 60 });
        const wf = await registerWorker(net, 'op-flush-fast', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        const ws = await registerWorker(net, 'op-flush-slow', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        const fast = await fx.start(wf, dev, { streamFlushMs: 40 }); // the 50 x 1 ms backend
        const slow = await fx.start(ws, slowBackend, { streamFlushMs: 40, backend: { url: slowBackend.url, model: 'dev-model' } });
        const streamed = async (n: WorkerNodeHandle, token: string) => {
            const body = JSON.stringify({ model: MODEL, messages, stream: true, max_tokens: 50 });
            return new Promise<{ at: number; text: string }[]>((resolve, reject) => {
                const u = new URL(n.url + '/v1/chat/completions');
                const t0 = performance.now();
                const got: { at: number; text: string }[] = [];
                const req = httpsRequest({
                    hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', ca: fx.certPem, agent: false,
                    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
                }, (res) => {
                    res.setEncoding('utf8');
                    res.on('data', (d: string) => got.push({ at: performance.now() - t0, text: d }));
                    res.on('end', () => resolve(got));
                });
                req.on('error', reject);
                req.end(body);
            });
        };
        const content = (reads: { text: string }[]) => [...reads.map((r) => r.text).join('').matchAll(/"content":("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1]) as string).join('');
        try {
            const a = await openEscrow(net, wf, 'flush-fast', toNano('1'), toNano('1'));
            const reads = await streamed(fast, apiKeyFor(net, a, 'flush-fast'));
            // 50 tokens within ~50 ms: the role chunk, one write 40 ms later, then the end
            expect(reads.length).toBeLessThanOrEqual(6);
            expect(content(reads)).toBe(devAnswerTokens(messages, 50).join(''));
            expect(reads[reads.length - 1].text.endsWith('data: [DONE]\n\n')).toBe(true);

            const b = await openEscrow(net, ws, 'flush-slow', toNano('1'), toNano('1'));
            const slowReads = await streamed(slow, apiKeyFor(net, b, 'flush-slow'));
            // a token every 60 ms (longer than streamFlushMs): each goes out on its own, when it comes
            const tokenReads = slowReads.filter((r) => /"content":"[^"]/.test(r.text));
            expect(tokenReads.length).toBeGreaterThanOrEqual(6);
            for (let i = 1; i < 6; i++) expect(tokenReads[i].at - tokenReads[i - 1].at).toBeGreaterThan(30);
            expect(content(slowReads)).toBe(devAnswerTokens(messages, 6).join(''));
        } finally {
            await fast.stop();
            await slow.stop();
            await slowBackend.stop();
        }
    });

    it('finishes an in-flight request on stop; a restarted node has a new key, moves the escrow to it and carries the totals over', async () => {
        const st = await main.escrow.getState();
        const served = dev.requests;
        const inflight = ai(main, 'client1').chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'last one' }], max_tokens: 40 });
        for (let i = 0; i < 400 && dev.requests === served; i++) await new Promise((r) => setTimeout(r, 5));
        expect(dev.requests).toBe(served + 1);
        const stopping = node.stop();
        const answer = await inflight;
        await stopping;
        const lastSeq = BigInt((answer as any).cocoon_receipt.seq);
        // the stopped node refuses connections
        await expect(raw('GET', '/v1/models')).rejects.toThrow();

        const { ReceiptLedger } = await import('../src/worker');
        const dbPath = fx.config(w, dev).dbPath;
        const offline = new ReceiptLedger(dbPath);
        const kept = offline.receipts(main.escrow.address, st.epoch).map((r) => [r.seq, r.tokens, r.cost, r.boc.toString('base64')]);
        offline.close();
        expect(kept).toHaveLength(Number(lastSeq));
        expect(kept[kept.length - 1][3]).toBe((answer as any).cocoon_receipt.boc);

        const oldKey = node.teeKey;
        node = await fx.start(w, dev, { claim: { threshold: THRESHOLD, intervalMs: 100, value: toNano('0.05') } });
        expect(node.teeKey).not.toBe(oldKey);
        expect(node.ledger.teeKeys()).toEqual([oldKey, node.teeKey]);
        expect(node.ledger.receipts(main.escrow.address, st.epoch).map((r) => [r.seq, r.tokens, r.cost, r.boc.toString('base64')])).toEqual(kept);
        const next = await ai(main, 'client1').chat.completions.create({ model: MODEL, messages, max_tokens: 2 });
        const rc = (next as any).cocoon_receipt;
        // seq lastSeq + 1 is the carry-over receipt of the new key (no tokens); the answer's is the next
        expect(rc.seq).toBe((lastSeq + 2n).toString());
        expect(BigInt(rc.tokens)).toBe((kept[kept.length - 1][1] as bigint) + BigInt(next.usage!.total_tokens));
        const carry = node.ledger.receipts(main.escrow.address, st.epoch).find((r) => r.seq === lastSeq + 1n)!;
        expect([carry.requestTokens, carry.tokens, carry.cost, carry.teeKey]).toEqual([0n, kept[kept.length - 1][1], kept[kept.length - 1][2], node.teeKey]);
        expect(verifyReceipt(receiptOf(rc.boc), tee())).toBe(true);
    });

    it('the claim loop settles an escrow past the threshold and the operator is paid', async () => {
        const st0 = await main.escrow.getState();
        const mainClaim = () => fx.claims.find((x) => x.escrow.equals(main.escrow.address));
        for (let i = 0; i < 100 && !mainClaim(); i++) await new Promise((r) => setTimeout(r, 100));
        const c = mainClaim()!;
        expect(c).toMatchObject({ reason: 'threshold', ok: true });
        const claimed = node.ledger.receipts(main.escrow.address, st0.epoch).find((r) => r.seq === c.seq)!;
        expect(c.cost).toBe(claimed.cost);
        expect(claimed.cost).toBeGreaterThanOrEqual(THRESHOLD);
        expect(claimed.teeKey).toBe(node.teeKey);
        const st = await main.escrow.getState();
        expect([st.lastSeq, st.lastTokens, st.lastCost, st.paid]).toEqual([claimed.seq, claimed.tokens, claimed.cost, claimed.cost]);
        expect(st.deposit).toBe(toNano('5') - claimed.cost);
        // what is left unclaimed is below the threshold (a later request may have come in after the claim)
        const latest = node.ledger.latestReceipt(main.escrow.address, st0.epoch)!;
        expect(latest.cost - claimed.cost).toBeLessThan(THRESHOLD);
        const txs = (c.result as any).transactions;
        expect(txs).toHaveTransaction({ from: w.operator.address, to: main.escrow.address, success: true });
        expect(txs).toHaveTransaction({ from: main.escrow.address, to: w.operator.address, success: true });
        const payoutTx = txs.find((t: any) => t.inMessage?.info.src?.equals?.(main.escrow.address) && t.inMessage.info.dest.equals(w.operator.address));
        const payout = loadEscrowPayout(payoutTx.inMessage.body.beginParse());
        const fee = (claimed.cost * st.feeBps) / 10000n;
        expect(st.feesOwed).toBe(fee);
        expect(payout.amount).toBe(claimed.cost - fee);
        expect(payoutTx.inMessage.info.value.coins).toBeGreaterThanOrEqual(claimed.cost - fee);
        expect(node.ledger.accountOf(main.escrow.address, st0.epoch)!.claimedSeq).toBe(claimed.seq);
        const metrics = (await raw('GET', '/metrics')).text;
        expect(metrics).toMatch(/cocoon_worker_claims_total\{result="ok"\} 1\n/);
    });

    it('claims a small escrow as soon as its client starts closing it', async () => {
        const small = await openEscrow(net, w, 'client3', toNano('1'), PRICE);
        // opened after the node's start: it holds the node's key, no refresh needed
        expect((await small.escrow.getState()).teeKey).toBe(node.teeKey);
        const r = await ai(small, 'client3').chat.completions.create({ model: MODEL, messages, max_tokens: 5 });
        const cost = BigInt((r as any).cocoon_receipt.cost);
        expect(cost).toBeLessThan(THRESHOLD);
        // below the threshold and open: no claim
        const first = await node.runClaims();
        expect(first.filter((x) => x.escrow.equals(small.escrow.address))).toEqual([]);
        expect((await small.escrow.getState()).lastSeq).toBe(0n);

        const close = await small.escrow.send(small.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        expect(close.transactions).toHaveTransaction({ to: small.escrow.address, success: true });
        const closing = await small.escrow.getState();
        expect(closing.state).toBe(3n);
        node.refresh();
        // still served while the claim window is open...
        const r2 = await ai(small, 'client3').chat.completions.create({ model: MODEL, messages, max_tokens: 5 });
        expect((r2 as any).cocoon_receipt.seq).toBe('2');
        // ...and claimed by the loop because it is closing
        let st = closing;
        for (let i = 0; i < 100 && st.lastSeq < 2n; i++) {
            await new Promise((res) => setTimeout(res, 100));
            st = await small.escrow.getState();
        }
        expect(st.lastSeq).toBe(2n);
        expect(st.paid).toBe(BigInt((r2 as any).cocoon_receipt.cost));
        const mine = fx.claims.filter((x) => x.escrow.equals(small.escrow.address));
        expect(mine.every((x) => x.reason === 'closing' && x.ok)).toBe(true);
        expect(mine[mine.length - 1]).toMatchObject({ reason: 'closing', ok: true, seq: 2n, cost: st.paid });

        // near closeAt the node stops serving it (the margin keeps time to claim)
        net.chain.now = Number(closing.closeAt) - 60;
        node.refresh();
        await refused(ai(small, 'client3').chat.completions.create({ model: MODEL, messages, max_tokens: 5 }), 402, 'escrow_closing');
    });
});

describe('worker node configuration', () => {
    it('lists every bad field in one error', () => {
        let err: unknown = null;
        try {
            parseWorkerConfig({ port: 70000, root: 'nope', measurement: '0xzz', claim: { threshold: '-5' }, backend: { url: 'not a url' }, surprise: 1 });
        } catch (e) {
            err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        const paths = (err as ConfigError).issues.map((i) => i.path);
        expect(paths).toEqual(expect.arrayContaining(['port', 'backend.url', 'root', 'operator', 'measurement', 'dbPath', 'claim.threshold', '(root)']));
        expect((err as ConfigError).message).toContain('  - root: must be a TON address');
        expect((err as ConfigError).message).toContain("Unrecognized key(s) in object: 'surprise'");
    });

    const valid = { root: '0:' + '00'.repeat(32), operator: '0:' + '01'.repeat(32), measurement: '0x01', dbPath: '/tmp/x.db' };
    const issues = (raw: unknown) => {
        try {
            parseWorkerConfig(raw);
            return [];
        } catch (e) {
            return (e as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
        }
    };

    it('takes one model with its backend, or several models each with upstreams and capabilities', () => {
        expect(issues(valid)).toEqual(['model: Required (or give models)', 'backend: Required (or give models)']);
        const one = parseWorkerConfig({ ...valid, model: 'm', backend: { url: 'http://127.0.0.1:8000/v1', model: 'engine-m' } });
        expect(one.models).toEqual([{ name: 'm', upstreams: [{ url: 'http://127.0.0.1:8000/v1', model: 'engine-m' }], capabilities: ['chat', 'completions'],
            features: { tools: true, responseFormat: true, logprobs: false }, timeoutMs: 120_000 }]);
        const two = parseWorkerConfig({
            ...valid, models: [
                { name: 'llama', upstreams: [{ url: 'http://10.0.0.1:8000/v1' }, { url: 'http://10.0.0.2:8000/v1' }] },
                { name: 'bge', upstreams: [{ url: 'http://10.0.0.3:8000/v1' }], capabilities: ['embeddings'] },
            ],
        });
        expect(two.model).toBe('llama');
        expect(two.models.map((m) => [m.name, m.upstreams.length, m.capabilities])).toEqual([['llama', 2, ['chat', 'completions']], ['bge', 1, ['embeddings']]]);
        expect(two.upstreamHealth).toEqual({ intervalMs: 10_000, timeoutMs: 2_000, cooldownMs: 5_000 });
        expect(issues({ ...valid, models: [{ name: 'a', upstreams: [{ url: 'http://x/v1' }] }, { name: 'a', upstreams: [{ url: 'http://y/v1' }] }] })).toEqual(['models.1.name: a is listed twice']);
        expect(issues({ ...valid, model: 'm', backend: { url: 'http://x/v1' }, models: [{ name: 'm', upstreams: [{ url: 'http://x/v1' }] }] }))
            .toEqual(['backend: give either models or model + backend, not both']);
        expect(issues({ ...valid, models: [{ name: 'a,b', upstreams: [{ url: 'http://x/v1' }] }] })[0]).toMatch(/^models.0.name: a model name has no commas/);
        expect(issues({ ...valid, models: [{ name: 'a', upstreams: [] }] })[0]).toMatch(/^models.0.upstreams: /);
        expect(issues({ ...valid, models: [{ name: 'a', upstreams: [{ url: 'http://x/v1' }], capabilities: ['images'] }] })[0]).toMatch(/^models.0.capabilities.0: /);
    });

    it('fills defaults and parses amounts as bigint', () => {
        const c = parseWorkerConfig({
            model: 'm', backend: { url: 'http://127.0.0.1:8000/v1' }, root: '0:' + '00'.repeat(32), operator: '0:' + '01'.repeat(32),
            measurement: '0x01', dbPath: '/tmp/x.db', claim: { threshold: '123' },
        });
        expect(c.claim).toEqual({ threshold: 123n, intervalMs: 30_000, value: 50_000_000n, confirmTimeoutMs: 90_000 });
        expect([c.host, c.port, c.maxBodyBytes, c.measurement]).toEqual(['127.0.0.1', 8443, 1024 * 1024, 1n]);
    });
});

describe('chat body validation', () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const bodies: unknown[] = [
        base,
        { ...base, max_tokens: 5, stream: true, stream_options: { include_usage: true }, temperature: 0.7, top_p: 1, n: 1, stop: ['a', 'b'], seed: -3, user: 'x' },
        { ...base, messages: [{ role: 'system', content: null }, { role: 'user', content: [{ type: 'text', text: 'a' }], name: 'n' }] },
        { ...base, max_tokens: null, max_completion_tokens: 7, stop: 'x', stream: null },
        // zod strips unknown keys of a message: the fast path leaves such bodies to zod
        { ...base, messages: [{ role: 'assistant', content: 'x', tool_calls: [] }] },
        { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'a', cache: 1 }] }] },
        { ...base, stream_options: { include_usage: true, other: 1 } },
        // invalid
        {}, [], null, 'x', { ...base, model: '' }, { ...base, messages: [] }, { ...base, messages: [{ role: 'robot', content: 'x' }] },
        { ...base, messages: [{ role: 'user' }] }, { ...base, messages: [{ role: 'user', content: 1 }] }, { ...base, messages: [{ role: 'user', content: 'x', name: null }] },
        { ...base, max_tokens: 0 }, { ...base, max_tokens: 1.5 }, { ...base, max_completion_tokens: -1 }, { ...base, seed: 0.5 }, { ...base, stream: 'yes' },
        { ...base, temperature: 2.1 }, { ...base, top_p: -0.1 }, { ...base, n: 2 }, { ...base, stop: ['a', 'b', 'c', 'd', 'e'] }, { ...base, stop: [1] },
        { ...base, stream_options: { include_usage: 'no' } }, { ...base, messages: [{ role: 'user', content: [{ type: 'image', text: 'a' }] }] },
    ];

    it.each(bodies.map((b) => [JSON.stringify(b), b]))('agrees with the zod schema on %s', (_n, b) => {
        const json = JSON.parse(JSON.stringify(b));
        const z = chatBodySchema.safeParse(JSON.parse(JSON.stringify(b)));
        const f = parseChatBody(json);
        expect(f.success).toBe(z.success);
        if (f.success && z.success) expect(f.data).toEqual(z.data);
        if (!f.success && !z.success) expect(describeIssues(f.error)).toBe(describeIssues(z.error));
    });
});

describe('attestation providers', () => {
    const verifier = keyFromSeed(Buffer.alloc(32, 7));
    const statement = {
        root: Address.parse('0:' + 'aa'.repeat(32)), operator: Address.parse('0:' + 'bb'.repeat(32)), expiresAt: 1_800_100_000, issuedAt: 1_800_000_000,
        teeKey: 1n, measurement: 2n, tlsKeyHash: 3n, ...NO_QUOTE,
    };
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-tsm-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('the dev provider signs the statement with its verifier key', async () => {
        const { signed } = await new DevAttestationProvider(verifier).attest(statement);
        expect(verifySignedAttestation(signed)).toBe(true);
        expect(signed.signatures.map((s) => s.verifierKey)).toEqual([publicKeyToBigInt(verifier.publicKey)]);
        expect(signed.statementCell.hash().equals(buildStatementCell(statement).hash())).toBe(true);
    });

    it('TDX fails with a clear error where configfs-tsm is missing', async () => {
        const p = new TdxAttestationProvider({ verify: async () => { throw new Error('never called'); } }, { tsmPath: join(dir, 'no-tsm') });
        const err = await p.attest(statement).then(() => null, (e) => e);
        expect(err).toBeInstanceOf(TdxUnavailableError);
        expect(err.message).toMatch(/^TDX is not available on this machine: the configfs-tsm report directory does not exist/);
        expect(err.message).toContain('dev attestation provider');
    });

    it('TDX writes the key binding to inblob, reads the quote from outblob and removes the entry', async () => {
        const calls: string[] = [];
        // plays the kernel: a new entry shows its provider; writing inblob produces outblob
        const fakeFs: TsmFs = {
            existsSync: (p) => existsSync(p),
            mkdirSync: (p) => {
                calls.push('mkdir');
                mkdirSync(p);
                writeFileSync(join(p, 'provider'), 'tdx_guest\n');
            },
            writeFileSync: (p, d) => {
                calls.push('write ' + basename(p));
                writeFileSync(p, d);
                writeFileSync(join(dirname(p), 'outblob'), Buffer.concat([Buffer.from('QUOTE'), d]));
            },
            readFileSync: (p) => {
                calls.push('read ' + basename(p));
                return readFileSync(p);
            },
            rmdirSync: (p) => {
                calls.push('rmdir');
                rmSync(p, { recursive: true });
            },
        };
        let seen: Buffer | null = null;
        const p = new TdxAttestationProvider({
            verify: async (quote, st) => {
                seen = quote;
                return signStatement(st, verifier);
            },
        }, { tsmPath: dir, fs: fakeFs });
        const { signed, evidence } = await p.attest(statement);
        const reportData = keyBinding(statement);
        expect(TdxAttestationProvider.reportData(statement)).toEqual(reportData);
        // the binding covers root, operator, TEE key and TLS key, not the times or quote facts
        expect(TdxAttestationProvider.reportData({ ...statement, expiresAt: 1, tcbStatus: 0 })).toEqual(reportData);
        expect(TdxAttestationProvider.reportData({ ...statement, teeKey: 9n })).not.toEqual(reportData);
        expect(evidence).toEqual(Buffer.concat([Buffer.from('QUOTE'), reportData]));
        expect(seen).toEqual(evidence);
        expect(verifySignedAttestation(signed)).toBe(true);
        expect(calls).toEqual(['mkdir', 'read provider', 'write inblob', 'read outblob', 'rmdir']);
        expect(readdirSync(dir)).toEqual([]);
    });

    it('TDX refuses a TSM provider that is not tdx_guest', async () => {
        const fakeFs: TsmFs = {
            existsSync: (p) => existsSync(p),
            mkdirSync: (p) => {
                mkdirSync(p);
                writeFileSync(join(p, 'provider'), 'sev_guest\n');
            },
            writeFileSync: (p, d) => writeFileSync(p, d),
            readFileSync: (p) => readFileSync(p),
            rmdirSync: (p) => rmSync(p, { recursive: true }),
        };
        const p = new TdxAttestationProvider({ verify: async () => { throw new Error('never called'); } }, { tsmPath: dir, fs: fakeFs });
        await expect(p.attest(statement)).rejects.toThrow(/TDX is not available on this machine: the TSM provider is "sev_guest"/);
        expect(readdirSync(dir)).toEqual([]);
    });
});

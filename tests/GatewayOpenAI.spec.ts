// The stock `openai` package, with only baseURL changed, through the gateway to three sandbox
// worker nodes: whole and streamed answers, each receipt verified (checked again here against the
// chain) and stored on disk; bad input gets 4xx and the gateway keeps serving.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import OpenAI, { APIError } from 'openai';
import { Address, Cell } from '@ton/core';
import { Worker, ClientEscrow, parseSignedReceiptCell, verifyReceipt, bigIntToPublicKey } from '../src/sdk';
import { DEMO_MODEL, type LocalNetwork } from '../src/demo/localNetwork';
import { startNetwork, gatewayOn, type GatewayFixture } from './helpers/gateway';

jest.setTimeout(120_000);

/** A raw HTTP request to the gateway (bodies the openai package would never send). */
function raw(url: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string }> {
    return new Promise((resolve, reject) => {
        const u = new URL(path, url);
        const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => {
                let json: any = null;
                try { json = JSON.parse(text); } catch { /* not JSON */ }
                resolve({ status: res.statusCode ?? 0, json, text });
            });
        });
        req.on('error', reject);
        req.end(body);
    });
}

/** The receipt's signature checks against the Worker's TEE key read from the chain now, and it names the escrow. */
async function checkOnChain(net: LocalNetwork, workerAddr: string, wire: { boc: string; escrow: string; cost: string }) {
    const n = net.nodes.find((x) => x.worker.toString() === workerAddr)!;
    const info = await net.chain.open(Worker.fromAddress(n.worker)).getInfo();
    const signed = parseSignedReceiptCell(Cell.fromBase64(wire.boc));
    expect(verifyReceipt(signed, bigIntToPublicKey(info.teeKey))).toBe(true);
    expect(signed.receipt.escrow.toString()).toBe(wire.escrow);
    expect(signed.receipt.cost.toString()).toBe(wire.cost);
    return signed;
}

describe('gateway with the stock openai client (three sandbox workers)', () => {
    let net: LocalNetwork;
    let f: GatewayFixture;
    let ai: OpenAI;

    beforeAll(async () => {
        // 20 ms per token: each answer takes ~0.5 s, so three requests sent at once are in progress together
        net = await startNetwork(3, 20);
        f = await gatewayOn(net, { maxQueuePerWorker: 1, maxBodyBytes: 16 * 1024, bodyTimeoutMs: 1_000 });
        ai = f.openai();
    });

    afterAll(async () => {
        await f?.close();
        await net?.stop();
    });

    it('lists the model of the attested workers', async () => {
        const models = await ai.models.list();
        expect(models.data.map((m) => m.id)).toEqual([DEMO_MODEL]);
        expect((models.data[0] as any).cocoon.workers).toBe(3);
    });

    it('answers whole and streamed requests from all three workers, each receipt verified and stored', async () => {
        const workers = net.nodes.map((n) => n.worker.toString());
        // three at once, one escrow each: with one request queued per escrow they spread over the three workers
        const whole = await Promise.all([0, 1, 2].map((i) => ai.chat.completions.create({
            model: DEMO_MODEL, messages: [{ role: 'user', content: `whole question ${i}` }], max_tokens: 64,
        }).withResponse()));
        const wholeWorkers = whole.map((w) => w.response.headers.get('x-cocoon-worker'));
        expect(new Set(wholeWorkers)).toEqual(new Set(workers));
        for (const w of whole) {
            const body = w.data as any;
            expect(body.choices[0].message.content.length).toBeGreaterThan(0);
            expect(body.usage.total_tokens).toBeGreaterThan(0);
            const wire = body.cocoon_receipt;
            expect(w.response.headers.get('x-cocoon-cost')).toBe(wire.requestCost);
            expect(w.response.headers.get('x-cocoon-escrow')).toBe(wire.escrow);
            await checkOnChain(net, w.response.headers.get('x-cocoon-worker')!, wire);
        }

        const streamed = await Promise.all([0, 1, 2].map(async (i) => {
            const { data: stream, response } = await ai.chat.completions.create({
                model: DEMO_MODEL, messages: [{ role: 'user', content: `streamed question ${i}` }], max_tokens: 64, stream: true, stream_options: { include_usage: true },
            }).withResponse();
            let text = '';
            let last: any = null;
            let chunks = 0;
            for await (const c of stream) {
                chunks++;
                text += c.choices[0]?.delta?.content ?? '';
                last = c;
            }
            return { text, last, chunks, worker: response.headers.get('x-cocoon-worker')! };
        }));
        expect(new Set(streamed.map((s) => s.worker))).toEqual(new Set(workers));
        for (const s of streamed) {
            expect(s.text.length).toBeGreaterThan(0);
            expect(s.chunks).toBeGreaterThan(3);
            // the usage chunk (asked for) carries the verified receipt
            expect(s.last.choices).toEqual([]);
            expect(s.last.usage.total_tokens).toBeGreaterThan(0);
            await checkOnChain(net, s.worker, s.last.cocoon_receipt);
        }

        // stored: the latest receipt of each escrow, on disk (mode 0600), the one the worker's ledger holds last
        const file = join(f.stateDir, 'receipts.json');
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(statSync(f.stateDir).mode & 0o777).toBe(0o700);
        const rows = JSON.parse(readFileSync(file, 'utf8')) as { escrow: string; seq: string; cost: string }[];
        expect(rows).toHaveLength(3);
        for (const s of streamed) {
            const row = rows.find((r) => r.escrow === s.last.cocoon_receipt.escrow)!;
            expect(row.seq).toBe(s.last.cocoon_receipt.seq);
            const node = net.nodes.find((n) => n.worker.toString() === s.worker)!;
            const escrow = Address.parse(row.escrow);
            const st = await net.chain.open(ClientEscrow.fromAddress(escrow)).getState();
            const ledger = node.ledger.receipts(escrow, st.epoch);
            expect(ledger[ledger.length - 1].seq.toString()).toBe(row.seq);
            // two answers on the escrow: the whole one and the streamed one, totals add up
            expect(BigInt(row.cost)).toBe(BigInt(s.last.cocoon_receipt.cost));
        }
        const status = await f.gw.status();
        expect(status.totals.receiptsHeld).toBe(3);
        expect(status.escrows).toHaveLength(3);
        expect(status.actions.filter((a) => a.action === 'open' && a.ok)).toHaveLength(3);
        const spent = rows.reduce((s, r) => s + BigInt(r.cost), 0n);
        expect(BigInt(status.totals.spent)).toBe(spent);
    });

    it('refuses bad input with 4xx and keeps serving', async () => {
        const url = f.gw.url;
        const bad = await raw(url, 'POST', '/v1/chat/completions', '{"model": "x", "messages": [');
        expect([bad.status, bad.json?.error?.code]).toEqual([400, 'invalid_json']);
        const noMessages = await raw(url, 'POST', '/v1/chat/completions', JSON.stringify({ model: DEMO_MODEL }));
        expect([noMessages.status, noMessages.json?.error?.code]).toEqual([400, 'invalid_body']);
        expect(noMessages.json.error.message).toMatch(/messages/);
        const unknown = await ai.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
        expect(unknown).toBeInstanceOf(APIError);
        expect([unknown.status, unknown.code]).toEqual([404, 'model_not_found']);
        expect(unknown.message).toContain(DEMO_MODEL);
        const big = await raw(url, 'POST', '/v1/chat/completions', JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'x'.repeat(20_000) }] }));
        expect([big.status, big.json?.error?.code]).toEqual([413, 'body_too_large']);
        const wrongMethod = await raw(url, 'GET', '/v1/chat/completions');
        expect([wrongMethod.status, wrongMethod.json?.error?.code]).toEqual([405, 'method_not_allowed']);
        const nowhere = await raw(url, 'GET', '/v2/anything');
        expect([nowhere.status, nowhere.json?.error?.code]).toEqual([404, 'not_found']);
        // a body that never finishes: 408 after bodyTimeoutMs
        const slow = await new Promise<number>((resolve, reject) => {
            const u = new URL('/v1/chat/completions', url);
            const req = request({ hostname: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '100' }, agent: false }, (res) => {
                res.resume();
                resolve(res.statusCode ?? 0);
            });
            req.on('error', reject);
            req.write('{"model":');
        });
        expect(slow).toBe(408);
        // nothing of that reached a worker or the chain, and the gateway still answers
        const before = (await f.gw.status()).totals.receiptsHeld;
        const ok = await ai.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 16 });
        expect(ok.choices[0].message.content!.length).toBeGreaterThan(0);
        expect((await f.gw.status()).totals.receiptsHeld).toBe(before);
        const health = await raw(url, 'GET', '/healthz');
        expect([health.status, health.json.ok, health.json.usableWorkers]).toEqual([200, true, 3]);
        const metrics = await raw(url, 'GET', '/metrics');
        expect(metrics.text).toMatch(/cocoon_gateway_requests_total\{route="\/v1\/chat\/completions",status="413"\} 1/);
        expect(metrics.text).toMatch(/cocoon_gateway_requests_total\{route="\/v1\/chat\/completions",status="400"\} 2/);
        expect(metrics.text).toMatch(/cocoon_gateway_escrows\{state="open"\} 3/);
        expect(metrics.text).toMatch(/cocoon_gateway_chain_actions_total\{action="open",ok="true"\} 3/);
        expect(metrics.text).toMatch(/cocoon_gateway_worker_attempts_total\{outcome="ok"\} 7/);
    });

    it('with a local API key, refuses callers without it', async () => {
        await f.restart({ apiKey: 'local-secret-key-0123456789', maxQueuePerWorker: 1 });
        const url = f.gw.url;
        const none = await raw(url, 'POST', '/v1/chat/completions', JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }] }));
        expect([none.status, none.json?.error?.code]).toEqual([401, 'invalid_api_key']);
        const wrong = await raw(url, 'GET', '/gateway/status', undefined, { authorization: 'Bearer local-secret-key-0123456780' });
        expect(wrong.status).toBe(401);
        const keyed = new OpenAI({ baseURL: url + '/v1', apiKey: 'local-secret-key-0123456789', maxRetries: 0 });
        const ok = await keyed.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 });
        expect(ok.choices[0].message.content!.length).toBeGreaterThan(0);
        // the restarted gateway found its three escrows on-chain and its receipts on disk
        const st = await f.gw.status();
        expect(st.escrows.filter((e) => e.state === 'open')).toHaveLength(3);
        expect(st.actions.filter((a) => a.action === 'open')).toHaveLength(0);
        expect(f.logs.join('')).not.toContain('local-secret-key-0123456789');
    });
});

// Workers that fail: a node stopped mid-run (requests that fail before the worker answers are
// retried once on the next worker; later requests skip it), and workers whose receipts are bad
// (wrong signature, cumulative total going down, price above the cap): the answer is not passed on
// as paid, the worker is dropped (also after a restart), reported, and its escrow closed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import OpenAI, { APIError } from 'openai';
import { toNano } from '@ton/core';
import { ClientEscrow, ESCROW_CLOSING, escrowAddress } from '../src/sdk';
import { DEMO_MODEL, type LocalNetwork } from '../src/demo/localNetwork';
import { startNetwork, gatewayOn, type GatewayFixture } from './helpers/gateway';
import { startFakeWorker, type FakeWorker } from './helpers/fakeWorker';

jest.setTimeout(120_000);

const ask = (ai: OpenAI, content: string) => ai.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content }], max_tokens: 32 }).withResponse();

async function streamed(ai: OpenAI, content: string): Promise<{ text: string; usage: any; error: any; worker: string | null; attempts: string | null }> {
    const { data, response } = await ai.chat.completions.create({
        model: DEMO_MODEL, messages: [{ role: 'user', content }], max_tokens: 32, stream: true, stream_options: { include_usage: true },
    }).withResponse();
    let text = '';
    let usage: any = null;
    let error: any = null;
    try {
        for await (const c of data) {
            text += c.choices[0]?.delta?.content ?? '';
            if (c.usage) usage = c;
        }
    } catch (e) {
        error = e;
    }
    return { text, usage, error, worker: response.headers.get('x-cocoon-worker'), attempts: response.headers.get('x-cocoon-attempts') };
}

function metricsText(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
        request(new URL('/metrics', url), { agent: false }, (res) => {
            let t = '';
            res.on('data', (d) => (t += d));
            res.on('end', () => resolve(t));
        }).on('error', reject).end();
    });
}

describe('gateway failover and bad receipts', () => {
    let net: LocalNetwork;
    let f: GatewayFixture;
    let ai: OpenAI;
    const fakes: FakeWorker[] = [];

    beforeAll(async () => {
        net = await startNetwork(3);
        f = await gatewayOn(net, { cooldownSec: 600, budget: toNano('20') });
        ai = f.openai();
    });

    afterAll(async () => {
        await f?.close();
        for (const x of fakes) await x.close();
        await net?.stop();
    });

    it('a worker node stopped mid-run: the request that failed before its first byte is retried and succeeds; later ones go to the others', async () => {
        const [w1, w2, w3] = net.nodes.map((n) => n.worker.toString());
        const first = await ask(ai, 'before the stop');
        expect(first.response.headers.get('x-cocoon-worker')).toBe(w1); // the cheapest
        await net.nodes[0].stop();

        const retried = await ask(ai, 'worker 1 is gone');
        expect(retried.data.choices[0].message.content!.length).toBeGreaterThan(0);
        expect(retried.response.headers.get('x-cocoon-worker')).toBe(w2);
        expect(retried.response.headers.get('x-cocoon-attempts')).toBe('2');

        const later = await ask(ai, 'and later');
        expect(later.response.headers.get('x-cocoon-worker')).toBe(w2);
        expect(later.response.headers.get('x-cocoon-attempts')).toBe('1');
        const s1 = await streamed(ai, 'a stream later');
        expect(s1.error).toBeNull();
        expect([s1.worker, s1.attempts]).toEqual([w2, '1']);
        expect(s1.usage.cocoon_receipt.escrow).toBe(later.response.headers.get('x-cocoon-escrow'));

        const st = await f.gw.status();
        const row = st.workers.find((w) => w.worker === w1)!;
        expect(row.usable).toBe(false);
        expect(row.coolingDownSec).toBeGreaterThan(500);
        expect(row.lastError).toMatch(/cannot connect|ECONNREFUSED/);

        // a stream whose worker fails before answering is retried just the same
        await net.nodes[1].stop();
        const s2 = await streamed(ai, 'worker 2 is gone too');
        expect(s2.error).toBeNull();
        expect([s2.worker, s2.attempts]).toEqual([w3, '2']);
        expect(s2.text.length).toBeGreaterThan(0);
        expect(s2.usage.usage.total_tokens).toBeGreaterThan(0);
        expect(await metricsText(f.gw.url)).toMatch(/cocoon_gateway_retries_total 2/);
    });

    it('bad receipts: nothing passed on as paid, the worker dropped, reported and its escrow closed', async () => {
        // three cheaper workers that misbehave, each the cheapest in turn
        fakes.push(await startFakeWorker(net, 'fake-badsig', { price: toNano('10'), mode: 'badsig' }));
        fakes.push(await startFakeWorker(net, 'fake-rollback', { price: toNano('20'), mode: 'rollback' }));
        fakes.push(await startFakeWorker(net, 'fake-overprice', { price: toNano('30'), mode: 'overprice', chargePrice: toNano('300') }));
        await f.gw.registry.refresh();
        const [badsig, rollback, overprice] = fakes;
        const escrowOf = (w: FakeWorker) => escrowAddress(w.worker, f.wallet.address);

        // wrong signature, in a stream: the text came, then an error event instead of the usage chunk and [DONE]
        const s = await streamed(ai, 'sign this wrong');
        expect(s.worker).toBe(badsig.worker.toString());
        expect(s.text).toBe('Answer from a fake worker');
        expect(s.usage).toBeNull();
        expect(s.error).toBeInstanceOf(APIError);
        expect((s.error as APIError).code).toBe('bad_receipt');
        expect((s.error as APIError).message).toMatch(/BAD_RECEIPT_SIGNATURE/);

        // cumulative total going down: the first answer is fine, the second is withheld
        const okFirst = await ask(ai, 'first to the rollback worker');
        expect(okFirst.response.headers.get('x-cocoon-worker')).toBe(rollback.worker.toString());
        const rb = await ask(ai, 'second to the rollback worker').then(() => null, (e) => e);
        expect(rb).toBeInstanceOf(APIError);
        expect([rb.status, rb.code]).toEqual([502, 'bad_receipt']);
        expect(rb.message).toMatch(/STALE_RECEIPT/);
        expect(rb.message).not.toContain('Answer from a fake worker');

        // charged at a price above the cap
        const op = await ask(ai, 'overcharge me').then(() => null, (e) => e);
        expect([op?.status, op?.code]).toEqual([502, 'bad_receipt']);
        expect(op.message).toMatch(/COST_MISMATCH/);
        expect(overprice.state.requests).toBe(1);

        // the next request goes to a real worker, and none goes to a dropped one again
        const after = await ask(ai, 'now an honest one');
        expect(after.response.headers.get('x-cocoon-worker')).toBe(net.nodes[2].worker.toString());
        expect([badsig.state.requests, rollback.state.requests, overprice.state.requests]).toEqual([1, 2, 1]);

        // reported: status, metrics, dropped.json; no receipt kept from a bad answer
        const st = await f.gw.status();
        expect(st.dropped.map((d) => [d.worker, d.code])).toEqual([
            [badsig.worker.toString(), 'BAD_RECEIPT_SIGNATURE'], [rollback.worker.toString(), 'STALE_RECEIPT'], [overprice.worker.toString(), 'COST_MISMATCH'],
        ]);
        const persisted = JSON.parse(readFileSync(join(f.stateDir, 'dropped.json'), 'utf8'));
        expect(persisted.map((d: any) => d.code)).toEqual(['BAD_RECEIPT_SIGNATURE', 'STALE_RECEIPT', 'COST_MISMATCH']);
        const receipts = JSON.parse(readFileSync(join(f.stateDir, 'receipts.json'), 'utf8')) as { escrow: string; seq: string }[];
        expect(receipts.find((r) => r.escrow === (escrowOfSync(badsig)))).toBeUndefined();
        expect(receipts.find((r) => r.escrow === (escrowOfSync(overprice)))).toBeUndefined();
        expect(receipts.find((r) => r.escrow === (escrowOfSync(rollback)))?.seq).toBe('1'); // the good one, not the rollback
        const m = await metricsText(f.gw.url);
        expect(m).toMatch(/cocoon_gateway_bad_receipts_total\{code="BAD_RECEIPT_SIGNATURE"\} 1/);
        expect(m).toMatch(/cocoon_gateway_bad_receipts_total\{code="STALE_RECEIPT"\} 1/);
        expect(m).toMatch(/cocoon_gateway_bad_receipts_total\{code="COST_MISMATCH"\} 1/);
        expect(m).toMatch(/cocoon_gateway_workers\{condition="dropped"\} 3/);
        // their escrows are closing: the workers can claim during the dispute window, the rest comes back
        await f.gw.budget.idle();
        for (const w of fakes) {
            const e = await net.chain.open(ClientEscrow.fromAddress(await escrowOf(w))).getState();
            expect(e.state).toBe(ESCROW_CLOSING);
        }
        expect((await f.gw.status()).pendingWithdrawals).toHaveLength(3);

        // a restarted gateway does not go back to them
        // (its cooldowns start over: the two stopped nodes fail the first request, 502 after one retry;
        // the stock client's own retry then reaches the live worker)
        await f.restart();
        ai = new OpenAI({ baseURL: f.gw.url + '/v1', apiKey: 'unused', maxRetries: 1 });
        const again = await ask(ai, 'after a restart');
        expect(again.response.headers.get('x-cocoon-worker')).toBe(net.nodes[2].worker.toString());
        expect([badsig.state.requests, rollback.state.requests, overprice.state.requests]).toEqual([1, 2, 1]);
        expect((await f.gw.status()).dropped).toHaveLength(3);
        expect(existsSync(join(f.stateDir, 'dropped.json'))).toBe(true);

        function escrowOfSync(w: FakeWorker): string {
            return st.pendingWithdrawals.find((p) => p.worker === w.worker.toString())!.escrow;
        }
    });
});

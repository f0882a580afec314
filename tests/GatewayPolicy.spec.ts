// The gateway's pure parts: worker selection policy, stickiness, config validation, the worst case
// it tops up for, and the atomic writes its receipts rely on.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { writeFileAtomic } from '../src/client';
import { asPrices, type PriceSet } from '../src/sdk';
import {
    selectWorkers, WorkerStats, StickyMap, conversationKey, parseGatewayConfig, GatewayConfigError, worstCaseFor, servedModels, type Candidate,
} from '../src/gateway';

const addr = (i: number) => new Address(0, Buffer.alloc(32, i));
/** A candidate whose price is `price` in every token class (or the prices given). */
const cand = (i: number, price: bigint | PriceSet, o: Partial<Candidate> = {}): Candidate => ({
    worker: addr(i), key: addr(i).toRawString(), prices: plainPrices(price), expiresAt: 10_000, models: ['m'], ...o,
});
const plainPrices = (p: bigint | PriceSet): PriceSet => {
    const a = asPrices(p);
    return { prompt: a.prompt, cached: a.cached, completion: a.completion };
};
const NOW = 1_000;
const q = (o: Partial<Parameters<typeof selectWorkers>[2]> = {}) => ({
    model: 'm', now: NOW, nowMs: 5_000_000, maxPrice: plainPrices(100n), leaseMarginSec: 300, maxQueue: 2, hasEscrow: () => false, ...o,
});

describe('worker selection policy', () => {
    it('filters by model, price cap, lease margin, cooldown, drop and queue, each with its reason', () => {
        const stats = new WorkerStats();
        const cs = [
            cand(1, 50n), cand(2, 50n, { models: ['other'] }), cand(3, 101n), cand(4, 10n, { expiresAt: NOW + 299 }),
            cand(5, 10n), cand(6, 10n), cand(7, 10n), cand(8, 100n, { models: ['x', 'm'] }),
        ];
        stats.failure(cs[4].key, 'refused', 5_000_000, 1000);
        stats.drop(cs[5].key, 'BAD_RECEIPT_SIGNATURE', 1);
        stats.enqueue(cs[6].key);
        stats.enqueue(cs[6].key);
        const sel = selectWorkers(cs, stats, q());
        expect(sel.ranked.map((c) => c.key)).toEqual([cs[0].key, cs[7].key]);
        expect(Object.fromEntries(sel.skipped.map((s) => [s.key, s.reason]))).toEqual({
            [cs[1].key]: 'other-model', [cs[2].key]: 'above-max-price', [cs[3].key]: 'lease-ending',
            [cs[4].key]: 'cooling-down', [cs[5].key]: 'dropped', [cs[6].key]: 'queue-full',
        });
        // the cooldown ends
        expect(selectWorkers(cs, stats, q({ nowMs: 5_001_001 })).ranked.map((c) => c.key)).toContain(cs[4].key);
        // a lease of exactly the margin is enough
        expect(selectWorkers([cand(9, 1n, { expiresAt: NOW + 300 })], stats, q()).ranked).toHaveLength(1);
        // the cap holds in every class: above it in the cached class alone is skipped
        const cachedDear = cand(10, { prompt: 10n, cached: 101n, completion: 10n });
        expect(selectWorkers([cachedDear], stats, q()).skipped).toEqual([{ key: cachedDear.key, reason: 'above-max-price' }]);
    });

    it('orders prices by a typical request: 3 prompt tokens to 1 completion token', () => {
        const stats = new WorkerStats();
        const cheapCompletion = cand(1, { prompt: 30n, cached: 0n, completion: 10n });  // 100
        const cheapPrompt = cand(2, { prompt: 10n, cached: 50n, completion: 60n });     // 90
        expect(selectWorkers([cheapCompletion, cheapPrompt], stats, q()).ranked.map((c) => c.key)).toEqual([cheapPrompt.key, cheapCompletion.key]);
    });

    it('orders by sticky, price, existing escrow, latency, error rate, then address', () => {
        const stats = new WorkerStats();
        const a = cand(1, 20n), b = cand(2, 10n), c = cand(3, 10n), d = cand(4, 10n), e = cand(5, 10n);
        stats.success(c.key, 80);
        stats.success(d.key, 40);
        stats.success(e.key, 40);
        stats.failure(e.key, 'x', 0, 0); // same latency as d, but an error in its window
        const order = (o = {}) => selectWorkers([a, b, c, d, e], stats, q(o)).ranked.map((x) => x.key);
        // unmeasured b (latency 0) first among the cheapest, then by latency, then errors; the dearer a last
        expect(order()).toEqual([b.key, d.key, e.key, c.key, a.key]);
        // an escrow already open beats latency (no opening fee, no new deposit)
        expect(order({ hasEscrow: (k: string) => k === c.key })).toEqual([c.key, b.key, d.key, e.key, a.key]);
        // the conversation's worker first, even if dearer
        expect(order({ sticky: a.key })[0]).toBe(a.key);
        // a dropped sticky worker is not used
        stats.drop(a.key, 'STALE_RECEIPT', 1);
        expect(order({ sticky: a.key })).not.toContain(a.key);
        // excluded (already tried) workers are skipped
        expect(order({ exclude: new Set([b.key]) })[0]).toBe(d.key);
    });

    it('keeps latency as an EWMA and the error rate over the last 20 requests', () => {
        const s = new WorkerStats();
        s.success('k', 100);
        s.success('k', 200);
        expect(s.view('k').latencyMs).toBeCloseTo(130, 5);
        for (let i = 0; i < 20; i++) s.failure('k', 'x', 0, 0);
        expect(s.view('k').errorRate).toBe(1);
        for (let i = 0; i < 10; i++) s.success('k', 100);
        expect(s.view('k').errorRate).toBe(0.5);
        expect(s.view('k').requests).toBe(32);
        // bounded: the oldest idle workers are forgotten, dropped ones kept
        const small = new WorkerStats(3);
        small.drop('d', 'x', 1);
        for (const k of ['a', 'b', 'c', 'e']) small.success(k, 1);
        expect(small.isDropped('d')).toBe(true);
        expect(small.view('a').requests).toBe(0);
    });

    it('lists the models of usable workers (a measurement may name several)', () => {
        const stats = new WorkerStats();
        const cs = [cand(1, 50n, { models: ['a', 'b'] }), cand(2, 30n, { models: ['b'] }), cand(3, 500n, { models: ['c'] }), cand(4, 1n, { models: ['d'], expiresAt: NOW })];
        const m = servedModels(cs, stats, { now: NOW, maxPrice: plainPrices(100n), leaseMarginSec: 300 });
        expect([...m.keys()].sort()).toEqual(['a', 'b']);
        expect(m.get('b')).toEqual({ workers: 2, minPrices: plainPrices(30n) });
    });
});

describe('conversation stickiness', () => {
    it('keys a conversation by user, else by its first two messages', () => {
        const sys = { role: 'system', content: 'be brief' };
        const k1 = conversationKey({ model: 'm', messages: [sys, { role: 'user', content: 'hi' }] });
        const k2 = conversationKey({ model: 'm', messages: [sys, { role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'more' }] });
        const k3 = conversationKey({ model: 'm', messages: [sys, { role: 'user', content: 'other' }] });
        expect(k2).toBe(k1);
        expect(k3).not.toBe(k1);
        expect(conversationKey({ model: 'm', user: 'u1', messages: [{ role: 'user', content: 'a' }] }))
            .toBe(conversationKey({ model: 'm', user: 'u1', messages: [{ role: 'user', content: 'b' }] }));
    });

    it('forgets the least recently used conversation beyond its bound', () => {
        const m = new StickyMap(2);
        m.set('a', 'w1');
        m.set('b', 'w2');
        expect(m.get('a')).toBe('w1'); // a is now the most recent
        m.set('c', 'w3');
        expect(m.get('b')).toBeUndefined();
        expect(m.get('a')).toBe('w1');
        expect(m.size).toBe(2);
    });
});

describe('gateway config', () => {
    const base = { budget: toNano('10'), perWorkerDeposit: toNano('2'), maxPrice: toNano('1'), stateDir: join(tmpdir(), 'gw-config-test') };

    it('fills defaults and accepts loopback hosts', () => {
        const c = parseGatewayConfig(base);
        expect(c.host).toBe('127.0.0.1');
        expect(c.port).toBe(8080);
        expect(c.minWorkers).toBe(1);
        expect(parseGatewayConfig({ ...base, host: '::1' }).host).toBe('::1');
    });

    it.each([
        [{ host: '0.0.0.0' }, /not a loopback address/],
        [{ host: '10.0.0.5' }, /not a loopback address/],
        [{ perWorkerDeposit: toNano('11') }, /above the budget/],
        [{ minWorkers: 6 }, /no room for escrows with minWorkers=6/],
        [{ stateDir: join(process.cwd(), 'state') }, /inside the working directory/],
        [{ apiKey: 'short' }, /apiKey: a local API key needs at least 16 characters/],
        [{ budget: 0n }, /budget/],
        [{ port: 70000 }, /port/],
        [{ topUpBelow: 1 }, /topUpBelow/],
    ])('refuses %p', (over, re) => {
        expect(() => parseGatewayConfig({ ...base, ...over } as never)).toThrow(GatewayConfigError);
        expect(() => parseGatewayConfig({ ...base, ...over } as never)).toThrow(re);
    });
});

describe('worst case and atomic files', () => {
    it('bounds the cost of a request by its prompt bytes / 3 and max_tokens at the price', () => {
        const body = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(290) }], max_tokens: 1000 };
        const promptTokens = Math.ceil(Buffer.byteLength(JSON.stringify(body.messages)) / 3);
        // 1000 + ~103 tokens at 1e9 nanoton per 1M tokens
        expect(worstCaseFor(body, plainPrices(1_000_000_000n), 1024)).toBe(BigInt(Math.ceil((promptTokens + 1000) * 1000)));
        expect(worstCaseFor({ ...body, max_tokens: undefined }, plainPrices(1_000_000_000n), 1024)).toBe(BigInt(Math.ceil((promptTokens + 1024) * 1000)));
        // per class: the prompt at the dearer prompt price, max_tokens at the completion price
        expect(worstCaseFor(body, { prompt: 1_000_000_000n, cached: 2_000_000_000n, completion: 3_000_000_000n }, 1024))
            .toBe(BigInt(promptTokens * 2000 + 1000 * 3000));
    });

    it('writes files atomically with mode 0600 and leaves no temporary file', () => {
        const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
        try {
            const f = join(dir, 'sub', 'r.json');
            writeFileAtomic(f, '{"a":1}');
            writeFileAtomic(f, '{"a":2}');
            expect(readFileSync(f, 'utf8')).toBe('{"a":2}');
            expect(statSync(f).mode & 0o777).toBe(0o600);
            expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
            expect(readdirSync(join(dir, 'sub'))).toEqual(['r.json']);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

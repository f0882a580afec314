// The admission module on its own (src/worker/admission.ts), with every dependency faked: who gets
// in (headers only), what is held, when the in-flight limit applies, when an escrow is refreshed.
import { randomBytes } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { asPrices, keyFromSeed, mintApiKey, publicKeyToBigInt } from '../src/sdk';
import { AdmissionControl, SpendBook, createLogger, createMetrics, parseWorkerConfig, type EscrowSnapshot, type EscrowView } from '../src/worker';

const PRICE = toNano('0.5'); // 500 nanoton per token, every class
const PRICES = asPrices(PRICE);
const NOW = 1_800_000_000;
const ours = publicKeyToBigInt(keyFromSeed(Buffer.alloc(32, 9)).publicKey);
const older = publicKeyToBigInt(keyFromSeed(Buffer.alloc(32, 8)).publicKey);

function setup(o: { deposit?: bigint; escrowKey?: bigint; maxInflight?: number; healthy?: boolean; refreshFails?: boolean; caps?: ReturnType<typeof asPrices>; prices?: ReturnType<typeof asPrices> } = {}) {
    const client = keyFromSeed(randomBytes(32));
    const worker = new Address(0, randomBytes(32));
    const escrow = new Address(0, randomBytes(32));
    const snap: EscrowSnapshot = {
        address: escrow, worker, fetchedAt: Date.now(),
        state: {
            state: 2n, deposit: o.deposit ?? toNano('1'), paid: 0n, caps: o.caps ?? PRICES, epoch: 7n, lastSeq: 0n, lastTokens: 0n, lastCost: 0n, closeAt: 0n,
            teeKey: o.escrowKey ?? ours, clientKey: publicKeyToBigInt(client.publicKey), payUntil: BigInt(NOW + 86_400),
        } as any,
    };
    const refreshed: EscrowSnapshot[] = [];
    let healthy = o.healthy ?? true;
    const auth = parseWorkerConfig({ model: 'm', backend: { url: 'http://127.0.0.1:1/v1' }, root: escrow.toString(), operator: escrow.toString(), measurement: '0x1', dbPath: '/x' }).auth;
    const adm = new AdmissionControl({
        config: { maxInflight: o.maxInflight ?? 8, closingMarginSec: 600, auth }, worker, teeKey: ours,
        escrows: { lookup: async () => ({ kind: 'escrow', snap }), age: () => 0 } as unknown as EscrowView,
        workerInfo: async () => ({ active: true, teeKey: ours, prices: o.prices ?? PRICES }) as any, now: async () => NOW,
        positions: { known: () => ({ seq: 0n, promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n, cost: 0n }), hasSigned: () => false },
        ledgerHealth: () => (healthy ? { ok: true } : { ok: false, reason: 'the receipt ledger cannot write: disk full' }),
        refresh: async (s) => {
            refreshed.push(s);
            if (o.refreshFails) throw Object.assign(new Error('no'), { status: 503 });
            return s;
        },
        spend: new SpendBook({ spentBy: () => 0n }), counter: { countTexts: async () => 100 - 7 }, metrics: createMetrics(() => 0n), log: createLogger('silent'),
    });
    const req = (limit = 0n) => ({ headers: { authorization: `Bearer ${mintApiKey({ escrow, notAfter: NOW + 60, limit }, client)}` }, socket: { remoteAddress: '10.0.0.1' } }) as any;
    // 100 prompt tokens (counted: 93 text + 7 framing; the byte bound of 1011 does not fit), 100 max_tokens:
    // worst case 100 x 500 + 100 x 500 = 100,000 nanoton (whole nanoton per token: no rounding to allow for)
    const up = { promptBound: 1011, promptTexts: { texts: ['user', 'x'.repeat(1000)], framing: 7 }, maxTokens: 100 };
    return { adm, req, up, refreshed, setHealthy: (v: boolean) => (healthy = v) };
}

const status = async (p: Promise<unknown>) => p.then(() => 'ok', (e) => `${e.status} ${e.code ?? ''}`.trim());

describe('admission', () => {
    it('authenticates from the headers alone: a request whose body was never read', async () => {
        const { adm, req } = setup();
        const r = req();
        r.on = () => { throw new Error('the body must not be read'); };
        const p = await adm.authenticate(r);
        expect(p.key.notAfter).toBe(NOW + 60);
        expect(adm.inflight).toBe(0);
    });

    it('holds each request\'s worst case against the escrow; the one that does not fit gets 402; release gives it back', async () => {
        const { adm, req, up } = setup({ deposit: 250_000n }); // two worst cases of 100,000 fit, not three
        const p = await adm.authenticate(req());
        const a = await adm.admit(p, up);
        const b = await adm.admit(p, up);
        expect([a.reserved, b.reserved]).toEqual([100_000n, 100_000n]);
        expect(a.promptTokens).toBe(100);
        expect(await status(adm.admit(p, up))).toBe('402 insufficient_balance');
        adm.release(a, 60_000n);
        expect(await status(adm.admit(p, up))).toBe('ok');
        expect(adm.inflight).toBe(2);
    });

    it('counts only admitted requests against maxInflight', async () => {
        const { adm, req, up } = setup({ maxInflight: 2 });
        const p = await adm.authenticate(req());
        // authenticated but not admitted (e.g. still uploading their bodies): no place taken
        await Promise.all([adm.authenticate(req()), adm.authenticate(req()), adm.authenticate(req())]);
        expect(adm.inflight).toBe(0);
        const a = await adm.admit(p, up);
        await adm.admit(p, up);
        expect(await status(adm.admit(p, up))).toBe('429 too_many_requests');
        adm.release(a, 0n);
        expect(await status(adm.admit(p, up))).toBe('ok');
    });

    it('a ledger that cannot write refuses before anything else', async () => {
        const { adm, req, up, refreshed } = setup({ healthy: false, escrowKey: older });
        const p = await adm.authenticate(req());
        expect(await status(adm.admit(p, up))).toBe('503 ledger_unavailable');
        expect(refreshed).toEqual([]);
        expect(adm.inflight).toBe(0);
    });

    it('refreshes an escrow holding an older key only once the request fits; a failed refresh gives the hold back', async () => {
        const poor = setup({ deposit: 1000n, escrowKey: older });
        const pp = await poor.adm.authenticate(poor.req());
        expect(await status(poor.adm.admit(pp, poor.up))).toBe('402 insufficient_balance');
        expect(poor.refreshed).toEqual([]);

        const ok = setup({ escrowKey: older });
        const po = await ok.adm.authenticate(ok.req());
        await ok.adm.admit(po, ok.up);
        expect(ok.refreshed).toHaveLength(1);

        const failing = setup({ escrowKey: older, refreshFails: true, deposit: 150_000n });
        const pf = await failing.adm.authenticate(failing.req());
        expect(await status(failing.adm.admit(pf, failing.up))).toBe('503');
        expect(failing.adm.inflight).toBe(0);
        // the hold was given back: a request that needs the whole deposit again fits (and refreshes again)
        expect(await status(failing.adm.admit(pf, failing.up))).toBe('503');
        expect(failing.refreshed).toHaveLength(2);
    });

    it("a key's spend limit counts what its requests in progress hold; what they charge becomes spent", async () => {
        const { adm, req, up } = setup();
        const p = await adm.authenticate(req(250_000n));
        const a = await adm.admit(p, up);
        const b = await adm.admit(p, up);
        expect(await status(adm.admit(p, up))).toBe('402 spend_limit_reached');
        adm.release(a, 100_000n); // spent 100,000, held 100,000 (b)
        expect(await status(adm.admit(p, up))).toBe('402 spend_limit_reached');
        adm.release(b, 10_000n); // spent 110,000
        expect(await status(adm.admit(p, up))).toBe('ok'); // 110,000 + 100,000 <= 250,000
    });

    it('per class: the prompt is held at the dearer prompt price, max_tokens at the completion price', async () => {
        // 0.0002505 TON per prompt token: a fraction of a nanoton, so one nanoton more for a prompt split over two classes
        const prices = asPrices({ prompt: 250_500_000n, cached: toNano('0.05'), completion: toNano('0.8') });
        const { adm, req, up } = setup({ prices, caps: prices, deposit: 200_000n }); // the byte bound (about 333,000) does not fit: counted
        const p = await adm.authenticate(req());
        const a = await adm.admit(p, up);
        // 100 prompt x 250.5 + 1 + 100 completion x 800 nanoton
        expect(a.reserved).toBe(25_050n + 1n + 80_000n);
        expect(a.prices).toEqual(prices);
    });

    it('refuses (403 price_above_cap) a worker above the escrow\'s cap in one class only, naming it', async () => {
        const caps = asPrices({ prompt: toNano('0.5'), cached: toNano('0.1'), completion: toNano('1') });
        const { adm, req, up } = setup({ caps, prices: asPrices({ prompt: toNano('0.5'), cached: toNano('0.1') + 1n, completion: toNano('1') }) });
        const p = await adm.authenticate(req());
        const err = await adm.admit(p, up).then(() => null, (e) => e);
        expect(`${err.status} ${err.code}`).toBe('403 price_above_cap');
        expect(err.message).toMatch(/cached 100000001 > 100000000/);
        expect(adm.inflight).toBe(0);
    });
});

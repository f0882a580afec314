// The receipt ledger: committed before it returns, survives a reopen and a SIGKILL, sequence
// numbers only grow, the cost follows the cumulative pricing rule per token class, and a ledger of
// the single-price layout (schema 1) is refused when it holds receipts.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { Address, Cell } from '@ton/core';
import Database from 'better-sqlite3';
import { keyFromSeed, signReceipt, verifyReceipt, parseSignedReceiptCell, asPrices, type ClassTokens, type PriceSet } from '../src/sdk';
import { ReceiptLedger, LedgerOpenError, cumulativeCost, worstCaseCost, maxPosition, chainPosition, NO_TOKENS } from '../src/worker';

const tee = keyFromSeed(createHash('sha256').update('ledger-spec-tee').digest());
const escrowA = Address.parse('0:' + '11'.repeat(32));
const escrowB = Address.parse('0:' + '22'.repeat(32));
const PRICE = 500_000_000n; // 0.5 TON per million tokens
// completion dearest, cached cheapest
const PRICES: PriceSet = { prompt: 300_000_000n, cached: 75_000_000n, completion: 900_000_000n };
const sign = (r: Parameters<typeof signReceipt>[0]) => signReceipt(r, tee);
const cls = (promptTokens: bigint, cachedTokens = 0n, completionTokens = 0n): ClassTokens => ({ promptTokens, cachedTokens, completionTokens });
/** A request of `n` tokens: 60% uncached prompt, 10% cached, the rest completion. */
const mix = (n: bigint) => cls((n * 6n) / 10n, n / 10n, n - (n * 6n) / 10n - n / 10n);
const add = (a: ClassTokens, b: ClassTokens) => cls(a.promptTokens + b.promptTokens, a.cachedTokens + b.cachedTokens, a.completionTokens + b.completionTokens);
const plainClasses = (t: ClassTokens) => ({ promptTokens: t.promptTokens, cachedTokens: t.cachedTokens, completionTokens: t.completionTokens });

describe('ReceiptLedger', () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-ledger-'));
    });
    afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
    });

    it('uses WAL with synchronous=FULL', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        expect(l.settings()).toEqual({ journalMode: 'wal', synchronous: 2 });
        l.close();
    });

    it('issues monotonic cumulative receipts per escrow epoch and class, priced by the cumulative rule of each class', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        const sizes = [61n, 1n, 3n, 1999n, 0n, 7n];
        let tokens: ClassTokens = NO_TOKENS;
        let cost = 0n;
        sizes.forEach((n, i) => {
            const request = mix(n);
            const r = l.issue({ escrow: escrowA, epoch: 5n, request, prices: PRICES, caps: PRICES, sign });
            expect(r.seq).toBe(BigInt(i + 1));
            const next = add(tokens, request);
            // each class rounds down on its own cumulative total
            expect(r.requestCost).toBe(cumulativeCost(next, PRICES) - cumulativeCost(tokens, PRICES));
            tokens = next;
            cost += r.requestCost;
            expect(plainClasses(r)).toEqual(tokens);
            expect(plainClasses(r.request)).toEqual(request);
            expect(r.requestTokens).toBe(n);
            expect(r.tokens).toBe(tokens.promptTokens + tokens.cachedTokens + tokens.completionTokens);
            expect(r.cost).toBe(cost);
            expect(r.cost).toBe(cumulativeCost(tokens, PRICES));
            expect(r.requestCost).toBeLessThanOrEqual(worstCaseCost(request.promptTokens + request.cachedTokens, request.completionTokens, PRICES));
            const s = parseSignedReceiptCell(Cell.fromBoc(r.boc)[0]);
            expect(verifyReceipt(s, tee.publicKey)).toBe(true);
            expect(s.receipt.escrow.equals(escrowA)).toBe(true);
            expect({ ...s.receipt, escrow: null }).toEqual({ escrow: null, epoch: 5n, seq: r.seq, ...tokens, cost });
        });
        // another escrow and another epoch of the same escrow start over at seq 1
        expect(l.issue({ escrow: escrowB, epoch: 5n, request: mix(10n), prices: PRICES, caps: PRICES, sign }).seq).toBe(1n);
        expect(l.issue({ escrow: escrowA, epoch: 6n, request: mix(10n), prices: PRICES, caps: PRICES, sign }).seq).toBe(1n);
        expect(l.position(escrowA, 5n)).toEqual({ seq: 6n, ...tokens, cost });
        // receipts read back carry their classes
        const back = l.receipts(escrowA, 5n);
        expect(back.map((r) => plainClasses(r.request))).toEqual(sizes.map(mix));
        l.close();
    });

    it('never exceeds the escrow caps when the prices moved up, class by class', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        const caps = { prompt: 150n * 1_000_000n, cached: 10n * 1_000_000n, completion: 300n * 1_000_000n };
        l.issue({ escrow: escrowA, epoch: 1n, request: cls(1000n, 500n, 1000n), prices: { prompt: 100n * 1_000_000n, cached: 10n * 1_000_000n, completion: 200n * 1_000_000n }, caps, sign });
        const r = l.issue({ escrow: escrowA, epoch: 1n, request: cls(1000n, 500n, 1000n), prices: { prompt: 400n * 1_000_000n, cached: 40n * 1_000_000n, completion: 900n * 1_000_000n }, caps, sign });
        // the caps of all the tokens: 2000 x 150 + 1000 x 10 + 2000 x 300
        expect(r.cost).toBe(2000n * 150n + 1000n * 10n + 2000n * 300n);
        expect(r.cost * 1_000_000n).toBeLessThanOrEqual(r.promptTokens * caps.prompt + r.cachedTokens * caps.cached + r.completionTokens * caps.completion);
        l.close();
    });

    it('worst case: the prompt at the dearer prompt price, max_tokens at the completion price, plus a nanoton for the prompt split', () => {
        const p = { prompt: 1_500_000n, cached: 2_500_000n, completion: 7_000_000n };
        // 100 prompt tokens at 2.5 per token = 250; 10 completion at 7 = 70; +1
        expect(worstCaseCost(100n, 10n, p)).toBe(250n + 70n + 1n);
        // every split of a 7-token prompt and any start costs no more than the worst case
        for (let start = 0n; start < 40n; start += 3n) {
            for (let cached = 0n; cached <= 7n; cached++) {
                const t0 = cls(start, start * 2n, start);
                const t1 = add(t0, cls(7n - cached, cached, 5n));
                expect(cumulativeCost(t1, p) - cumulativeCost(t0, p)).toBeLessThanOrEqual(worstCaseCost(7n, 5n, p));
            }
        }
        expect(worstCaseCost(0n, 0n, p)).toBe(0n);
    });

    it('positions: the later of a ledger and the chain; the chain\'s sum goes to the class with the highest cap', () => {
        const caps = asPrices({ prompt: 10n, cached: 1n, completion: 30n });
        const chain = chainPosition({ lastSeq: 5n, lastTokens: 1000n, lastCost: 20n, caps });
        expect(chain).toEqual({ seq: 5n, promptTokens: 0n, cachedTokens: 0n, completionTokens: 1000n, cost: 20n });
        // a ledger at or past the chain (seq, sum, cost) is kept as it is: no tokens counted twice
        const ledger = { seq: 5n, promptTokens: 600n, cachedTokens: 100n, completionTokens: 300n, cost: 20n };
        expect(maxPosition(ledger, chain)).toBe(ledger);
        // a ledger behind the chain continues from the chain
        const behind = { seq: 3n, promptTokens: 500n, cachedTokens: 0n, completionTokens: 100n, cost: 9n };
        expect(maxPosition(behind, chain)).toBe(chain);
        // neither covers the other: the larger of each field
        const odd = { seq: 6n, promptTokens: 100n, cachedTokens: 0n, completionTokens: 0n, cost: 25n };
        expect(maxPosition(odd, chain)).toEqual({ seq: 6n, promptTokens: 100n, cachedTokens: 0n, completionTokens: 1000n, cost: 25n });
        expect(maxPosition(ledger, null)).toBe(ledger);
    });

    it('rolls back a receipt whose signing failed (no seq is used up)', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        const P = asPrices(PRICE);
        l.issue({ escrow: escrowA, epoch: 1n, request: cls(5n), prices: P, caps: P, sign });
        expect(() => l.issue({ escrow: escrowA, epoch: 1n, request: cls(5n), prices: P, caps: P, sign: () => { throw new Error('hsm down'); } })).toThrow('hsm down');
        expect(l.position(escrowA, 1n).seq).toBe(1n);
        expect(l.issue({ escrow: escrowA, epoch: 1n, request: cls(5n), prices: P, caps: P, sign }).seq).toBe(2n);
        l.close();
    });

    it('loses nothing across close and reopen, and continues the sequence', () => {
        const path = join(dir, 'l.db');
        const l1 = new ReceiptLedger(path);
        const issued = Array.from({ length: 25 }, (_, i) => l1.issue({ escrow: escrowA, epoch: 9n, request: mix(BigInt(10 + i)), prices: PRICES, caps: PRICES, sign }));
        l1.markSettled(escrowA, 9n, 10n, issued[9].cost);
        l1.close();
        const l2 = new ReceiptLedger(path);
        const back = l2.receipts(escrowA, 9n);
        expect(back.map((r) => [r.seq, plainClasses(r), r.cost, r.requestCost, plainClasses(r.request), r.signature.toString('hex'), r.boc.toString('base64')])).toEqual(
            issued.map((r) => [r.seq, plainClasses(r), r.cost, r.requestCost, plainClasses(r.request), r.signature.toString('hex'), r.boc.toString('base64')]),
        );
        const acc = l2.accountOf(escrowA, 9n)!;
        expect(acc.claimedSeq).toBe(10n);
        expect(acc.claimedCost).toBe(issued[9].cost);
        expect(l2.unclaimedTotal()).toBe(issued[24].cost - issued[9].cost);
        // settlement never moves backwards
        l2.markSettled(escrowA, 9n, 3n, issued[2].cost);
        expect(l2.accountOf(escrowA, 9n)!.claimedSeq).toBe(10n);
        const next = l2.issue({ escrow: escrowA, epoch: 9n, request: cls(0n, 0n, 1n), prices: PRICES, caps: PRICES, sign });
        expect(next.seq).toBe(26n);
        expect(next.tokens).toBe(issued[24].tokens + 1n);
        expect(next.completionTokens).toBe(issued[24].completionTokens + 1n);
        l2.markDone(escrowA, 9n);
        expect(l2.unsettled()).toEqual([]);
        l2.close();
    });

    it('keeps every receipt it returned when the process is killed with SIGKILL', async () => {
        const path = join(dir, 'crash.db');
        const ledgerModule = resolve(__dirname, '../src/worker/ledger.ts');
        const sdkModule = resolve(__dirname, '../src/sdk/index.ts');
        const code = `
            const { ReceiptLedger } = require(${JSON.stringify(ledgerModule)});
            const { keyFromSeed, signReceipt, asPrices } = require(${JSON.stringify(sdkModule)});
            const { Address } = require('@ton/core');
            const { createHash } = require('node:crypto');
            const fs = require('node:fs');
            const tee = keyFromSeed(createHash('sha256').update('ledger-spec-tee').digest());
            const l = new ReceiptLedger(${JSON.stringify(path)});
            const escrow = Address.parse('0:' + '11'.repeat(32));
            for (let i = 0; i < 100000; i++) {
                const p = asPrices(500000000n);
                const r = l.issue({ escrow, epoch: 1n, request: { promptTokens: 2n, cachedTokens: 0n, completionTokens: 1n }, prices: p, caps: p, sign: (x) => signReceipt(x, tee) });
                fs.writeSync(1, r.seq.toString() + '\\n');
            }
        `;
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', code], { cwd: resolve(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stderr.on('data', (d) => (err += d));
        const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, sig) => res(sig)));
        await new Promise<void>((res, rej) => {
            const t = setTimeout(() => rej(new Error('child produced too few receipts: ' + err)), 60_000);
            child.stdout.on('data', (d) => {
                out += d;
                if (out.split('\n').length > 40) {
                    clearTimeout(t);
                    child.kill('SIGKILL');
                    res();
                }
            });
        });
        expect(await exited).toBe('SIGKILL');
        const acknowledged = out.split('\n').filter((s) => /^\d+$/.test(s)).map((s) => BigInt(s));
        expect(acknowledged.length).toBeGreaterThanOrEqual(40);
        const l = new ReceiptLedger(path);
        const kept = l.receipts(escrowA, 1n);
        // every receipt the child had returned is there, and the sequence has no holes
        expect(kept.length).toBeGreaterThanOrEqual(acknowledged.length);
        expect(kept.map((r) => r.seq)).toEqual(kept.map((_, i) => BigInt(i + 1)));
        for (const s of acknowledged) expect(kept[Number(s) - 1].seq).toBe(s);
        expect(kept.every((r, i) => r.tokens === BigInt(3 * (i + 1)))).toBe(true);
        expect(l.position(escrowA, 1n).seq).toBe(BigInt(kept.length));
        l.close();
    });

    describe('a ledger of the single-price layout (schema 1)', () => {
        // the tables as a node before per-class pricing wrote them
        function schema1(path: string, receipts: number) {
            const db = new Database(path);
            db.exec(`
                CREATE TABLE accounts (escrow TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, tokens TEXT NOT NULL, cost TEXT NOT NULL,
                    claimed_seq INTEGER NOT NULL DEFAULT 0, claimed_cost TEXT NOT NULL DEFAULT '0', status TEXT NOT NULL DEFAULT 'open', updated_at INTEGER NOT NULL,
                    PRIMARY KEY (escrow, epoch));
                CREATE TABLE receipts (escrow TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, tokens TEXT NOT NULL, cost TEXT NOT NULL,
                    request_tokens TEXT NOT NULL, request_cost TEXT NOT NULL, signature BLOB NOT NULL, boc BLOB NOT NULL, created_at INTEGER NOT NULL,
                    tee_key TEXT, api_key TEXT, PRIMARY KEY (escrow, epoch, seq));
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE key_spend (key_id TEXT PRIMARY KEY, escrow TEXT NOT NULL, spent INTEGER NOT NULL, updated_at INTEGER NOT NULL);
                CREATE TABLE tee_keys (tee_key TEXT PRIMARY KEY, started_at INTEGER NOT NULL);
                INSERT INTO meta (key, value) VALUES ('schema', '1');`);
            for (let i = 1; i <= receipts; i++) {
                db.prepare(`INSERT INTO receipts VALUES (?, '1', ?, ?, ?, '10', '5', x'00', x'00', 0, NULL, NULL)`).run(escrowA.toRawString(), i, String(10 * i), String(5 * i));
            }
            if (receipts > 0) db.prepare(`INSERT INTO accounts (escrow, epoch, seq, tokens, cost, updated_at) VALUES (?, '1', ?, ?, ?, 0)`).run(escrowA.toRawString(), receipts, String(10 * receipts), String(5 * receipts));
            db.close();
        }

        it('holding receipts: refused, naming what it holds and what to do; the file is left as it was', () => {
            const path = join(dir, 'old.db');
            schema1(path, 3);
            const err = (() => {
                try {
                    new ReceiptLedger(path);
                    return null;
                } catch (e) {
                    return e as Error;
                }
            })();
            expect(err).toBeInstanceOf(LedgerOpenError);
            expect(err!.message).toMatch(/schema 1 ledger \(single-price receipts, tag CRCT\) holding 3 receipt\(s\), 1 escrow epoch\(s\) still open with 15 nanoton/);
            expect(err!.message).toMatch(/Run the cocoon-worker version that wrote it/);
            const db = new Database(path, { readonly: true });
            expect((db.prepare('SELECT COUNT(*) AS n FROM receipts').get() as { n: number }).n).toBe(3);
            expect((db.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string }).value).toBe('1');
            db.close();
        });

        it('empty: rebuilt in the per-class layout (schema 2), keeping its key records', () => {
            const path = join(dir, 'empty-old.db');
            schema1(path, 0);
            const db = new Database(path);
            db.prepare(`INSERT INTO tee_keys VALUES ('ab', 1)`).run();
            db.close();
            const l = new ReceiptLedger(path);
            expect(l.teeKeys()).toEqual([0xabn]);
            const r = l.issue({ escrow: escrowA, epoch: 1n, request: mix(100n), prices: PRICES, caps: PRICES, sign });
            expect(r.seq).toBe(1n);
            l.close();
            const check = new Database(path, { readonly: true });
            expect((check.prepare(`SELECT value FROM meta WHERE key = 'schema'`).get() as { value: string }).value).toBe('2');
            check.close();
        });
    });
});

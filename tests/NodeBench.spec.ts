// The worker node's throughput benchmark (bench/nodeLib.ts) at a small request count: it measures
// both targets in both modes, every request succeeds, every receipt verifies, and the ledger holds
// exactly one receipt per request. The 90% throughput target is reported by `npm run bench:node`,
// never asserted here (machines vary). Also the group-commit writer the node issues receipts with.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Address, Cell } from '@ton/core';
import {
    keyFromSeed, signReceipt, verifyReceipt, parseSignedReceiptCell, buildReceiptCell, receiptCellHash, signedReceiptBoc, signedReceiptCell, type UsageReceipt, asPrices,
} from '../src/sdk';
import { ReceiptLedger, GroupCommitWriter, signReceiptOffLoop, cumulativeCost } from '../src/worker';
import { runNodeBench, renderNodeMd, historyEntry, percentile, type NodeBenchResult } from '../bench/nodeLib';

describe('node throughput benchmark (small run)', () => {
    const REQUESTS = 100;
    const WARMUP = 20;
    const PROBE = 20;
    let r: NodeBenchResult;

    beforeAll(async () => {
        r = await runNodeBench({ requests: REQUESTS, warmup: WARMUP, rounds: 2, concurrency: 32, escrows: 3, probeRequests: PROBE, probeConcurrency: 4 });
    }, 60_000);

    it('measures the node and the backend in both modes, every request answered', () => {
        for (const m of [r.modes.nonStream, r.modes.stream!]) {
            for (const s of [m.backend, m.node]) {
                expect(s.requests).toBe(REQUESTS);
                expect(s.ok).toBe(REQUESTS);
                expect(s.failed).toBe(0);
                expect(s.errors).toEqual([]);
                expect(s.rps).toBeGreaterThan(0);
                // the backend waits 1 ms before each of its 50 tokens: no answer comes faster
                expect(s.p50Ms).toBeGreaterThanOrEqual(50);
                expect(s.p99Ms).toBeGreaterThanOrEqual(s.p50Ms);
                expect(s.maxMs).toBeGreaterThanOrEqual(s.p99Ms);
                expect(s.cpuMsPerRequest).toBeGreaterThan(0);
            }
            expect(m.ratio).toBeCloseTo(m.node.rps / m.backend.rps, 2);
            expect(m.addedP50Ms).toBeCloseTo(m.node.p50Ms - m.backend.p50Ms, 1);
            expect(m.nodeEventLoopUtilization).toBeGreaterThan(0);
            expect(m.nodeEventLoopUtilization).toBeLessThanOrEqual(1);
            // the node's own clock: the backend leg holds the 50 tokens, the handler fits in what the client saw
            const st = m.nodeStages;
            for (const v of [st.admitP50Ms, st.receiptP50Ms, st.respondP50Ms]) expect(v).toBeGreaterThanOrEqual(0);
            expect(st.backendP50Ms).toBeGreaterThanOrEqual(50);
            expect(st.receiptP90Ms).toBeGreaterThanOrEqual(st.receiptP50Ms);
            expect(st.receiptP50Ms).toBeGreaterThan(0); // a durable commit is never free
            expect(st.handlerP50Ms).toBeGreaterThanOrEqual(st.backendP50Ms);
            expect(st.handlerP50Ms).toBeLessThanOrEqual(m.node.p50Ms);
        }
        expect(r.nodeRps).toBe(r.modes.nonStream.node.rps);
        expect(r.backendRps).toBe(r.modes.nonStream.backend.rps);
        expect(r.ratio).toBe(r.modes.nonStream.ratio);
        expect(r.addedP50Ms).toBe(r.modes.nonStream.addedP50Ms);
        expect(r.meetsTarget).toEqual({ ratio: r.ratio >= 0.9, addedP50Ms: r.addedP50Ms < 2 });
        expect(r.fsyncP50Ms).toBeGreaterThan(0);
        expect(r.probe).toMatchObject({ requests: PROBE, concurrency: 4 });
        expect(r.probe!.nodeP50Ms).toBeGreaterThanOrEqual(50);
    });

    it('every node request got a receipt that verifies, and the ledger holds exactly those', () => {
        const nodeRequests = 2 * (WARMUP + REQUESTS) + PROBE; // both modes, plus the probe
        expect(r.checks).toEqual({
            nodeRequests, nodeOk: nodeRequests, receiptsReturned: nodeRequests, receiptsVerified: nodeRequests, ledgerReceipts: nodeRequests,
            ledgerSeqsConsecutive: true, allReceiptsInLedger: true,
        });
    });

    it('renders the report and a history line from the numbers', () => {
        const md = renderNodeMd(r, [historyEntry('this run', r)]);
        expect(md).toContain(`| non-stream | node | ${r.nodeRps} | ${r.modes.nonStream.node.p50Ms} |`);
        expect(md).toContain(`| non-stream | backend | ${r.backendRps} |`);
        expect(md).toContain(`| stream | node | ${r.modes.stream!.node.rps} |`);
        const st = r.modes.nonStream.nodeStages;
        expect(md).toContain(`| non-stream | ${st.admitP50Ms} | ${st.backendP50Ms} (${r.modes.nonStream.backend.p50Ms}) | ${st.receiptP50Ms} (${st.receiptP90Ms}) |`);
        expect(md).toContain(`| this run | ${r.env.date.slice(0, 16)} | ${r.nodeRps} | ${r.backendRps} | ${r.ratio} | ${r.addedP50Ms} |`);
    });

    it('takes nearest-rank percentiles', () => {
        const xs = Array.from({ length: 100 }, (_, i) => i + 1);
        expect([percentile(xs, 0.5), percentile(xs, 0.99), percentile(xs, 1), percentile([7], 0.5)]).toEqual([50, 99, 100, 7]);
    });
});

describe('group commit of receipts', () => {
    const tee = keyFromSeed(createHash('sha256').update('node-bench-spec-tee').digest());
    const escrows = ['11', '22', '33'].map((b) => Address.parse('0:' + b.repeat(32)));
    const PRICE = 500_000_000n;
    const P = asPrices(PRICE);
    /** A request of `n` tokens: all of them completion tokens. */
    const q = (n: bigint) => ({ promptTokens: 0n, cachedTokens: 0n, completionTokens: n });
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-group-'));
    });
    afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
    });

    it('signs off the event loop with the same bytes as the SDK', async () => {
        const u: UsageReceipt = { escrow: escrows[0], epoch: 3n, seq: 9n, promptTokens: 12345n, cachedTokens: 7n, completionTokens: 100n, cost: 6172500n };
        const a = await signReceiptOffLoop(u, tee);
        const b = signReceipt(u, tee);
        expect(a.signature.equals(b.signature)).toBe(true);
        expect(a.cell.hash().equals(b.cell.hash())).toBe(true);
        expect(verifyReceipt(a, tee.publicKey)).toBe(true);
    });

    it('hashes receipts and writes SignedReceipt BOCs natively, byte for byte as @ton/core', () => {
        const rnd = (bytes: number) => (bytes === 0 ? 0n : BigInt('0x' + createHash('sha256').update(`n${bytes}:${Math.random()}`).digest('hex').slice(0, 2 * bytes)));
        const U64 = (1n << 64n) - 1n;
        const edges: bigint[] = [0n, 1n, 127n, 128n, 255n, 256n, 65535n, U64, (1n << 120n) - 1n];
        const cases: UsageReceipt[] = [];
        for (let i = 0; i < 300; i++) {
            cases.push({
                escrow: new Address(i % 3 === 0 ? -1 : 0, createHash('sha256').update(`e${i}`).digest()),
                epoch: i % 5 === 0 ? U64 : rnd(i % 9), seq: i % 7 === 0 ? 0n : rnd(1 + (i % 8)),
                promptTokens: i % 11 === 0 ? U64 : rnd(i % 9), cachedTokens: rnd((i * 7) % 9), completionTokens: i % 13 === 0 ? U64 : rnd((i * 5) % 9),
                cost: i < edges.length ? edges[i] : rnd(i % 16),
            });
        }
        for (const u of cases) {
            const s = signReceipt(u, tee);
            expect(receiptCellHash(u).toString('hex')).toBe(buildReceiptCell(u).hash().toString('hex'));
            expect(signedReceiptBoc(u, s.signature).toString('hex')).toBe(signedReceiptCell(s).toBoc().toString('hex'));
        }
        expect(() => receiptCellHash({ ...cases[1], cost: 1n << 120n })).toThrow('receipt cost must fit in 120 bits');
        expect(() => receiptCellHash({ ...cases[1], seq: -1n })).toThrow('receipt seq must fit in 64 bits');
    });

    it('signs in its own thread with the writer\'s key: the same bytes as the SDK, in the ledger before they resolve', async () => {
        const ledger = new ReceiptLedger(join(dir, 'l.db'));
        const writer = new GroupCommitWriter(ledger, undefined, tee);
        const got = await Promise.all(Array.from({ length: 12 }, (_, i) =>
            writer.issue({ escrow: escrows[i % 2], epoch: 4n, request: q(BigInt(1000 + i)), prices: P, caps: P }),
        ));
        for (const r of got) {
            const s = signReceipt({ escrow: r.escrow, epoch: r.epoch, seq: r.seq, promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens, cost: r.cost }, tee);
            expect(r.signature.toString('hex')).toBe(s.signature.toString('hex'));
            expect(r.boc.toString('hex')).toBe(signedReceiptCell(s).toBoc().toString('hex'));
            expect(r.receiptCell.hash().equals(s.cell.hash())).toBe(true);
        }
        for (const e of escrows.slice(0, 2)) {
            expect(ledger.receipts(e, 4n).map((r) => r.boc.toString('hex'))).toEqual(got.filter((r) => r.escrow.equals(e)).map((r) => r.boc.toString('hex')));
        }
        await writer.close();
        // a writer without a key refuses a request without a signer, and issues nothing
        const keyless = new GroupCommitWriter(ledger);
        await expect(keyless.issue({ escrow: escrows[2], epoch: 4n, request: q(1n), prices: P, caps: P })).rejects.toThrow('no signer');
        await keyless.close();
        expect(ledger.position(escrows[2], 4n).seq).toBe(0n);
        ledger.close();
    });

    it('commits concurrent receipts in groups, consecutive per escrow, durable when they resolve', async () => {
        const path = join(dir, 'l.db');
        const ledger = new ReceiptLedger(path);
        const writer = new GroupCommitWriter(ledger);
        const asks = Array.from({ length: 90 }, (_, i) =>
            writer.issue({ escrow: escrows[i % 3], epoch: 1n, request: q(BigInt(10 + i)), prices: P, caps: P, sign: (u) => signReceiptOffLoop(u, tee) }),
        );
        const got = await Promise.all(asks);
        // fewer transactions than receipts: they were grouped
        expect(writer.stats.receipts).toBe(90);
        expect(writer.stats.commits).toBeLessThan(90);
        for (const [k, e] of escrows.entries()) {
            const mine = got.filter((r) => r.escrow.equals(e));
            expect(mine.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
            const tokens = Array.from({ length: 30 }, (_, i) => BigInt(10 + k + 3 * i)).reduce((a, b) => a + b, 0n);
            expect(ledger.position(e, 1n)).toEqual({ seq: 30n, ...q(tokens), cost: cumulativeCost(q(tokens), P) });
            expect(writer.position(e, 1n)).toEqual(ledger.position(e, 1n));
            // what the callers got is what the ledger holds, and it verifies
            expect(ledger.receipts(e, 1n).map((r) => r.boc.toString('base64'))).toEqual(mine.map((r) => r.boc.toString('base64')));
            for (const r of mine) expect(verifyReceipt(parseSignedReceiptCell(Cell.fromBoc(r.boc)[0]), tee.publicKey)).toBe(true);
        }
        await writer.close();
        ledger.close();
        // and a reopened ledger has them all
        const again = new ReceiptLedger(path);
        expect(escrows.map((e) => again.position(e, 1n).seq)).toEqual([30n, 30n, 30n]);
        again.close();
    });

    it('a failed commit refuses the groups pipelined behind it; the next receipts continue from disk without a hole', async () => {
        const path = join(dir, 'l.db');
        const ledger = new ReceiptLedger(path);
        const writer = new GroupCommitWriter(ledger, undefined, tee);
        const ask = (e: number, tokens: bigint) => writer.issue({ escrow: escrows[e], epoch: 1n, request: q(tokens), prices: P, caps: P });
        expect((await ask(0, 5n)).seq).toBe(1n); // the writer now remembers escrow 0 at seq 1
        // seq 2 of escrow 0 written behind the writer's back: its next commit for escrow 0 fails
        ledger.issue({ escrow: escrows[0], epoch: 1n, request: q(6n), prices: P, caps: P, sign: (u) => signReceipt(u, tee) });
        // another connection holds the write lock for a moment, so the groups queue up in the writer
        const lock = new Database(path);
        lock.exec('BEGIN IMMEDIATE');
        const turn = () => new Promise((r) => setImmediate(r));
        const failing = ask(0, 7n); // group 1: seq 2 of escrow 0 again
        failing.catch(() => undefined);
        await turn();
        // give the writer's thread time to take group 1 and block on the lock, so that group 2 comes
        // to it on its own, after group 1's transaction (not merged into it)
        const until = Date.now() + 200;
        while (Date.now() < until);
        const behind = [ask(1, 8n), ask(0, 100n)]; // group 2: planned on group 1's positions (escrow 0 seq 3)
        behind.forEach((p) => p.catch(() => undefined));
        await turn();
        expect(writer['inFlight']).toBe(2); // both handed over before either is answered
        lock.exec('COMMIT');
        lock.close();
        await expect(failing).rejects.toThrow(/could not commit: UNIQUE constraint failed/);
        const settled = await Promise.allSettled(behind);
        expect(settled.map((x) => x.status)).toEqual(['rejected', 'rejected']);
        for (const x of settled) expect((x as PromiseRejectedResult).reason.message).toMatch(/could not commit: an earlier commit failed/);
        // the writer takes groups again, from what is on disk
        const next = await Promise.all([ask(0, 10n), ask(1, 11n)]);
        expect(next.map((r) => [r.seq, r.tokens])).toEqual([[3n, 21n], [1n, 11n]]);
        expect(ledger.receipts(escrows[0], 1n).map((r) => r.seq)).toEqual([1n, 2n, 3n]);
        expect(ledger.receipts(escrows[1], 1n).map((r) => r.tokens)).toEqual([11n]);
        expect(writer.position(escrows[0], 1n)).toEqual(ledger.position(escrows[0], 1n));
        await writer.close();
        ledger.close();
    });

    it('a failed signature uses up no seq and holds back no other escrow', async () => {
        const ledger = new ReceiptLedger(join(dir, 'l.db'));
        const writer = new GroupCommitWriter(ledger);
        const ok = (u: UsageReceipt) => signReceiptOffLoop(u, tee);
        const asks = [
            writer.issue({ escrow: escrows[0], epoch: 1n, request: q(5n), prices: P, caps: P, sign: ok }),
            writer.issue({ escrow: escrows[0], epoch: 1n, request: q(6n), prices: P, caps: P, sign: async () => { throw new Error('hsm down'); } }),
            writer.issue({ escrow: escrows[0], epoch: 1n, request: q(7n), prices: P, caps: P, sign: ok }),
            writer.issue({ escrow: escrows[1], epoch: 1n, request: q(8n), prices: P, caps: P, sign: ok }),
        ];
        const settled = await Promise.allSettled(asks);
        expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        expect((settled[1] as PromiseRejectedResult).reason.message).toBe('hsm down');
        const seqTokens = (i: number) => {
            const v = (settled[i] as PromiseFulfilledResult<{ seq: bigint; tokens: bigint }>).value;
            return [v.seq, v.tokens];
        };
        // the third request of escrow 0 took seq 2 (not 3) after the failed one
        expect([seqTokens(0), seqTokens(2), seqTokens(3)]).toEqual([[1n, 5n], [2n, 12n], [1n, 8n]]);
        expect(ledger.receipts(escrows[0], 1n).map((r) => r.seq)).toEqual([1n, 2n]);
        await writer.close();
        ledger.close();
    });
});

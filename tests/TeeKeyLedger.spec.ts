// Issue 12 item 2: a TEE key and its ledger are one. No sequence of restarts, ledger swaps or
// restores makes the node sign two different receipts with the same (escrow, epoch, seq) under one
// key, nor two receipts of one key whose totals go backwards: each start makes a fresh key that
// lives in memory only, so whatever the disk holds, the key has never signed anything before.
//
// The adversaries: an operator who restores an OLD COPY of the live ledger while the client holds
// newer receipts, swaps in another or an empty ledger, restarts between a signature and its commit;
// and a client who withholds its latest receipts and then tries every pair it holds as a SlashProof.
// The honest client's book (the client library's checks) accepts every answer throughout.
import '@ton/test-utils';

import { copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Cell, toNano } from '@ton/core';
import { bigIntToPublicKey, parseSignedReceiptCell, tlsKeyHashOfCert, verifyReceipt, type SignedUsageReceipt, asPrices } from '../src/sdk';
import { DevBackend } from '../src/backend';
import { ReceiptLedger, type WorkerNodeHandle } from '../src/worker';
import { ReceiptBook, usageClassesOf, type WireReceipt } from '../src/client';
import { createNet, registerWorker, openEscrow, MODEL, type Net, type WorkerHandle, type EscrowHandle } from './helpers/network';
import { slashProofBody } from './helpers/money';
import { nodeFixture, apiKeyFor, openai, type NodeFixture } from './helpers/node';

const PRICE = toNano('0.5');
const ERR_BAD_PROOF_SIG = 1206;
const ERR_NOT_EQUIVOCATION = 1207;
const ERR_KEY_NOT_ACCOUNTABLE = 1213;

interface Held {
    signed: SignedUsageReceipt;
    boc: string;
}

/** A receipt's totals as one string: every class and the cost. */
const totals = (r: { promptTokens: bigint; cachedTokens: bigint; completionTokens: bigint; cost: bigint }) => `${r.promptTokens}/${r.cachedTokens}/${r.completionTokens}/${r.cost}`;

describe('a fresh TEE key per start: no restart, swap or restore makes the node contradict itself', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let fx: NodeFixture;
    let e: EscrowHandle;
    let node: WorkerNodeHandle | null = null;
    let live: string;
    const keys: bigint[] = [];
    /** Every receipt the (withholding) client received, in order. */
    const held: Held[] = [];
    /** The honest client's book: the client library's checks of every answer. */
    const book = new ReceiptBook();
    const notes: string[] = [];
    const stakeBefore = toNano('100');

    async function start(dbPath: string, deps: Parameters<NodeFixture['start']>[3] = {}) {
        node = await fx.start(w, dev, { dbPath, claim: { threshold: 1n, intervalMs: 3_600_000, value: toNano('0.05') } }, deps);
        keys.push(node.teeKey);
        return node;
    }

    async function stop() {
        await node?.stop();
        node = null;
    }

    /** One chat request; the receipt is kept (withheld from nobody but the worker) and checked as the client library does. */
    async function request(n = 1): Promise<string[]> {
        const codes: string[] = [];
        for (let i = 0; i < n; i++) {
            const info = await w.worker.getInfo();
            const st = await e.escrow.getState();
            try {
                const r = await openai(node!, apiKeyFor(net, e, 'client'), fx.agent).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `q${held.length}` }], max_tokens: 8 });
                const wire = (r as any).cocoon_receipt as WireReceipt;
                held.push({ signed: parseSignedReceiptCell(Cell.fromBase64(wire.boc)), boc: wire.boc });
                const after = await e.escrow.getState();
                const v = book.accept(wire, {
                    escrow: e.escrow.address, epoch: st.epoch, teeKey: (await w.worker.getInfo()).teeKey, prices: info.prices, caps: st.caps,
                    usage: usageClassesOf(r.usage as any), escrowKey: after.teeKey, settled: { seq: st.lastSeq, tokens: st.lastTokens, cost: st.lastCost },
                });
                if (v.note) notes.push(v.note);
                codes.push('ok');
            } catch (x) {
                const err = x as { status?: number; code?: string };
                codes.push(`${err.status} ${err.code}`);
            }
        }
        return codes;
    }

    /** A consistent copy of a ledger while its node may be running (SQLite's backup API). */
    async function backup(from: string, to: string) {
        const db = new Database(from);
        await db.backup(to);
        db.close();
    }

    /** Puts a copy in place of the ledger, as an operator restoring a file would (the stale WAL goes too). */
    function restore(copy: string, to: string) {
        for (const x of ['', '-wal', '-shm']) if (existsSync(to + x)) rmSync(to + x);
        copyFileSync(copy, to);
    }

    beforeAll(async () => {
        net = await createNet();
        fx = await nodeFixture(net);
        w = await registerWorker(net, 'op', stakeBefore, { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
        dev = await DevBackend.start({ tokens: 8, delayMs: 0 });
        e = await openEscrow(net, w, 'client', toNano('5'), PRICE);
        live = join(fx.dir, 'live.db');
    });

    afterAll(async () => {
        await stop();
        await dev?.stop();
        fx?.cleanup();
    });

    it('survives the adversarial script: restarts, an old copy restored, an empty ledger, a swapped ledger, a failed commit', async () => {
        // 1. serve; the client holds seq 1..3; the operator takes a backup
        await start(live);
        expect(await request(3)).toEqual(['ok', 'ok', 'ok']);
        await backup(live, join(fx.dir, 'backup-3.db'));
        // 2. two more; the client withholds them (the worker never claims them)
        expect(await request(2)).toEqual(['ok', 'ok']);
        // 3. plain restart on the live ledger: a new key continues from the ledger (carry-over, then seq 7)
        await stop();
        await start(live);
        expect(await request(1)).toEqual(['ok']);
        // 4. the OLD COPY is restored while the client holds newer receipts; the node continues with a new key
        await stop();
        restore(join(fx.dir, 'backup-3.db'), live);
        await start(live);
        expect(await request(2)).toEqual(['ok', 'ok']);
        // the worker lost receipts: the client's book noted it continued from lower totals (in the client's favour)
        expect(notes.length).toBeGreaterThanOrEqual(1);
        // 5. the node claims; then its volume is lost: an empty ledger
        expect((await node!.runClaims()).every((c) => c.ok)).toBe(true);
        const settled = await e.escrow.getState();
        expect(settled.lastSeq).toBeGreaterThan(0n);
        await stop();
        await start(join(fx.dir, 'empty.db'));
        expect(await request(2)).toEqual(['ok', 'ok']);
        // continued from what the chain settled, never below it
        const afterEmpty = book.latest(e.escrow.address)!;
        expect(afterEmpty.tokens - afterEmpty.requestTokens).toBeGreaterThanOrEqual(settled.lastTokens);
        // 6. the ledgers are swapped back (the restored live one, now behind the chain)
        await stop();
        await start(live);
        expect(await request(2)).toEqual(['ok', 'ok']);
        // 7. a restart between a signature and its commit: the writer signs, the commit fails (disk full)
        await stop();
        const pages = Number(new Database(live).pragma('page_count', { simple: true }));
        await start(live, { ledgerWriterPragmas: [`max_page_count = ${pages}`] });
        let failed = 'ok';
        for (let i = 0; i < 100 && failed === 'ok'; i++) [failed] = await request(1);
        expect(failed).toMatch(/^503 ledger_unavailable/);
        await stop();
        await start(live);
        expect(await request(2)).toEqual(['ok', 'ok']);
        // 8. an old copy once more, while the chain is ahead of it
        await stop();
        restore(join(fx.dir, 'backup-3.db'), live);
        await start(live);
        expect(await request(2)).toEqual(['ok', 'ok']);
        expect(new Set(keys).size).toBe(keys.length);
    });

    it('every key signed a single consistent history: no two receipts of one key share a seq with other totals or go backwards', async () => {
        // every receipt the client holds and every row of every ledger file
        const all: SignedUsageReceipt[] = held.map((h) => h.signed);
        for (const f of ['live.db', 'empty.db', 'backup-3.db']) {
            const l = new ReceiptLedger(join(fx.dir, f));
            for (const r of l.receipts(e.escrow.address, (await e.escrow.getState()).epoch)) all.push(parseSignedReceiptCell(Cell.fromBoc(r.boc)[0]));
            l.close();
        }
        const bySigner = new Map<bigint, SignedUsageReceipt[]>();
        for (const s of all) {
            const signers = keys.filter((k) => verifyReceipt(s, bigIntToPublicKey(k)));
            expect(signers).toHaveLength(1);
            bySigner.set(signers[0], [...(bySigner.get(signers[0]) ?? []), s]);
        }
        expect(bySigner.size).toBeGreaterThanOrEqual(5);
        let pairs = 0;
        for (const list of bySigner.values()) {
            for (const a of list) for (const b of list) {
                pairs++;
                const [x, y] = [a.receipt, b.receipt];
                // the SlashProof rule (contracts/worker.tact): same seq with other totals (any class or cost), or any total going backwards
                if (x.seq === y.seq) expect([x.promptTokens, x.cachedTokens, x.completionTokens, x.cost]).toEqual([y.promptTokens, y.cachedTokens, y.completionTokens, y.cost]);
                else if (x.seq < y.seq) {
                    expect(y.promptTokens >= x.promptTokens && y.cachedTokens >= x.cachedTokens && y.completionTokens >= x.completionTokens && y.cost >= x.cost).toBe(true);
                }
            }
        }
        expect(pairs).toBeGreaterThan(50);
        // across keys the same seqs carry other totals (that is the restore): the reason keys are fresh
        const seqs = new Map<bigint, Set<string>>();
        for (const s of all) seqs.set(s.receipt.seq, (seqs.get(s.receipt.seq) ?? new Set()).add(totals(s.receipt)));
        expect([...seqs.values()].some((v) => v.size > 1)).toBe(true);
    });

    it('the withholding client tries its pairs as SlashProofs, naming either key (earlier keys stay slashable): every one is refused, the stake is whole', async () => {
        const reporter = await net.chain.treasury('reporter');
        const signerOf = (h: Held) => keys.find((k) => verifyReceipt(h.signed, bigIntToPublicKey(k)))!;
        // the most damning pairs it has: same seq, other totals (the restores); and every pair of one key
        const bySeq = new Map<bigint, Held[]>();
        for (const h of held) bySeq.set(h.signed.receipt.seq, [...(bySeq.get(h.signed.receipt.seq) ?? []), h]);
        const conflicting = [...bySeq.values()].filter((v) => new Set(v.map((h) => totals(h.signed.receipt))).size > 1);
        expect(conflicting.length).toBeGreaterThan(0);
        const pairs: [Held, Held][] = [];
        for (const group of conflicting) for (const a of group) for (const b of group) if (a !== b) pairs.push([a, b]);
        const byKey = new Map<bigint, Held[]>();
        for (const h of held) byKey.set(signerOf(h), [...(byKey.get(signerOf(h)) ?? []), h]);
        for (const list of byKey.values()) if (list.length >= 2) pairs.push([list[list.length - 1], list[0]], [list[0], list[list.length - 1]]);
        const accountable = new Set([(await w.worker.getInfo()).teeKey, ...[...(await w.worker.getRetiredKeys()).keys()]]);
        // the keys of this test's starts are still accountable at the Worker (the current and the retired ones)
        expect(keys.filter((k) => accountable.has(k)).length).toBeGreaterThanOrEqual(2);
        const codes = new Set<number>();
        for (const [a, b] of pairs) {
            for (const key of new Set([signerOf(a), signerOf(b)])) {
                const r = await w.worker.send(reporter.getSender(), { value: toNano('0.2') }, slashProofBody(a.signed, b.signed, key));
                const tx = r.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.worker.address.toString())!;
                const exit = (tx.description as any).computePhase.exitCode as number;
                expect([ERR_BAD_PROOF_SIG, ERR_NOT_EQUIVOCATION, ERR_KEY_NOT_ACCOUNTABLE]).toContain(exit);
                // a pair of one accountable key reaches the equivocation check, and is not one
                if (signerOf(a) === signerOf(b) && accountable.has(key)) expect(exit).toBe(ERR_NOT_EQUIVOCATION);
                codes.add(exit);
            }
        }
        expect(codes.has(ERR_NOT_EQUIVOCATION)).toBe(true);
        expect(codes.has(ERR_BAD_PROOF_SIG)).toBe(true);
        const info = await w.worker.getInfo();
        expect(info.stake).toBe(stakeBefore);
        expect(info.active).toBe(true);
        // the escrow paid only what the node claimed, and holds the current key
        const st = await e.escrow.getState();
        expect(st.teeKey).toBe(info.teeKey);
        expect(st.paid).toBe(st.lastCost);
    });

    it('the ledger lists the (public) keys that signed in it; the node writes no key file', async () => {
        const l = new ReceiptLedger(live);
        const recorded = l.teeKeys();
        l.close();
        // the live ledger was last restored from the backup: it lists the key of that copy and the last start's
        expect(recorded).toEqual([keys[0], keys[keys.length - 1]]);
        // what the node put on disk: ledger files only (cert.pem and key.pem are the test's TLS files)
        const files = readdirSync(fx.dir).filter((f) => !/\.db(-wal|-shm)?$/.test(f));
        expect(files.sort()).toEqual(['cert.pem', 'key.pem']);
    });
});

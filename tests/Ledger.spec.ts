// The receipt ledger: committed before it returns, survives a reopen and a SIGKILL, sequence
// numbers only grow, and the cost follows the cumulative pricing rule.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { Address, Cell } from '@ton/core';
import { keyFromSeed, signReceipt, verifyReceipt, parseSignedReceiptCell } from '../src/sdk';
import { ReceiptLedger, cumulativeCost, costIncrement, worstCaseCost } from '../src/worker';

const tee = keyFromSeed(createHash('sha256').update('ledger-spec-tee').digest());
const escrowA = Address.parse('0:' + '11'.repeat(32));
const escrowB = Address.parse('0:' + '22'.repeat(32));
const PRICE = 500_000_000n; // 0.5 TON per million tokens
const sign = (r: Parameters<typeof signReceipt>[0]) => signReceipt(r, tee);

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

    it('issues monotonic cumulative receipts per escrow epoch, priced by the cumulative rule', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        const sizes = [61n, 1n, 3n, 1999n, 0n, 7n];
        let tokens = 0n;
        let cost = 0n;
        sizes.forEach((n, i) => {
            const r = l.issue({ escrow: escrowA, epoch: 5n, requestTokens: n, price: PRICE, maxPrice: PRICE, sign });
            expect(r.seq).toBe(BigInt(i + 1));
            expect(r.requestCost).toBe(costIncrement(tokens, tokens + n, PRICE));
            tokens += n;
            cost += r.requestCost;
            expect(r.tokens).toBe(tokens);
            expect(r.cost).toBe(cost);
            expect(r.cost).toBe(cumulativeCost(tokens, PRICE));
            expect(r.requestCost).toBeLessThanOrEqual(worstCaseCost(n, PRICE));
            const s = parseSignedReceiptCell(Cell.fromBoc(r.boc)[0]);
            expect(verifyReceipt(s, tee.publicKey)).toBe(true);
            expect(s.receipt.escrow.equals(escrowA)).toBe(true);
            expect({ ...s.receipt, escrow: null }).toEqual({ escrow: null, epoch: 5n, seq: r.seq, tokens, cost });
        });
        // another escrow and another epoch of the same escrow start over at seq 1
        expect(l.issue({ escrow: escrowB, epoch: 5n, requestTokens: 10n, price: PRICE, maxPrice: PRICE, sign }).seq).toBe(1n);
        expect(l.issue({ escrow: escrowA, epoch: 6n, requestTokens: 10n, price: PRICE, maxPrice: PRICE, sign }).seq).toBe(1n);
        expect(l.position(escrowA, 5n)).toEqual({ seq: 6n, tokens, cost });
        l.close();
    });

    it('never exceeds the escrow cap when the price moved up', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        l.issue({ escrow: escrowA, epoch: 1n, requestTokens: 1000n, price: 100n * 1_000_000n, maxPrice: 150n * 1_000_000n, sign });
        const r = l.issue({ escrow: escrowA, epoch: 1n, requestTokens: 1000n, price: 400n * 1_000_000n, maxPrice: 150n * 1_000_000n, sign });
        expect(r.cost).toBe(2000n * 150n);
        expect(r.cost * 1_000_000n).toBeLessThanOrEqual(r.tokens * 150n * 1_000_000n);
        l.close();
    });

    it('rolls back a receipt whose signing failed (no seq is used up)', () => {
        const l = new ReceiptLedger(join(dir, 'l.db'));
        l.issue({ escrow: escrowA, epoch: 1n, requestTokens: 5n, price: PRICE, maxPrice: PRICE, sign });
        expect(() => l.issue({ escrow: escrowA, epoch: 1n, requestTokens: 5n, price: PRICE, maxPrice: PRICE, sign: () => { throw new Error('hsm down'); } })).toThrow('hsm down');
        expect(l.position(escrowA, 1n).seq).toBe(1n);
        expect(l.issue({ escrow: escrowA, epoch: 1n, requestTokens: 5n, price: PRICE, maxPrice: PRICE, sign }).seq).toBe(2n);
        l.close();
    });

    it('loses nothing across close and reopen, and continues the sequence', () => {
        const path = join(dir, 'l.db');
        const l1 = new ReceiptLedger(path);
        const issued = Array.from({ length: 25 }, (_, i) => l1.issue({ escrow: escrowA, epoch: 9n, requestTokens: BigInt(10 + i), price: PRICE, maxPrice: PRICE, sign }));
        l1.markSettled(escrowA, 9n, 10n, issued[9].cost);
        l1.close();
        const l2 = new ReceiptLedger(path);
        const back = l2.receipts(escrowA, 9n);
        expect(back.map((r) => [r.seq, r.tokens, r.cost, r.signature.toString('hex'), r.boc.toString('base64')])).toEqual(
            issued.map((r) => [r.seq, r.tokens, r.cost, r.signature.toString('hex'), r.boc.toString('base64')]),
        );
        const acc = l2.accountOf(escrowA, 9n)!;
        expect(acc.claimedSeq).toBe(10n);
        expect(acc.claimedCost).toBe(issued[9].cost);
        expect(l2.unclaimedTotal()).toBe(issued[24].cost - issued[9].cost);
        // settlement never moves backwards
        l2.markSettled(escrowA, 9n, 3n, issued[2].cost);
        expect(l2.accountOf(escrowA, 9n)!.claimedSeq).toBe(10n);
        const next = l2.issue({ escrow: escrowA, epoch: 9n, requestTokens: 1n, price: PRICE, maxPrice: PRICE, sign });
        expect(next.seq).toBe(26n);
        expect(next.tokens).toBe(issued[24].tokens + 1n);
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
            const { keyFromSeed, signReceipt } = require(${JSON.stringify(sdkModule)});
            const { Address } = require('@ton/core');
            const { createHash } = require('node:crypto');
            const fs = require('node:fs');
            const tee = keyFromSeed(createHash('sha256').update('ledger-spec-tee').digest());
            const l = new ReceiptLedger(${JSON.stringify(path)});
            const escrow = Address.parse('0:' + '11'.repeat(32));
            for (let i = 0; i < 100000; i++) {
                const r = l.issue({ escrow, epoch: 1n, requestTokens: 3n, price: 500000000n, maxPrice: 500000000n, sign: (x) => signReceipt(x, tee) });
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
});

// The escrow's claim rewrites only the six counters of its state in place (contracts/escrow.tact,
// writeCounters) and reads its terms in their stored order. Both rely on the data layout: these tests
// fail if a field is added, removed or moved so that the counters are no longer the last fields
// before `terms`, or the terms no longer start with what the claim reads.
import '@ton/test-utils';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { BOOK_HEAD_BITS, BOOK_COUNTER_BITS, TERMS_KEY_BITS, TERMS_EPOCH_CAPS_BITS } from '../wrappers/ClientEscrow';
import { createNet, registerWorker, openEscrow, signedReceiptFor, claimBody } from './helpers/network';

type AbiField = { name: string; type: { type: string; format?: number | string; optional: boolean } };
const abi: { types: { name: string; fields: AbiField[] }[] } =
    JSON.parse(readFileSync(join(__dirname, '..', 'build', 'ClientEscrow', 'tact_ClientEscrow.abi'), 'utf8'));
const fieldsOf = (name: string) => abi.types.find((t) => t.name === name)!.fields.map((f) => [f.name, f.type.type, f.type.format ?? null]);
const COUNTERS = ['deposit', 'paid', 'feesOwed', 'lastSeq', 'lastTokens', 'lastCost'];

describe('ClientEscrow data layout', () => {
    it('is worker, client, then EscrowBook with state and closeAt first, the six uint64 counters, then terms', () => {
        expect(fieldsOf('ClientEscrow$Data')).toEqual([['worker', 'address', null], ['client', 'address', null], ['st', 'EscrowBook', null]]);
        const book = fieldsOf('EscrowBook');
        expect(book.slice(-7)).toEqual([...COUNTERS.map((n) => [n, 'uint', 64]), ['terms', 'cell', null]]);
        // the bits before the counters: two standard addresses and the other fields of EscrowBook
        const head = book.slice(0, -7).reduce((bits, [, , format]) => bits + Number(format), 2 * 267);
        expect(BigInt(head)).toBe(BOOK_HEAD_BITS);
        expect(BOOK_COUNTER_BITS).toBe(BigInt(COUNTERS.length * 64));
    });

    it('terms start with payUntil, teeKey, epoch and the caps, then feeBps and the operator, as the claim reads them', () => {
        expect(fieldsOf('EscrowTerms').slice(0, 8)).toEqual([
            ['payUntil', 'uint', 32], ['teeKey', 'uint', 256], ['epoch', 'uint', 64],
            ['capPrompt', 'uint', 64], ['capCached', 'uint', 64], ['capCompletion', 'uint', 64],
            ['feeBps', 'uint', 16], ['operator', 'address', null],
        ]);
        expect(TERMS_KEY_BITS).toBe(32n + 256n);
        expect(TERMS_EPOCH_CAPS_BITS).toBe(4n * 64n);
    });

    it('after claims the stored counters sit at BOOK_HEAD_BITS and the rest of the data is unchanged', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'layout-op');
        const e = await openEscrow(net, w, 'layout-client');
        const data = async () => (await net.chain.getContract(e.escrow.address)).account.account!.storage.state;
        const raw = async () => {
            const s = await data();
            if (s.type !== 'active') throw new Error('escrow not active');
            return s.state.data!;
        };
        const before = await raw();
        for (const [seq, cost] of [[1n, toNano('0.3')], [2n, toNano('0.7')]] as const) {
            const r = await signedReceiptFor(e, w.tee, { seq, cost, tokens: 2_000_000n });
            const res = await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
            expect(res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
        }
        const after = await raw();
        const st = await e.escrow.getState();
        const s = after.beginParse();
        const head = s.loadBits(Number(BOOK_HEAD_BITS));
        const counters = COUNTERS.map(() => s.loadUintBig(64));
        expect(counters).toEqual([st.deposit, st.paid, st.feesOwed, st.lastSeq, st.lastTokens, st.lastCost]);
        expect(st.lastSeq).toBe(2n);
        expect(st.paid).toBe(toNano('0.7'));
        // the head (addresses, state, closeAt) and the terms are exactly what they were before the claims
        const b = before.beginParse();
        expect(b.loadBits(Number(BOOK_HEAD_BITS)).equals(head)).toBe(true);
        b.skip(Number(BOOK_COUNTER_BITS));
        expect(s.remainingBits).toBe(1);
        expect(b.loadBit()).toBe(s.loadBit());
        expect(b.loadRef().hash().equals(s.loadRef().hash())).toBe(true);
        s.endParse();
    });
});

// Reputation the chain can prove: registered since, renewals, slashes, and the volume escrows settled
// (each escrow reports once per epoch, at its withdrawal; only the escrow the Worker derives counts).
import '@ton/test-utils';
import { toNano } from '@ton/core';
import { publicKeyToBigInt, signStatement, signReceipt, signedReceiptCell, storeEscrowSettled, ERR_NOT_ESCROW, type Reputation } from '../src/sdk';
import { createNet, registerWorker, openEscrow, makeStatement, seededKey, signedReceiptFor, claimBody, REGISTER_GAS, usage, type Net, type WorkerHandle } from './helpers/network';
import { failures } from './helpers/attacks';
import { beginCell } from '@ton/core';

const DAY = 86400;

function plainRep(r: Reputation) {
    return { registeredAt: r.registeredAt, renewals: r.renewals, slashes: r.slashes, settledEscrows: r.settledEscrows, settledVolume: r.settledVolume };
}

describe('reputation', () => {
    let net: Net;
    let w: WorkerHandle;
    let t0: number;

    beforeEach(async () => {
        net = await createNet();
        t0 = net.chain.now!;
        w = await registerWorker(net, 'op1');
    });

    const reattest = async (tee = w.tee, over = {}) => {
        const a = signStatement(makeStatement(net, w.operator.address, tee, over), net.verifier);
        return net.root.send(w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 0n, stake: 0n, attestation: a.cell });
    };

    it('starts at registration; counts renewals that took effect, not the ones that did not', async () => {
        expect(plainRep(await w.worker.getReputation())).toEqual({ registeredAt: BigInt(t0), renewals: 0n, slashes: 0n, settledEscrows: 0n, settledVolume: 0n });
        net.chain.now = t0 + DAY;
        expect(failures(await reattest())).toEqual([]);
        net.chain.now = t0 + 2 * DAY;
        expect(failures(await reattest(seededKey('tee:op1:2')))).toEqual([]);
        // an older statement does not take effect: not a renewal
        expect(failures(await reattest(w.tee, { issuedAt: t0 + 10 }))).toEqual([]);
        const r = await w.worker.getReputation();
        expect([r.registeredAt, r.renewals]).toEqual([BigInt(t0), 2n]);
    });

    it('counts a slash', async () => {
        const e = await openEscrow(net, w, 'client1');
        const st = await e.escrow.getState();
        const a = signReceipt(usage(e.escrow.address, st.epoch, { seq: 1n, tokens: 10n, cost: 1n }), w.tee);
        const b = signReceipt(usage(e.escrow.address, st.epoch, { seq: 1n, tokens: 10n, cost: 2n }), w.tee);
        const reporter = await net.chain.treasury('reporter');
        await w.worker.send(reporter.getSender(), { value: toNano('0.2') }, {
            $$type: 'SlashProof', queryId: 0n, key: publicKeyToBigInt(w.tee.publicKey), sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b),
        });
        expect((await w.worker.getReputation()).slashes).toBe(1n);
    });

    it('an escrow reports what it paid once, at its withdrawal; the client gets the report\'s leftover back', async () => {
        const e = await openEscrow(net, w, 'client1');
        for (const [seq, cost] of [[1n, toNano('0.5')], [2n, toNano('1.25')]] as const) {
            const r = await signedReceiptFor(e, w.tee, { seq, promptTokens: 6_000_000n, cachedTokens: 1_000_000n, completionTokens: 3_000_000n, cost });
            expect(failures(await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r)))).toEqual([]);
        }
        // claims alone report nothing: no message to the Worker per claim
        expect((await w.worker.getReputation()).settledVolume).toBe(0n);
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        net.chain.now = net.chain.now! + Number(net.params.disputeWindow);
        const res = await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(res)).toEqual([]);
        expect(res.transactions).toHaveTransaction({ from: e.escrow.address, to: w.worker.address, success: true, op: 0xc0c00222 });
        expect(res.transactions).toHaveTransaction({ from: w.worker.address, to: e.client.address, op: 0xd53276db });
        const rep = await w.worker.getReputation();
        expect([rep.settledEscrows, rep.settledVolume]).toEqual([1n, toNano('1.25')]);
        // a second epoch that paid nothing reports nothing
        const e2 = await openEscrow(net, w, 'client1');
        await e2.escrow.send(e2.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        net.chain.now = net.chain.now! + Number(net.params.disputeWindow);
        const res2 = await e2.escrow.send(e2.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(res2.transactions).not.toHaveTransaction({ from: e2.escrow.address, to: w.worker.address });
        expect((await w.worker.getReputation()).settledEscrows).toBe(1n);
    });

    it('a report from anything but the escrow the Worker derives is refused: nothing counts', async () => {
        const forger = await net.chain.treasury('forger');
        const body = beginCell().store(storeEscrowSettled({ $$type: 'EscrowSettled', client: forger.address, paid: toNano('1000000') })).endCell();
        const res = await forger.send({ to: w.worker.address, value: toNano('0.1'), body, bounce: true });
        expect(res.transactions).toHaveTransaction({ to: w.worker.address, success: false, exitCode: Number(ERR_NOT_ESCROW) });
        // a genuine escrow of ANOTHER worker reporting to this one (withdrawn after paying) is refused too
        const other = await registerWorker(net, 'op2');
        const e = await openEscrow(net, other, 'client1');
        const r = await signedReceiptFor(e, other.tee, { seq: 1n, tokens: 10_000_000n, cost: toNano('1') });
        await e.escrow.send(other.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
        expect((await e.escrow.getState()).paid).toBe(toNano('1'));
        // (its own report goes to its own Worker, which counts it)
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        net.chain.now = net.chain.now! + Number(net.params.disputeWindow);
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect((await other.worker.getReputation()).settledVolume).toBe(toNano('1'));
        expect(plainRep(await w.worker.getReputation())).toMatchObject({ settledEscrows: 0n, settledVolume: 0n });
    });
});

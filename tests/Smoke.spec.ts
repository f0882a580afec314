import '@ton/test-utils';
import { toNano } from '@ton/core';
import { createNet, registerWorker, openEscrow, signedReceiptFor, claimBody } from './helpers/network';

describe('smoke', () => {
    it('registers a worker, opens an escrow and settles a claim', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op1');
        expect(w.result.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, deploy: true, success: true });
        const info = await w.worker.getInfo();
        expect(info.active).toBe(true);
        expect(info.stake).toBe(toNano('100'));
        expect(await net.root.getTotalStake()).toBe(toNano('100'));
        const e = await openEscrow(net, w, 'client1');
        const st = await e.escrow.getState();
        expect(st.state).toBe(2n);
        const r = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: 1000n, cost: toNano('0.0005') });
        const res = await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r) as any);
        for (const tx of res.transactions) {
            const d: any = tx.description;
            if (d.type === 'generic' && d.computePhase.type === 'vm') console.log('gas', d.computePhase.gasUsed, d.computePhase.exitCode);
        }
        expect(res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
        const st2 = await e.escrow.getState();
        expect(st2.paid).toBe(toNano('0.0005'));
        expect(st2.feesOwed).toBe(toNano('0.0005') * 500n / 10000n);
    });
});

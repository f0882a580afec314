// Staker rewards: pro-rata funding, claims, stake changes settled first, rounding dust, protocol fee
// share, and the treasury kept apart from the reward pool.
import '@ton/test-utils';
import { Blockchain, BlockchainSnapshot } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { ERR_NO_ACTIVE_STAKE, ERR_TREASURY_TOO_LOW, ERR_NOT_OWNER, ERR_INSUFFICIENT_VALUE } from '../src/sdk';
import { createNet, registerWorker, openEscrow, signedReceiptFor, claimBody, Net, WorkerHandle } from './helpers/network';
import { Ledger, tracked, paymentsTo, OP, slashProofBody, equivocatingPair } from './helpers/money';

const SCALE = 10n ** 18n;
const BPS = 10000n;
const FUND_GAS = toNano('0.05');
const CLAIM_GAS = toNano('0.2');

describe('rewards', () => {
    let net: Net;
    let chain: Blockchain;
    let ws: WorkerHandle[];
    let snap: BlockchainSnapshot;
    let ledger: Ledger;
    const STAKES = [toNano('10'), toNano('33.333333333'), toNano('57.000000007')];

    beforeAll(async () => {
        net = await createNet();
        chain = net.chain;
        ws = [];
        for (let i = 0; i < STAKES.length; i++) ws.push(await registerWorker(net, 'op' + i, STAKES[i]));
        expect(await net.root.getTotalStake()).toBe(STAKES[0] + STAKES[1] + STAKES[2]);
        snap = chain.snapshot();
    });

    beforeEach(async () => {
        await chain.loadFrom(snap);
        ledger = new Ledger([net.root.address, ...ws.map((w) => w.worker.address)]);
    });

    async function fund(amount: bigint, from = 'funder') {
        const funder = await chain.treasury(from);
        return tracked(ledger, chain, () => net.root.send(funder.getSender(), { value: amount + FUND_GAS }, { $$type: 'FundRewards', queryId: 0n, amount }));
    }

    async function pending(w: WorkerHandle): Promise<bigint> {
        return w.worker.getPendingRewards((await net.root.getRewardState()).acc);
    }

    async function claimRewards(w: WorkerHandle): Promise<bigint> {
        const t = await tracked(ledger, chain, () => w.worker.send(w.operator.getSender(), { value: CLAIM_GAS }, { $$type: 'ClaimRewards', queryId: 9n }));
        const paid = paymentsTo(t.payments, w.operator.address, OP.RewardsPaid);
        expect(paid).toHaveLength(1);
        expect(paid[0].value).toBeGreaterThanOrEqual(paid[0].amount!);
        return paid[0].amount!;
    }

    async function rootSurplus(): Promise<bigint> {
        const rs = await net.root.getRewardState();
        return (await chain.getContract(net.root.address)).balance - rs.treasury - rs.rewardPool;
    }

    it('FundRewards is shared pro rata to stake, exactly as the accumulator says, and claims pay it', async () => {
        const amount = toNano('1') + 7n;
        const total = STAKES[0] + STAKES[1] + STAKES[2];
        const rs0 = await net.root.getRewardState();
        const t = await fund(amount);
        // the funder's change comes back, the amount stays in the root
        expect(paymentsTo(t.payments, (await chain.treasury('funder')).address, OP.Excesses)).toHaveLength(1);
        expect(t.heldDelta).toBe(amount);
        const rs1 = await net.root.getRewardState();
        const dAcc = amount * SCALE / total;
        expect(rs1.acc - rs0.acc).toBe(dAcc);
        expect(rs1.rewardPool - rs0.rewardPool).toBe(amount);
        let sum = 0n;
        for (let i = 0; i < ws.length; i++) {
            const expected = STAKES[i] * dAcc / SCALE;
            expect(await pending(ws[i])).toBe(expected);
            expect(await claimRewards(ws[i])).toBe(expected);
            expect(await pending(ws[i])).toBe(0n);
            sum += expected;
        }
        // rounding dust stays in the pool
        expect(sum).toBeLessThanOrEqual(amount);
        expect((await net.root.getRewardState()).rewardPool).toBe(amount - sum);
        expect(amount - sum).toBeLessThan(BigInt(ws.length) + 1n);
        // a second claim pays nothing more
        expect(await claimRewards(ws[0])).toBe(0n);
        expect(await rootSurplus()).toBeGreaterThanOrEqual(0n);
    });

    it('stake changes settle first: nobody earns on stake it did not have yet or any more', async () => {
        const [a, b, c] = ws;
        const pend = async () => Promise.all(ws.map(pending));
        // everybody is paid up first
        await fund(toNano('1'));
        const base = await pend();

        // top-up of a: counted only from the moment the root applied it
        const topUp = toNano('40');
        await a.worker.send(a.operator.getSender(), { value: topUp + toNano('0.2') }, { $$type: 'TopUpStake', queryId: 0n, amount: topUp });
        const stakes = [STAKES[0] + topUp, STAKES[1], STAKES[2]];
        expect(await net.root.getTotalStake()).toBe(stakes[0] + stakes[1] + stakes[2]);
        expect(await pend()).toEqual(base);
        let acc0 = (await net.root.getRewardState()).acc;
        await fund(toNano('2'));
        let dAcc = (await net.root.getRewardState()).acc - acc0;
        let now = await pend();
        // a was synced at its top-up (accrued = base[0], checkpoint = acc0); b and c were not synced since registration
        expect(now[0]).toBe(base[0] + stakes[0] * dAcc / SCALE);
        for (const i of [1, 2]) expect(now[i]).toBe(stakes[i] * (acc0 + dAcc) / SCALE);

        // unbond of b: earns nothing after the root applied it
        const before = await pend();
        await b.worker.send(b.operator.getSender(), { value: toNano('0.2') }, { $$type: 'Unbond', queryId: 0n });
        expect(await net.root.getTotalStake()).toBe(stakes[0] + stakes[2]);
        acc0 = (await net.root.getRewardState()).acc;
        await fund(toNano('3'));
        dAcc = (await net.root.getRewardState()).acc - acc0;
        now = await pend();
        expect(now[1]).toBe(before[1]);
        expect(now[0] - before[0]).toBeGreaterThan(0n);
        expect(now[2] - before[2]).toBeGreaterThan(0n);
        expect(dAcc).toBe(toNano('3') * SCALE / (stakes[0] + stakes[2]));

        // a new registration earns only from its approval on
        const d = await registerWorker(net, 'op-late', toNano('20'));
        ledger.add(d.worker.address);
        expect(await pending(d)).toBe(0n);
        await fund(toNano('1'));
        const total = stakes[0] + stakes[2] + toNano('20');
        expect(await pending(d)).toBe(toNano('20') * (toNano('1') * SCALE / total) / SCALE);

        // a slashed worker stops earning on what it lost
        const beforeSlash = await pending(c);
        const e = await openEscrow(net, c, 'client-c');
        const reporter = await chain.treasury('reporter');
        const pair = equivocatingPair(e.escrow.address, (await e.escrow.getState()).epoch, c.tee);
        await c.worker.send(reporter.getSender(), { value: toNano('0.2') }, slashProofBody(pair[0], pair[1], c.tee));
        expect(await net.root.getTotalStake()).toBe(stakes[0] + toNano('20'));
        const afterSlash = await pending(c);
        await fund(toNano('1'));
        expect(await pending(c)).toBe(afterSlash);
        expect(afterSlash).toBeGreaterThanOrEqual(beforeSlash);
        // whoever stopped earning can still collect what it earned
        expect(await claimRewards(b)).toBe(before[1]);
        expect(await claimRewards(c)).toBe(afterSlash);
    });

    it('the sum paid never exceeds the sum funded across many odd amounts', async () => {
        let funded = 0n;
        let paid = 0n;
        for (const amount of [1n, 999n, toNano('0.123456789'), 7n, toNano('3') + 1n]) {
            await fund(amount);
            funded += amount;
            for (const w of ws) paid += await claimRewards(w);
            expect(paid).toBeLessThanOrEqual(funded);
        }
        const rs = await net.root.getRewardState();
        expect(rs.rewardPool).toBe(funded - paid);
        expect(await rootSurplus()).toBeGreaterThanOrEqual(0n);
    });

    it('FundRewards with no active stake is refused (ERR_NO_ACTIVE_STAKE) and the funds come back', async () => {
        const empty = await createNet();
        const funder = await empty.chain.treasury('funder');
        const res = await empty.root.send(funder.getSender(), { value: toNano('1.05') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('1') });
        expect(res.transactions).toHaveTransaction({ to: empty.root.address, success: false, exitCode: Number(ERR_NO_ACTIVE_STAKE) });
        expect(res.transactions).toHaveTransaction({ from: empty.root.address, to: funder.address, inMessageBounced: true });
        expect((await empty.root.getRewardState()).rewardPool).toBe(0n);
    });

    it("protocol fees: the stakers' share is distributed pro rata, the rest goes to the treasury", async () => {
        const w = ws[0];
        const e = await openEscrow(net, w, 'client1', toNano('10'), toNano('1'));
        ledger.add(e.escrow.address);
        const cost = toNano('4'); // fee 0.2 TON >= FEE_FLUSH_MIN: flushed at once
        const r = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: cost * 1_000_000n / toNano('1'), cost });
        const p0 = await Promise.all(ws.map(pending));
        const rs0 = await net.root.getRewardState();
        const t = await tracked(ledger, chain, () => e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r)));
        expect(t.res.transactions).toHaveTransaction({ from: e.escrow.address, to: net.root.address, op: OP.ProtocolFee, success: true });
        const fee = cost * net.params.protocolFeeBps / BPS;
        const toStakers = fee * net.params.stakerShareBps / BPS;
        const rs1 = await net.root.getRewardState();
        expect(rs1.rewardPool - rs0.rewardPool).toBe(toStakers);
        expect(rs1.treasury - rs0.treasury).toBe(fee - toStakers);
        const dAcc = rs1.acc - rs0.acc;
        expect(dAcc).toBe(toStakers * SCALE / rs1.totalStake);
        for (let i = 0; i < ws.length; i++) {
            expect(await pending(ws[i]) - p0[i]).toBe(STAKES[i] * rs1.acc / SCALE - STAKES[i] * rs0.acc / SCALE);
        }
    });

    it('WithdrawTreasury pays the owner the treasury share only, never the reward pool', async () => {
        // fill both: a slash feeds the treasury, FundRewards the pool
        const w = ws[2];
        const e = await openEscrow(net, w, 'client1');
        const pair = equivocatingPair(e.escrow.address, (await e.escrow.getState()).epoch, w.tee);
        const reporter = await chain.treasury('reporter');
        await w.worker.send(reporter.getSender(), { value: toNano('0.2') }, slashProofBody(pair[0], pair[1], w.tee));
        await fund(toNano('2'));
        const rs = await net.root.getRewardState();
        expect(rs.treasury).toBeGreaterThan(0n);
        expect(rs.rewardPool).toBeGreaterThan(0n);

        const stranger = await chain.treasury('stranger');
        let res = await net.root.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawTreasury', queryId: 0n, amount: 1n });
        expect(res.transactions).toHaveTransaction({ to: net.root.address, exitCode: Number(ERR_NOT_OWNER) });
        res = await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawTreasury', queryId: 0n, amount: rs.treasury + 1n });
        expect(res.transactions).toHaveTransaction({ to: net.root.address, exitCode: Number(ERR_TREASURY_TOO_LOW) });

        const t = await tracked(ledger, chain, () => net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawTreasury', queryId: 0n, amount: rs.treasury }));
        const paid = paymentsTo(t.payments, net.owner.address, OP.TreasuryWithdrawn);
        expect(paid).toHaveLength(1);
        expect(paid[0].amount).toBe(rs.treasury);
        expect(t.heldDelta).toBe(-rs.treasury);
        const after = await net.root.getRewardState();
        expect(after.treasury).toBe(0n);
        expect(after.rewardPool).toBe(rs.rewardPool);
        expect(await rootSurplus()).toBeGreaterThanOrEqual(0n);
        // the pool is still there for the stakers
        for (const x of ws.slice(0, 2)) await claimRewards(x);
        expect(await rootSurplus()).toBeGreaterThanOrEqual(0n);
    });

    it("a ProtocolFee sent directly pays its own gas: the root's buffer beyond treasury + pool never shrinks", async () => {
        const payer = await chain.treasury('payer');
        const before = await rootSurplus();
        const amount = toNano('0.01');
        const res = await net.root.send(payer.getSender(), { value: amount }, { $$type: 'ProtocolFee', amount });
        const rootTx = res.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(net.root.address))!;
        const d: any = rootTx.description;
        if (d.computePhase.success) {
            // accepted: then the gas must not have come out of the root's own buffer
            expect(await rootSurplus()).toBeGreaterThanOrEqual(before);
        } else {
            expect(d.computePhase.exitCode).toBe(Number(ERR_INSUFFICIENT_VALUE));
        }
    });
});

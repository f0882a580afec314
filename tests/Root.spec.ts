// CocoonRoot: governance, treasury, and the guards of its worker-only handlers.
import '@ton/test-utils';
import { SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, toNano } from '@ton/core';
import {
    Params, defaultParams, rootFor, workerAddress, loadTreasuryWithdrawn, publicKeyToBigInt,
    ERR_NOT_OWNER, ERR_BAD_PARAMS, ERR_NOT_PENDING_OWNER, ERR_MEASUREMENT_ALLOWED, ERR_INSUFFICIENT_VALUE,
    ERR_TREASURY_TOO_LOW, ERR_ZERO_AMOUNT, ERR_NOT_WORKER, ERR_TIMELOCKED,
    storeAddMeasurement, storeAddVerifierKey,
    STATUS_ACTIVE, STATUS_UNBONDING, WORKER_STORAGE_RESERVE, MIN_MIN_STAKE,
} from '../src/sdk';
import { Net, createNet, registerWorker, governed, MEASUREMENT, MODEL, seededKey } from './helpers/network';
import {
    FEE_BOUND, balanceOf, withDelta, expectOnlyFees, feesOf, txFromTo, expectWorkerHoldsItsBook,
} from './helpers/rootWorker';

const GOV_VALUE = toNano('0.05');
const n = (code: bigint) => Number(code);

describe('CocoonRoot', () => {
    let net: Net;
    let stranger: SandboxContract<TreasuryContract>;

    beforeEach(async () => {
        net = await createNet();
        stranger = await net.chain.treasury('stranger');
    });

    // ------------------------------------------------------------ deploy and top-up

    describe('deploy and top-up (empty body)', () => {
        it('starts with the owner, the fixture whitelist and an empty reward state', async () => {
            expect((await net.root.getOwner()).equals(net.owner.address)).toBe(true);
            expect(await net.root.getPendingOwner()).toBeNull();
            expect(await net.root.getPaused()).toBe(false);
            expect(await net.root.getNetworkId()).toBe(1n);
            expect(await net.root.getParams()).toEqual(defaultParams());
            expect(await net.root.getRewardState()).toMatchObject({ totalStake: 0n, acc: 0n, rewardPool: 0n, treasury: 0n });
            expect(await net.root.getIsMeasurementAllowed(MEASUREMENT)).toBe(true);
            expect(await net.root.getModelOf(MEASUREMENT)).toBe(MODEL);
            expect(await net.root.getIsVerifierKey(publicKeyToBigInt(net.verifier.publicKey))).toBe(true);
        });

        it('keeps a top-up from the owner, less only the gas of its transaction', async () => {
            const before = await balanceOf(net.chain, net.root.address);
            const res = await net.root.send(net.owner.getSender(), { value: toNano('2') }, null);
            const tx = txFromTo(res, net.owner.address, net.root.address);
            expect(res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true, outMessagesCount: 0 });
            expect((await balanceOf(net.chain, net.root.address)) - before).toBe(toNano('2') - tx.totalFees.coins);
        });

        it('refuses a top-up from anyone else and returns it', async () => {
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, stranger.address, () =>
                net.root.send(stranger.getSender(), { value: toNano('2') }, null));
            expect(res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: stranger.address, inMessageBounced: true });
            expectOnlyFees(delta);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
        });

        it('cannot be deployed by anyone but its owner', async () => {
            const owner2 = await net.chain.treasury('owner2');
            const root2 = net.chain.openContract(await rootFor(owner2.address, 1, defaultParams()));
            const { res, delta } = await withDelta(net.chain, stranger.address, () =>
                root2.send(stranger.getSender(), { value: toNano('1') }, null));
            expect(res.transactions).toHaveTransaction({ from: stranger.address, to: root2.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expect(res.transactions).toHaveTransaction({ from: root2.address, to: stranger.address, inMessageBounced: true });
            // the sender's wallet paid the forward fee of the root's whole StateInit (code + data), hence the wider bound
            expectOnlyFees(delta, toNano('0.15'));
            // TVM keeps the StateInit of a failed deploy, but with the whole value bounced the account holds nothing
            expect(await balanceOf(net.chain, root2.address)).toBe(0n);
        });
    });

    // ------------------------------------------------------------ SetParams

    describe('SetParams', () => {
        const setParams = (from: SandboxContract<TreasuryContract>, params: Params) =>
            net.root.send(from.getSender(), { value: GOV_VALUE }, { $$type: 'SetParams', queryId: 7n, params });

        it('sets valid parameters (bps at their 10000 bound included) through a proposal', async () => {
            const p = defaultParams({
                minStake: MIN_MIN_STAKE, maxPrice: toNano('2'), unbondingPeriod: 3600n, maxAttestationTtl: 86400n,
                disputeWindow: 600n, protocolFeeBps: 10000n, stakerShareBps: 10000n, slashBps: 10000n, reporterBountyBps: 10000n,
            });
            // sent directly it is refused: it raises fees and changes staking terms
            const direct = await setParams(net.owner, p);
            expect(direct.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_TIMELOCKED) });
            expect(await net.root.getParams()).toEqual(defaultParams());
            await governed(net, { kind: 'setParams', params: p });
            expect(await net.root.getParams()).toEqual(p);
        });

        it('lowers fees at once and cashes the rest back', async () => {
            const p = defaultParams({ protocolFeeBps: 100n, maxPrice: toNano('0.5'), maxAttestationTtl: 86400n, stakerShareBps: 9000n });
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, net.owner.address, () => setParams(net.owner, p));
            expect(res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: net.owner.address, success: true });
            expect(await net.root.getParams()).toEqual(p);
            expectOnlyFees(delta, toNano('0.01'));
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
        });

        const invalid: [string, Partial<Omit<Params, '$$type'>>][] = [
            ['minStake 0', { minStake: 0n }],
            ['minStake below MIN_MIN_STAKE', { minStake: MIN_MIN_STAKE - 1n }],
            ['maxPrice 0', { maxPrice: 0n }],
            ['unbondingPeriod 0', { unbondingPeriod: 0n }],
            ['maxAttestationTtl 0', { maxAttestationTtl: 0n }],
            ['disputeWindow 0', { disputeWindow: 0n }],
            ['protocolFeeBps 10001', { protocolFeeBps: 10001n }],
            ['stakerShareBps 10001', { stakerShareBps: 10001n }],
            ['slashBps 10001', { slashBps: 10001n }],
            ['reporterBountyBps 10001', { reporterBountyBps: 10001n }],
        ];
        it.each(invalid)('refuses %s with ERR_BAD_PARAMS and changes nothing', async (_label, over) => {
            const before = await net.root.getParams();
            const { res, delta } = await withDelta(net.chain, net.owner.address, () => setParams(net.owner, defaultParams(over)));
            expect(res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_BAD_PARAMS) });
            expect(await net.root.getParams()).toEqual(before);
            expectOnlyFees(delta);
        });

        it('refuses a non-owner with ERR_NOT_OWNER and changes nothing', async () => {
            const { res, delta } = await withDelta(net.chain, stranger.address, () =>
                setParams(stranger, defaultParams({ minStake: 1n })));
            expect(res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expect(await net.root.getParams()).toEqual(defaultParams());
            expectOnlyFees(delta);
        });
    });

    // ------------------------------------------------------------ whitelists

    describe('measurements', () => {
        const M2 = 0xabcdefn << 200n;

        it('adds and removes a measurement with its model name', async () => {
            expect(await net.root.getIsMeasurementAllowed(M2)).toBe(false);
            expect(await net.root.getModelOf(M2)).toBeNull();
            const { executed: add } = await governed(net, { kind: 'addMeasurement', measurement: M2, model: 'qwen-2.5-72b' });
            expect(add.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(await net.root.getIsMeasurementAllowed(M2)).toBe(true);
            expect(await net.root.getModelOf(M2)).toBe('qwen-2.5-72b');
            // the fixture's measurement is untouched
            expect(await net.root.getModelOf(MEASUREMENT)).toBe(MODEL);

            const rm = await net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveMeasurement', queryId: 2n, measurement: M2 });
            expect(rm.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(await net.root.getIsMeasurementAllowed(M2)).toBe(false);
            expect(await net.root.getModelOf(M2)).toBeNull();
            expect(await net.root.getIsMeasurementAllowed(MEASUREMENT)).toBe(true);
        });

        it('refuses a non-owner add or remove with ERR_NOT_OWNER', async () => {
            const a = await withDelta(net.chain, stranger.address, () => stranger.send({
                to: net.root.address, value: GOV_VALUE, bounce: true,
                body: beginCell().store(storeAddMeasurement({ $$type: 'AddMeasurement', queryId: 1n, measurement: M2, model: 'x' })).endCell(),
            }));
            expect(a.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(a.delta);
            const r = await withDelta(net.chain, stranger.address, () =>
                net.root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveMeasurement', queryId: 1n, measurement: MEASUREMENT }));
            expect(r.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(r.delta);
            expect(await net.root.getIsMeasurementAllowed(M2)).toBe(false);
            expect(await net.root.getIsMeasurementAllowed(MEASUREMENT)).toBe(true);
        });
    });

    describe('verifier keys', () => {
        const K2 = publicKeyToBigInt(seededKey('verifier-2').publicKey);
        const K1 = () => publicKeyToBigInt(net.verifier.publicKey);

        it('adds and removes a trusted verifier key', async () => {
            expect(await net.root.getIsVerifierKey(K2)).toBe(false);
            const { executed: add } = await governed(net, { kind: 'addVerifierKey', key: K2 });
            expect(add.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(await net.root.getIsVerifierKey(K2)).toBe(true);
            const rm = await net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveVerifierKey', queryId: 2n, key: K1() });
            expect(rm.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(await net.root.getIsVerifierKey(K1())).toBe(false);
            expect(await net.root.getIsVerifierKey(K2)).toBe(true);
        });

        it('refuses a non-owner add or remove with ERR_NOT_OWNER', async () => {
            const a = await withDelta(net.chain, stranger.address, () => stranger.send({
                to: net.root.address, value: GOV_VALUE, bounce: true,
                body: beginCell().store(storeAddVerifierKey({ $$type: 'AddVerifierKey', queryId: 1n, key: K2 })).endCell(),
            }));
            expect(a.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(a.delta);
            const r = await withDelta(net.chain, stranger.address, () =>
                net.root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveVerifierKey', queryId: 1n, key: K1() }));
            expect(r.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(r.delta);
            expect(await net.root.getIsVerifierKey(K2)).toBe(false);
            expect(await net.root.getIsVerifierKey(K1())).toBe(true);
        });
    });

    describe('SetPaused', () => {
        it('pauses and unpauses (owner only)', async () => {
            const p = await net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'SetPaused', queryId: 1n, paused: true });
            expect(p.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(await net.root.getPaused()).toBe(true);

            const s = await withDelta(net.chain, stranger.address, () =>
                net.root.send(stranger.getSender(), { value: GOV_VALUE }, { $$type: 'SetPaused', queryId: 1n, paused: false }));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(s.delta);
            expect(await net.root.getPaused()).toBe(true);

            await net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'SetPaused', queryId: 2n, paused: false });
            expect(await net.root.getPaused()).toBe(false);
        });
    });

    // ------------------------------------------------------------ ownership

    describe('ProposeOwner / AcceptOwnership', () => {
        let next: SandboxContract<TreasuryContract>;
        beforeEach(async () => { next = await net.chain.treasury('next-owner'); });

        const propose = (from: SandboxContract<TreasuryContract>, to: Address) =>
            net.root.send(from.getSender(), { value: GOV_VALUE }, { $$type: 'ProposeOwner', queryId: 1n, newOwner: to });
        const accept = (from: SandboxContract<TreasuryContract>) =>
            net.root.send(from.getSender(), { value: GOV_VALUE }, { $$type: 'AcceptOwnership', queryId: 2n });

        it('hands ownership over in two steps; the old owner loses every power', async () => {
            const p = await propose(net.owner, next.address);
            expect(p.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect((await net.root.getPendingOwner())!.equals(next.address)).toBe(true);
            expect((await net.root.getOwner()).equals(net.owner.address)).toBe(true);

            // neither a stranger nor the proposing owner can accept
            for (const who of [stranger, net.owner]) {
                const r = await withDelta(net.chain, who.address, () => accept(who));
                expect(r.res.transactions).toHaveTransaction({ from: who.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_PENDING_OWNER) });
                expectOnlyFees(r.delta);
            }
            expect((await net.root.getOwner()).equals(net.owner.address)).toBe(true);

            const a = await accept(next);
            expect(a.transactions).toHaveTransaction({ from: next.address, to: net.root.address, success: true });
            expect((await net.root.getOwner()).equals(next.address)).toBe(true);
            expect(await net.root.getPendingOwner()).toBeNull();

            // the old owner: no governance, no top-up
            const g = await net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'SetPaused', queryId: 3n, paused: true });
            expect(g.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            const t = await net.root.send(net.owner.getSender(), { value: toNano('1') }, null);
            expect(t.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expect(await net.root.getPaused()).toBe(false);

            // the new owner governs
            const g2 = await net.root.send(next.getSender(), { value: GOV_VALUE }, { $$type: 'SetPaused', queryId: 4n, paused: true });
            expect(g2.transactions).toHaveTransaction({ from: next.address, to: net.root.address, success: true });
            expect(await net.root.getPaused()).toBe(true);

            // a second accept (nothing pending any more) is refused
            const again = await accept(next);
            expect(again.transactions).toHaveTransaction({ from: next.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_PENDING_OWNER) });
        });

        it('refuses AcceptOwnership with nothing proposed and ProposeOwner from a non-owner', async () => {
            const a = await accept(next);
            expect(a.transactions).toHaveTransaction({ from: next.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_PENDING_OWNER) });
            const r = await withDelta(net.chain, stranger.address, () => propose(stranger, stranger.address));
            expect(r.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(r.delta);
            expect(await net.root.getPendingOwner()).toBeNull();
        });
    });

    // ------------------------------------------------------------ DeactivateWorker

    describe('DeactivateWorker', () => {
        const STAKE = toNano('100');
        const deactivate = (from: SandboxContract<TreasuryContract>, operator: Address, measurement: bigint, value = toNano('0.2')) =>
            net.root.send(from.getSender(), { value }, { $$type: 'DeactivateWorker', queryId: 9n, operator, measurement });
        const removeMeasurement = (m: bigint) =>
            net.root.send(net.owner.getSender(), { value: GOV_VALUE }, { $$type: 'RemoveMeasurement', queryId: 1n, measurement: m });

        it('is refused while the measurement is still whitelisted', async () => {
            const w = await registerWorker(net, 'op1', STAKE);
            const { res, delta } = await withDelta(net.chain, net.owner.address, () => deactivate(net.owner, w.operator.address, MEASUREMENT));
            expect(res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_MEASUREMENT_ALLOWED) });
            expect(res.transactions).not.toHaveTransaction({ to: w.worker.address });
            expectOnlyFees(delta);
            expect((await w.worker.getState()).status).toBe(STATUS_ACTIVE);
            expect(await net.root.getTotalStake()).toBe(STAKE);
        });

        it('after the measurement is removed, puts the worker into unbonding and drops totalStake', async () => {
            const w = await registerWorker(net, 'op1', STAKE);
            const other = await registerWorker(net, 'op2', toNano('30'));
            await removeMeasurement(MEASUREMENT);
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const res = await deactivate(net.owner, w.operator.address, MEASUREMENT);
            expect(res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: w.worker.address, to: net.root.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, success: true, op: 0xc0c00132 });
            const st = await w.worker.getState();
            expect(st).toMatchObject({ status: STATUS_UNBONDING, stake: 0n, pending: 0n, unbonding: STAKE, unbondingSince: BigInt(net.chain.now!), rewardStake: 0n });
            expect((await w.worker.getInfo()).active).toBe(false);
            expect(await net.root.getTotalStake()).toBe(toNano('30'));
            // the other worker is untouched, and nothing stayed at the root
            expect((await other.worker.getState()).stake).toBe(toNano('30'));
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
            await expectWorkerHoldsItsBook(net.chain, w.worker);
        });

        it('leaves a worker running another measurement active', async () => {
            const w = await registerWorker(net, 'op1', STAKE);
            const OTHER = MEASUREMENT ^ 1n;
            const res = await deactivate(net.owner, w.operator.address, OTHER);
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, success: true });
            expect(res.transactions).not.toHaveTransaction({ from: w.worker.address, to: net.root.address });
            expect((await w.worker.getState()).status).toBe(STATUS_ACTIVE);
            expect(await net.root.getTotalStake()).toBe(STAKE);
            await expectWorkerHoldsItsBook(net.chain, w.worker);
        });

        it('returns the gas to the owner when the operator has no worker', async () => {
            await removeMeasurement(MEASUREMENT);
            const nobody = await net.chain.treasury('nobody');
            const wAddr = await workerAddress(net.root.address, nobody.address);
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, net.owner.address, () => deactivate(net.owner, nobody.address, MEASUREMENT));
            expect(res.transactions).toHaveTransaction({ from: wAddr, to: net.root.address, inMessageBounced: true, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: net.owner.address });
            expectOnlyFees(delta);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
        });

        it('refuses a non-owner and too little value', async () => {
            const w = await registerWorker(net, 'op1', STAKE);
            await removeMeasurement(MEASUREMENT);
            const s = await withDelta(net.chain, stranger.address, () => deactivate(stranger, w.operator.address, MEASUREMENT));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(s.delta);

            const min = feesOf(net.chain).min('deactivateWorker');
            const low = await deactivate(net.owner, w.operator.address, MEASUREMENT, min - 1n);
            expect(low.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_INSUFFICIENT_VALUE) });
            expect((await w.worker.getState()).status).toBe(STATUS_ACTIVE);
            expect(await net.root.getTotalStake()).toBe(STAKE);

            // the exact minimum is enough for the three hops
            const ok = await deactivate(net.owner, w.operator.address, MEASUREMENT, min);
            expect(ok.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, success: true, op: 0xc0c00132 });
            // the Worker's reward stake must follow the root's total, or it keeps earning on stake that left
            expect(await w.worker.getState()).toMatchObject({ status: STATUS_UNBONDING, stake: 0n, unbonding: STAKE, rewardStake: 0n });
            expect(await net.root.getTotalStake()).toBe(0n);
        });
    });

    // ------------------------------------------------------------ treasury

    describe('WithdrawTreasury', () => {
        const FEE = toNano('3');
        const withdraw = (from: SandboxContract<TreasuryContract>, amount: bigint) =>
            net.root.send(from.getSender(), { value: GOV_VALUE }, { $$type: 'WithdrawTreasury', queryId: 5n, amount });

        beforeEach(async () => {
            // with no stake active, the whole protocol fee goes to the treasury
            const payer = await net.chain.treasury('payer');
            const r = await net.root.send(payer.getSender(), { value: FEE + toNano('0.05') }, { $$type: 'ProtocolFee', amount: FEE });
            expect(r.transactions).toHaveTransaction({ from: payer.address, to: net.root.address, success: true });
            expect((await net.root.getRewardState()).treasury).toBe(FEE);
        });

        it('pays the owner exactly the amount asked, from the treasury only', async () => {
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, net.owner.address, () => withdraw(net.owner, toNano('1')));
            const pay = txFromTo(res, net.root.address, net.owner.address);
            const body = loadTreasuryWithdrawn(pay.inMessage!.body.beginParse());
            expect(body.amount).toBe(toNano('1'));
            expect(body.queryId).toBe(5n);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore - toNano('1'));
            expect(delta).toBeLessThan(toNano('1'));
            expect(delta).toBeGreaterThan(toNano('1') - FEE_BOUND);
            expect((await net.root.getRewardState()).treasury).toBe(FEE - toNano('1'));

            const all = await withdraw(net.owner, FEE - toNano('1'));
            expect(all.transactions).toHaveTransaction({ from: net.root.address, to: net.owner.address, success: true });
            expect((await net.root.getRewardState()).treasury).toBe(0n);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore - FEE);
        });

        it('refuses more than the treasury, zero, and a non-owner', async () => {
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const more = await withDelta(net.chain, net.owner.address, () => withdraw(net.owner, FEE + 1n));
            expect(more.res.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_TREASURY_TOO_LOW) });
            expectOnlyFees(more.delta);
            const zero = await withdraw(net.owner, 0n);
            expect(zero.transactions).toHaveTransaction({ from: net.owner.address, to: net.root.address, success: false, exitCode: n(ERR_ZERO_AMOUNT) });
            const s = await withDelta(net.chain, stranger.address, () => withdraw(stranger, toNano('1')));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
            expectOnlyFees(s.delta);
            expect((await net.root.getRewardState()).treasury).toBe(FEE);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
        });
    });

    // ------------------------------------------------------------ worker-only handlers

    describe('worker-only handlers refuse everyone but the operator’s Worker (ERR_NOT_WORKER)', () => {
        const STAKE = toNano('100');

        it.each(['StakeUp', 'StakeDown', 'RewardSync', 'PayRewards'] as const)('%s from a wallet', async (kind) => {
            const w = await registerWorker(net, 'victim', STAKE);
            const funder = await net.chain.treasury('funder');
            await net.root.send(funder.getSender(), { value: toNano('10.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('10') });
            const rewardsBefore = await net.root.getRewardState();
            expect(rewardsBefore.rewardPool).toBe(toNano('10'));
            const rootBefore = await balanceOf(net.chain, net.root.address);

            // claiming to be the victim's worker, and acting for oneself
            for (const operator of [w.operator.address, stranger.address]) {
                const body =
                    kind === 'StakeUp' ? { $$type: 'StakeUp' as const, amount: toNano('1000'), queryId: 0n, operator }
                    : kind === 'StakeDown' ? { $$type: 'StakeDown' as const, amount: STAKE, queryId: 0n, operator, slashed: 0n, changeTo: null }
                    : kind === 'RewardSync' ? { $$type: 'RewardSync' as const, queryId: 0n, operator }
                    : { $$type: 'PayRewards' as const, amount: toNano('10'), queryId: 0n, operator };
                const { res, delta } = await withDelta(net.chain, stranger.address, () =>
                    net.root.send(stranger.getSender(), { value: toNano('0.5') }, body));
                expect(res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false, exitCode: n(ERR_NOT_WORKER) });
                expect(res.transactions).not.toHaveTransaction({ from: net.root.address, to: w.worker.address });
                expectOnlyFees(delta);
            }
            expect(await net.root.getRewardState()).toEqual(rewardsBefore);
            expect(await balanceOf(net.chain, net.root.address)).toBe(rootBefore);
            expect((await w.worker.getState()).stake).toBe(STAKE);
            expect(await balanceOf(net.chain, w.worker.address)).toBe(STAKE + WORKER_STORAGE_RESERVE);
        });
    });

    it('a refused message body that is not a known opcode is not taken as a top-up', async () => {
        const { res, delta } = await withDelta(net.chain, stranger.address, () =>
            stranger.send({ to: net.root.address, value: toNano('1'), body: beginCell().storeUint(0xdeadbeef, 32).endCell() }));
        expect(res.transactions).toHaveTransaction({ from: stranger.address, to: net.root.address, success: false });
        expectOnlyFees(delta);
    });
});

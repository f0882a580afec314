// Worker: registration and re-attestation through CocoonRoot.RegisterWorker, stake top-up, price,
// endpoint, unbonding and withdrawal, the root-only guards and the getters. Every refusal is checked
// for its exact exit code and for the TON it sends back.
import '@ton/test-utils';
import { SandboxContract, TreasuryContract, internal } from '@ton/sandbox';
import { Address, Cell, toNano, beginCell } from '@ton/core';
import { createHash } from 'node:crypto';
import {
    defaultParams, paramsCell, publicKeyToBigInt, signedAttestationCell, Worker, emptyWorkerState, loadAttestationRecord,
    ERR_WRONG_OPERATOR, ERR_BAD_STATEMENT, ERR_BAD_ATTESTATION_SIG, ERR_UNTRUSTED_VERIFIER, ERR_WRONG_ROOT, ERR_ATTESTATION_EXPIRED,
    ERR_ATTESTATION_TOO_LONG, ERR_UNKNOWN_MEASUREMENT, ERR_STAKE_TOO_LOW, ERR_PAUSED, ERR_BAD_TAG,
    ERR_INSUFFICIENT_VALUE, ERR_NOT_OPERATOR, ERR_NOT_ACTIVE, ERR_ZERO_AMOUNT, ERR_PRICE_TOO_HIGH, ERR_NO_STAKE,
    ERR_STILL_UNBONDING, ERR_NOTHING_TO_WITHDRAW, ERR_NOT_ROOT,
    STATUS_ACTIVE, STATUS_UNBONDING, WORKER_STORAGE_RESERVE, REWARD_SCALE, TAG_RECEIPT, storeTopUpStake, asPrices, TOKEN_CLASSES, type PriceSet, MAX_WORKER_PRICE, loadEscrowInfo,
} from '../src/sdk';
import { Net, createNet, MEASUREMENT, seededKey } from './helpers/network';
import { failures } from './helpers/attacks';
import {
    FEE_BOUND, STORAGE_SLACK, Operator, operatorOf, attest, attestWithTag, register, balanceOf, withDelta,
    expectOnlyFees, feesOf, txFromTo, plain, workerAttestedEvents, stakeWithdrawnTo, expectWorkerHoldsItsBook,
} from './helpers/rootWorker';

const n = (code: bigint) => Number(code);
const STAKE = toNano('100');
const MARGIN = toNano('0.1');
const HOUR = 3600;
const DAY = 86400;

describe('Worker', () => {
    let net: Net;
    let op: Operator;
    let stranger: SandboxContract<TreasuryContract>;

    const now = () => net.chain.now!;
    const tlsHash = (label: string) => BigInt('0x' + createHash('sha256').update(label).digest('hex'));

    beforeEach(async () => {
        net = await createNet();
        op = await operatorOf(net, 'op1');
        stranger = await net.chain.treasury('stranger');
    });

    /** The root's balance did not grow, and shrank by storage fees at most. */
    async function expectRootKept(before: bigint) {
        const after = await balanceOf(net.chain, net.root.address);
        expect(after).toBeLessThanOrEqual(before);
        expect(before - after).toBeLessThan(STORAGE_SLACK);
    }

    async function registerOk(o: Operator = op, stake = STAKE) {
        const res = await register(net, o, attest(net, o).cell, stake, stake + feesOf(net.chain).register + MARGIN);
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: o.worker.address, success: true });
        return res;
    }

    // ------------------------------------------------------------ first registration

    describe('registration', () => {
        it('deploys the Worker with the attested key and stake, counts the stake and emits WorkerAttested', async () => {
            const a = attest(net, op);
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const value = STAKE + toNano('0.2');
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () => register(net, op, a.cell, STAKE, value, op.wallet, 42n));

            expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, deploy: true, success: true, op: 0xc0c00131 });
            expect(res.transactions).toHaveTransaction({ from: op.worker.address, to: op.wallet.address, op: 0xd53276db });

            const info = await op.worker.getInfo();
            expect(info.root.equals(net.root.address)).toBe(true);
            expect(info.operator.equals(op.wallet.address)).toBe(true);
            expect(info).toMatchObject({
                status: STATUS_ACTIVE, active: true, stake: STAKE, pending: 0n, unbonding: 0n, withdrawableAt: 0n, prices: { $$type: 'Prices', prompt: 0n, cached: 0n, completion: 0n },
                teeKey: publicKeyToBigInt(op.tee.publicKey), measurement: MEASUREMENT, tlsKeyHash: a.statement.tlsKeyHash,
                expiresAt: BigInt(a.statement.expiresAt), issuedAt: BigInt(a.statement.issuedAt),
                rewardStake: STAKE, checkpoint: 0n, accrued: 0n, feeBps: net.params.protocolFeeBps,
                disputeWindow: net.params.disputeWindow, endpoint: null,
            });
            const st = await op.worker.getState();
            expect(st.params!.equals(paramsCell(net.params))).toBe(true);
            const rec = loadAttestationRecord(st.attestation!.beginParse());
            expect(rec.statement.equals(a.statementCell)).toBe(true);
            expect([rec.registeredAt, rec.renewals]).toEqual([BigInt(now()), 0n]);
            expect(await net.root.getTotalStake()).toBe(STAKE);

            // the event, as an external out message of the Worker's transaction (the statement took
            // effect), none from the root
            expect(workerAttestedEvents(txFromTo(res, op.wallet.address, net.root.address))).toHaveLength(0);
            const events = workerAttestedEvents(txFromTo(res, net.root.address, op.worker.address));
            expect(events).toHaveLength(1);
            expect(events[0].operator.equals(op.wallet.address)).toBe(true);
            expect(events[0].measurement).toBe(MEASUREMENT);
            expect(events[0].expiresAt).toBe(BigInt(a.statement.expiresAt));

            // value: the Worker holds stake + reserve exactly, the root keeps nothing, the rest came back
            expect(await balanceOf(net.chain, op.worker.address)).toBe(STAKE + WORKER_STORAGE_RESERVE);
            await expectRootKept(rootBefore);
            expect(-delta).toBeGreaterThan(STAKE + WORKER_STORAGE_RESERVE);
            expect(-delta).toBeLessThan(STAKE + WORKER_STORAGE_RESERVE + FEE_BOUND);
        });

        it('accepts the boundaries: stake == minStake, expiry == now + maxAttestationTtl', async () => {
            const a = attest(net, op, { expiresAt: now() + Number(net.params.maxAttestationTtl) });
            const res = await register(net, op, a.cell, net.params.minStake, net.params.minStake + toNano('0.2'));
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
            expect((await op.worker.getInfo()).active).toBe(true);
            expect(await net.root.getTotalStake()).toBe(net.params.minStake);
        });

        it('with barely enough TON (stake + reserve + fees) the whole flow completes', async () => {
            const exact = STAKE + feesOf(net.chain).register;
            const res = await register(net, op, attest(net, op).cell, STAKE, exact);
            expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, deploy: true, success: true });
            expect((await op.worker.getInfo()).active).toBe(true);
            expect(await net.root.getTotalStake()).toBe(STAKE);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });

        it('a statement without an issue time or without a TEE key is refused at the root (ERR_BAD_STATEMENT), the stake bounces back', async () => {
            const exact = STAKE + feesOf(net.chain).register;
            for (const over of [{ issuedAt: 0 }, { teeKey: 0n }]) {
                const res = await register(net, op, attest(net, op, over).cell, STAKE, exact);
                expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: false, exitCode: Number(ERR_BAD_STATEMENT) });
                expect(res.transactions).not.toHaveTransaction({ to: op.worker.address });
                expect(await net.root.getTotalStake()).toBe(0n);
            }
        });

        it('a zero-stake "registration" of a new operator deploys an inactive Worker and counts nothing', async () => {
            const res = await register(net, op, attest(net, op).cell, 0n, toNano('0.2'));
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
            expect((await op.worker.getInfo()).active).toBe(false);
            expect(await net.root.getTotalStake()).toBe(0n);
            expect(await balanceOf(net.chain, op.worker.address)).toBe(WORKER_STORAGE_RESERVE);
        });

        // Each refusal: exit code on the root's transaction, the message bounces with the stake to its
        // sender, no Worker is deployed, the root's total and balance do not move.
        type Case = { code: bigint; stake?: bigint; value?: (f: bigint) => bigint; from?: () => SandboxContract<TreasuryContract>; setup?: () => Promise<void>; cell: () => Cell };
        const cases: [string, Case][] = [
            ['a sender that is not the attested operator', { code: ERR_WRONG_OPERATOR, from: () => stranger, cell: () => attest(net, op).cell }],
            ['a statement naming another operator', { code: ERR_WRONG_OPERATOR, cell: () => attest(net, op, { operator: stranger.address }).cell }],
            ['a statement for another root', { code: ERR_WRONG_ROOT, cell: () => attest(net, op, { root: stranger.address }).cell }],
            ['a bad verifier signature', {
                code: ERR_BAD_ATTESTATION_SIG,
                cell: () => {
                    // the trusted verifier's key, a signature by someone else
                    const forged = attest(net, op, {}, seededKey('forger'));
                    return signedAttestationCell(forged.statementCell, [{ verifierKey: publicKeyToBigInt(net.verifier.publicKey), signature: forged.signatures[0].signature }]);
                },
            }],
            ['a signature over another statement', {
                code: ERR_BAD_ATTESTATION_SIG,
                cell: () => {
                    const a = attest(net, op);
                    const b = attest(net, op, { expiresAt: a.statement.expiresAt + 1 });
                    return signedAttestationCell(b.statementCell, a.signatures);
                },
            }],
            ['an untrusted verifier key', { code: ERR_UNTRUSTED_VERIFIER, cell: () => attest(net, op, {}, seededKey('rogue-verifier')).cell }],
            ['an expired statement (expiresAt == now)', { code: ERR_ATTESTATION_EXPIRED, cell: () => attest(net, op, { expiresAt: now() }).cell }],
            ['an expiry beyond maxAttestationTtl', { code: ERR_ATTESTATION_TOO_LONG, cell: () => attest(net, op, { expiresAt: now() + Number(net.params.maxAttestationTtl) + 1 }).cell }],
            ['an unknown measurement', { code: ERR_UNKNOWN_MEASUREMENT, cell: () => attest(net, op, { measurement: MEASUREMENT ^ 1n }).cell }],
            ['a stake below minStake', { code: ERR_STAKE_TOO_LOW, stake: toNano('10') - 1n, cell: () => attest(net, op).cell }],
            ['a paused network', {
                code: ERR_PAUSED, cell: () => attest(net, op).cell,
                setup: async () => { await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetPaused', queryId: 0n, paused: true }); },
            }],
            ['a wrong domain tag', { code: ERR_BAD_TAG, cell: () => attestWithTag(net, op, TAG_RECEIPT) }],
            ['too little TON (one nanoton short)', { code: ERR_INSUFFICIENT_VALUE, value: (f) => STAKE + f - 1n, cell: () => attest(net, op).cell }],
        ];
        it.each(cases)('refuses %s and bounces the stake back', async (_label, c) => {
            if (c.setup) await c.setup();
            const from = c.from ? c.from() : op.wallet;
            const stake = c.stake ?? STAKE;
            const value = c.value ? c.value(feesOf(net.chain).register) : stake + toNano('0.2');
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, from.address, () => register(net, op, c.cell(), stake, value, from));

            expect(res.transactions).toHaveTransaction({ from: from.address, to: net.root.address, success: false, exitCode: n(c.code) });
            const bounce = txFromTo(res, net.root.address, from.address);
            expect(bounce.inMessage!.info.type === 'internal' && bounce.inMessage!.info.bounced).toBe(true);
            expect(res.transactions).not.toHaveTransaction({ to: op.worker.address });
            expectOnlyFees(delta);
            expect(await net.root.getTotalStake()).toBe(0n);
            expect((await net.chain.getContract(op.worker.address)).accountState?.type ?? 'none').not.toBe('active');
            expect(await balanceOf(net.chain, op.worker.address)).toBe(0n);
            await expectRootKept(rootBefore);
        });
    });

    // ------------------------------------------------------------ re-attestation

    describe('re-attestation', () => {
        beforeEach(async () => { await registerOk(); });

        it('with stake 0 rotates the TEE key and extends the expiry, stake and total unchanged', async () => {
            const before = await op.worker.getState();
            net.chain.now = now() + HOUR;
            const tee2 = seededKey('tee:op1:v2');
            const a = attest(net, { ...op, tee: tee2 }, { expiresAt: now() + 20 * DAY, tlsKeyHash: tlsHash('tls:v2') });
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () =>
                register(net, op, a.cell, 0n, feesOf(net.chain).register + MARGIN));
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, deploy: false, success: true });
            const info = await op.worker.getInfo();
            expect(info).toMatchObject({
                status: STATUS_ACTIVE, active: true, stake: STAKE, rewardStake: STAKE, pending: 0n,
                teeKey: publicKeyToBigInt(tee2.publicKey), tlsKeyHash: tlsHash('tls:v2'),
                expiresAt: BigInt(now() + 20 * DAY), issuedAt: BigInt(now()),
            });
            expect(info.teeKey).not.toBe(before.teeKey);
            expect(await net.root.getTotalStake()).toBe(STAKE);
            const ev = workerAttestedEvents(txFromTo(res, net.root.address, op.worker.address));
            expect(ev.map((e) => e.expiresAt)).toEqual([BigInt(now() + 20 * DAY)]);
            expectOnlyFees(delta);
            await expectRootKept(rootBefore);
            // the storage fee paid for an hour is topped up again: stake + reserve exactly
            expect(await balanceOf(net.chain, op.worker.address)).toBe(STAKE + WORKER_STORAGE_RESERVE);
        });

        it('with extra stake adds it to the Worker and to the root total', async () => {
            net.chain.now = now() + HOUR;
            const extra = toNano('20');
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () =>
                register(net, op, attest(net, op).cell, extra, extra + feesOf(net.chain).register + MARGIN));
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
            expect(await op.worker.getInfo()).toMatchObject({ stake: STAKE + extra, rewardStake: STAKE + extra, pending: 0n, active: true });
            expect(await net.root.getTotalStake()).toBe(STAKE + extra);
            expect(-delta).toBeGreaterThan(extra);
            expect(-delta).toBeLessThan(extra + FEE_BOUND);
            expect(await balanceOf(net.chain, op.worker.address)).toBe(STAKE + extra + WORKER_STORAGE_RESERVE);
        });

        it('refuses extra stake below minStake (ERR_STAKE_TOO_LOW) and bounces it', async () => {
            net.chain.now = now() + HOUR;
            const before = await op.worker.getState();
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () =>
                register(net, op, attest(net, op).cell, toNano('5'), toNano('5.2')));
            expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: false, exitCode: n(ERR_STAKE_TOO_LOW) });
            expectOnlyFees(delta);
            expect(plain(await op.worker.getState())).toEqual(plain(before));
            expect(await net.root.getTotalStake()).toBe(STAKE);
        });

        it('a refused re-attestation (expired statement) leaves the Worker as it was and returns the stake', async () => {
            net.chain.now = now() + HOUR;
            const before = await op.worker.getState();
            const extra = toNano('20');
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () =>
                register(net, op, attest(net, op, { expiresAt: now() - 1 }).cell, extra, extra + toNano('0.2')));
            expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: false, exitCode: n(ERR_ATTESTATION_EXPIRED) });
            expect(res.transactions).not.toHaveTransaction({ to: op.worker.address });
            expectOnlyFees(delta);
            expect(plain(await op.worker.getState())).toEqual(plain(before));
            expect(await net.root.getTotalStake()).toBe(STAKE);
        });

        it('a statement not newer than the one in force brings its stake but not its key', async () => {
            const before = await op.worker.getState();
            net.chain.now = now() + HOUR;
            const old = attest(net, { ...op, tee: seededKey('tee:op1:old') }, { issuedAt: Number(before.issuedAt) });
            const extra = toNano('20');
            const res = await register(net, op, old.cell, extra, extra + feesOf(net.chain).register + MARGIN);
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
            const st = await op.worker.getState();
            expect(st.teeKey).toBe(before.teeKey);
            expect(st.issuedAt).toBe(before.issuedAt);
            expect(st.expiresAt).toBe(before.expiresAt);
            expect(st.attestation!.equals(before.attestation!)).toBe(true);
            expect(st.stake).toBe(STAKE + extra);
            expect(await net.root.getTotalStake()).toBe(STAKE + extra);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });

        it('brings an expired Worker back to active', async () => {
            const st = await op.worker.getState();
            net.chain.now = Number(st.expiresAt);
            expect((await op.worker.getInfo()).active).toBe(false);
            await register(net, op, attest(net, op).cell, 0n, feesOf(net.chain).register + MARGIN);
            expect((await op.worker.getInfo()).active).toBe(true);
            expect((await op.worker.getState()).expiresAt).toBe(BigInt(now() + 7 * DAY));
        });

        it('with barely enough TON (reserve + fees, stake 0) completes', async () => {
            net.chain.now = now() + HOUR;
            const res = await register(net, op, attest(net, op).cell, 0n, feesOf(net.chain).register);
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
            expect((await op.worker.getState()).issuedAt).toBe(BigInt(now()));
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });
    });

    // ------------------------------------------------------------ TopUpStake

    describe('TopUpStake', () => {
        const AMOUNT = toNano('10');
        const topUp = (from: SandboxContract<TreasuryContract>, amount: bigint, value: bigint) =>
            op.worker.send(from.getSender(), { value }, { $$type: 'TopUpStake', queryId: 3n, amount });

        beforeEach(async () => { await registerOk(); });

        it('adds exactly the amount to the Worker and to the root total', async () => {
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () => topUp(op.wallet, AMOUNT, AMOUNT + toNano('0.1')));
            expect(res.transactions).toHaveTransaction({ from: op.worker.address, to: net.root.address, success: true, op: 0xc0c00122 });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true, op: 0xc0c00132 });
            expect(res.transactions).toHaveTransaction({ from: op.worker.address, to: op.wallet.address, op: 0xd53276db });
            expect(await op.worker.getState()).toMatchObject({ stake: STAKE + AMOUNT, pending: 0n, rewardStake: STAKE + AMOUNT, status: STATUS_ACTIVE });
            expect(await net.root.getTotalStake()).toBe(STAKE + AMOUNT);
            expect(-delta).toBeGreaterThan(AMOUNT);
            expect(-delta).toBeLessThan(AMOUNT + FEE_BOUND);
            expect(await balanceOf(net.chain, op.worker.address)).toBe(STAKE + AMOUNT + WORKER_STORAGE_RESERVE);
            await expectRootKept(rootBefore);
        });

        it('completes with barely enough TON and refuses one nanoton less (ERR_INSUFFICIENT_VALUE)', async () => {
            const min = AMOUNT + feesOf(net.chain).min('topUpStake');
            const low = await withDelta(net.chain, op.wallet.address, () => topUp(op.wallet, AMOUNT, min - 1n));
            expect(low.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_INSUFFICIENT_VALUE) });
            expectOnlyFees(low.delta);
            expect(await net.root.getTotalStake()).toBe(STAKE);

            const ok = await topUp(op.wallet, AMOUNT, min);
            expect(ok.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true, op: 0xc0c00132 });
            expect(await op.worker.getState()).toMatchObject({ stake: STAKE + AMOUNT, pending: 0n, rewardStake: STAKE + AMOUNT });
            expect(await net.root.getTotalStake()).toBe(STAKE + AMOUNT);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });

        it('a top-up still in flight when the Worker unbonds follows the stake out; the root total ends exact (exact minimum value)', async () => {
            const min = AMOUNT + feesOf(net.chain).min('topUpStake');
            // start the top-up and stop after the Worker's own transaction: StakeUp is on its way to the root
            const body = beginCell().store(storeTopUpStake({ $$type: 'TopUpStake', queryId: 3n, amount: AMOUNT })).endCell();
            const iter = await net.chain.sendMessageIter(internal({ from: op.wallet.address, to: op.worker.address, value: min, body }));
            const first = await iter.next();
            expect((first.value as any).inMessage.info.dest.toString()).toBe(op.worker.address.toString());
            // meanwhile the operator unbonds (its whole flow runs to the end)
            const u = await op.worker.send(op.wallet.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 4n });
            expect(failures(u)).toEqual([]);
            // the rest of the top-up: StakeUp at the root, StakeSynced(+) at the Worker, which sends it back out
            const rest: any[] = [];
            for (let r = await iter.next(); !r.done; r = await iter.next()) rest.push(r.value);
            for (const tx of rest) {
                const d = tx.description;
                if (d.type === 'generic' && d.computePhase.type === 'vm') expect([tx.inMessage.info.dest.toString(), d.computePhase.exitCode]).toEqual([tx.inMessage.info.dest.toString(), 0]);
            }
            expect(await net.root.getTotalStake()).toBe(0n);
            expect(await op.worker.getState()).toMatchObject({ stake: 0n, pending: 0n, rewardStake: 0n, unbonding: STAKE + AMOUNT, status: STATUS_UNBONDING });
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });

        it('refuses a stranger (ERR_NOT_OPERATOR), zero (ERR_ZERO_AMOUNT) and an unbonding Worker (ERR_NOT_ACTIVE)', async () => {
            const s = await withDelta(net.chain, stranger.address, () => topUp(stranger, AMOUNT, AMOUNT + toNano('0.1')));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expectOnlyFees(s.delta);
            const z = await topUp(op.wallet, 0n, toNano('0.1'));
            expect(z.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_ZERO_AMOUNT) });

            await op.worker.send(op.wallet.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
            const u = await withDelta(net.chain, op.wallet.address, () => topUp(op.wallet, AMOUNT, AMOUNT + toNano('0.1')));
            expect(u.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_ACTIVE) });
            expectOnlyFees(u.delta);
            expect(await net.root.getTotalStake()).toBe(0n);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });
    });

    // ------------------------------------------------------------ SetPrice / SetEndpoint

    describe('SetPrice', () => {
        const setPrice = (o: Operator, from: SandboxContract<TreasuryContract>, price: bigint | PriceSet) =>
            o.worker.send(from.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(price) });
        const pricesOf = async (o: Operator) => {
            const p = (await o.worker.getInfo()).prices;
            return { prompt: p.prompt, cached: p.cached, completion: p.completion };
        };

        it('sets a price up to maxPrice and refuses one above (ERR_PRICE_TOO_HIGH)', async () => {
            await registerOk();
            const ok = await withDelta(net.chain, op.wallet.address, () => setPrice(op, op.wallet, net.params.maxPrice));
            expect(ok.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: true });
            expectOnlyFees(ok.delta, toNano('0.01'));
            expect(await pricesOf(op)).toEqual({ prompt: net.params.maxPrice, cached: net.params.maxPrice, completion: net.params.maxPrice });

            const high = await withDelta(net.chain, op.wallet.address, () => setPrice(op, op.wallet, net.params.maxPrice + 1n));
            expect(high.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_PRICE_TOO_HIGH) });
            expectOnlyFees(high.delta);
            expect((await pricesOf(op)).prompt).toBe(net.params.maxPrice);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });

        it('sets one price per token class; any class above maxPrice refuses the whole message', async () => {
            await registerOk();
            const p = { prompt: net.params.maxPrice / 4n, cached: net.params.maxPrice / 16n, completion: net.params.maxPrice };
            const ok = await setPrice(op, op.wallet, p);
            expect(ok.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: true });
            expect(await pricesOf(op)).toEqual(p);
            for (const cls of TOKEN_CLASSES) {
                const r = await setPrice(op, op.wallet, { prompt: 1n, cached: 1n, completion: 1n, [cls]: net.params.maxPrice + 1n });
                expect(r.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_PRICE_TOO_HIGH) });
                expect(await pricesOf(op)).toEqual(p);
            }
        });

        it('keeps each price in 56 bits: up to MAX_WORKER_PRICE in every class round-trips, one nanoton more is refused', async () => {
            const big = await createNet({ params: { maxPrice: 1n << 60n } });
            const o = await operatorOf(big, 'op-max');
            const a = attest(big, o);
            expect(failures(await register(big, o, a.cell, STAKE, STAKE + toNano('0.2'), o.wallet, 1n))).toEqual([]);
            const top = { prompt: MAX_WORKER_PRICE, cached: MAX_WORKER_PRICE - 1n, completion: 1n };
            const ok = await setPrice(o, o.wallet, top);
            expect(ok.transactions).toHaveTransaction({ from: o.wallet.address, to: o.worker.address, success: true });
            expect(await pricesOf(o)).toEqual(top);
            for (const cls of TOKEN_CLASSES) {
                const r = await setPrice(o, o.wallet, { prompt: 1n, cached: 1n, completion: 1n, [cls]: MAX_WORKER_PRICE + 1n });
                expect(r.transactions).toHaveTransaction({ from: o.wallet.address, to: o.worker.address, success: false, exitCode: n(ERR_PRICE_TOO_HIGH) });
            }
            expect(await pricesOf(o)).toEqual(top);
            // EscrowQuery compares each class with the asker's cap: one nanoton under one class's price is inactive
            const asker = await big.chain.treasury('asker');
            const query = (caps: PriceSet, root = big.root.address) =>
                o.worker.send(asker.getSender(), { value: toNano('0.1') }, { $$type: 'EscrowQuery', queryId: 7n, caps: asPrices(caps), root });
            const infoOf = (r: Awaited<ReturnType<typeof query>>) => {
                const tx = r.transactions.find((t) => t.inMessage?.info.src?.toString?.() === o.worker.address.toString())!;
                return loadEscrowInfo(tx.inMessage!.body.beginParse());
            };
            const answer = await query(top);
            expect(infoOf(answer).active).toBe(true);
            // the answer is the message cell alone (issue 15): every field decodes from it
            const answerTx = answer.transactions.find((t) => t.inMessage?.info.src?.toString?.() === o.worker.address.toString())!;
            expect(answerTx.inMessage!.body.refs).toHaveLength(0);
            const wi = await o.worker.getInfo();
            expect(infoOf(answer).teeKey).toBe(wi.teeKey);
            expect(infoOf(answer).operator.equals(o.wallet.address)).toBe(true);
            expect(infoOf(answer).payUntil).toBe(wi.expiresAt + (await big.root.getParams()).disputeWindow);
            expect(infoOf(await query({ ...top, cached: top.cached - 1n })).active).toBe(false);
            expect(infoOf(await query({ prompt: (1n << 64n) - 1n, cached: (1n << 64n) - 1n, completion: (1n << 64n) - 1n })).active).toBe(true);
            // and the root the asker names with its own: an escrow of another network is told inactive
            expect(infoOf(await query(top, asker.address)).active).toBe(false);
        });

        it('refuses a stranger (ERR_NOT_OPERATOR) and a Worker never attested (ERR_NOT_ACTIVE)', async () => {
            await registerOk();
            const s = await withDelta(net.chain, stranger.address, () => setPrice(op, stranger, 1n));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expectOnlyFees(s.delta);
            expect(await pricesOf(op)).toEqual({ prompt: 0n, cached: 0n, completion: 0n });

            // through the SDK's wrapper (no StateInit) a message to a Worker never registered bounces and
            // deploys nothing
            const fresh = await operatorOf(net, 'op-fresh');
            const f = await withDelta(net.chain, fresh.wallet.address, () => setPrice(fresh, fresh.wallet, 1n));
            expect(f.res.transactions).toHaveTransaction({ from: fresh.wallet.address, to: fresh.worker.address, aborted: true });
            expect((await net.chain.getContract(fresh.worker.address)).accountState?.type).not.toBe('active');
            expectOnlyFees(f.delta);
            // a blank Worker deployed by hand with its StateInit refuses it (ERR_NOT_ACTIVE)
            const blank = net.chain.openContract(await Worker.fromInit(net.root.address, fresh.wallet.address, emptyWorkerState()));
            const g = await withDelta(net.chain, fresh.wallet.address, () =>
                blank.send(fresh.wallet.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(1n) }));
            expect(g.res.transactions).toHaveTransaction({ from: fresh.wallet.address, to: fresh.worker.address, deploy: true, success: false, exitCode: n(ERR_NOT_ACTIVE) });
            expectOnlyFees(g.delta, toNano('0.1')); // includes the forward fee of the Worker's StateInit
        });
    });

    describe('SetEndpoint', () => {
        it('publishes the endpoint (operator only)', async () => {
            await registerOk();
            const url = 'https://node1.example.org:8443';
            const ok = await withDelta(net.chain, op.wallet.address, () =>
                op.worker.send(op.wallet.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: url }));
            expect(ok.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: true });
            expectOnlyFees(ok.delta, toNano('0.01'));
            expect((await op.worker.getInfo()).endpoint).toBe(url);

            const s = await withDelta(net.chain, stranger.address, () =>
                op.worker.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://evil.example' }));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expectOnlyFees(s.delta);
            expect((await op.worker.getInfo()).endpoint).toBe(url);
            await expectWorkerHoldsItsBook(net.chain, op.worker);
        });
    });

    // ------------------------------------------------------------ Unbond / WithdrawStake

    describe('Unbond', () => {
        const unbond = (from: SandboxContract<TreasuryContract>, value = toNano('0.1')) =>
            op.worker.send(from.getSender(), { value }, { $$type: 'Unbond', queryId: 4n });

        beforeEach(async () => { await registerOk(); });

        it('moves the whole stake to unbonding and drops it from the root total', async () => {
            const other = await operatorOf(net, 'op2');
            await registerOk(other, toNano('30'));
            const rootBefore = await balanceOf(net.chain, net.root.address);
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () => unbond(op.wallet));
            expect(res.transactions).toHaveTransaction({ from: op.worker.address, to: net.root.address, success: true, op: 0xc0c00123 });
            expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true, op: 0xc0c00132 });
            expectOnlyFees(delta);
            const info = await op.worker.getInfo();
            // withdrawable after the unbonding period, and not before receipts signed by the key in force
            // stop being payable (its lease end + the dispute window)
            const lease = (await op.worker.getInfo()).expiresAt;
            const later = (a: bigint, b: bigint) => (a > b ? a : b);
            expect(info).toMatchObject({
                status: STATUS_UNBONDING, active: false, stake: 0n, unbonding: STAKE, rewardStake: 0n,
                withdrawableAt: later(BigInt(now()) + net.params.unbondingPeriod, lease + net.params.disputeWindow),
                keyPayUntil: lease + net.params.disputeWindow, accountableUntil: lease + net.params.disputeWindow,
            });
            expect(await net.root.getTotalStake()).toBe(toNano('30'));
            expect(await balanceOf(net.chain, op.worker.address)).toBe(STAKE + WORKER_STORAGE_RESERVE);
            await expectRootKept(rootBefore);
        });

        it('refuses a second Unbond (ERR_NO_STAKE) and a stranger (ERR_NOT_OPERATOR, also for ClaimRewards)', async () => {
            const s = await withDelta(net.chain, stranger.address, () => unbond(stranger));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expectOnlyFees(s.delta);
            expect((await op.worker.getState()).status).toBe(STATUS_ACTIVE);

            await unbond(op.wallet);
            const again = await withDelta(net.chain, op.wallet.address, () => unbond(op.wallet));
            expect(again.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_NO_STAKE) });
            expectOnlyFees(again.delta);
            expect(await op.worker.getState()).toMatchObject({ unbonding: STAKE, stake: 0n });

            const c = await withDelta(net.chain, stranger.address, () =>
                op.worker.send(stranger.getSender(), { value: toNano('0.2') }, { $$type: 'ClaimRewards', queryId: 0n }));
            expect(c.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expect(c.res.transactions).not.toHaveTransaction({ from: op.worker.address, to: net.root.address });
            expectOnlyFees(c.delta);
        });

        it('completes with barely enough TON and refuses one nanoton less (ERR_INSUFFICIENT_VALUE)', async () => {
            const min = feesOf(net.chain).min('unbond');
            const low = await unbond(op.wallet, min - 1n);
            expect(low.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_INSUFFICIENT_VALUE) });
            expect(await net.root.getTotalStake()).toBe(STAKE);
            const ok = await unbond(op.wallet, min);
            expect(ok.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true, op: 0xc0c00132 });
            expect(await op.worker.getState()).toMatchObject({ status: STATUS_UNBONDING, rewardStake: 0n, unbonding: STAKE });
            expect(await net.root.getTotalStake()).toBe(0n);
        });
    });

    describe('WithdrawStake', () => {
        const withdraw = (from: SandboxContract<TreasuryContract>) =>
            op.worker.send(from.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawStake', queryId: 6n });

        beforeEach(async () => { await registerOk(); });

        it('refuses before the unbonding period ends, then pays exactly the unbonded stake', async () => {
            await op.worker.send(op.wallet.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 4n });
            const since = now();
            const { expiresAt } = await op.worker.getInfo();
            // the later of the unbonding period and the key's payUntil (lease end + dispute window)
            const withdrawableAt = Math.max(since + Number(net.params.unbondingPeriod), Number(expiresAt + net.params.disputeWindow));
            expect(withdrawableAt).toBeGreaterThan(since + Number(net.params.unbondingPeriod));
            expect((await op.worker.getInfo()).withdrawableAt).toBe(BigInt(withdrawableAt));

            net.chain.now = withdrawableAt - 1;
            const early = await withDelta(net.chain, op.wallet.address, () => withdraw(op.wallet));
            expect(early.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_STILL_UNBONDING) });
            expectOnlyFees(early.delta);
            expect((await op.worker.getState()).unbonding).toBe(STAKE);

            const s = await withDelta(net.chain, stranger.address, () => withdraw(stranger));
            expect(s.res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_OPERATOR) });
            expectOnlyFees(s.delta);

            net.chain.now = withdrawableAt;
            const { res, delta } = await withDelta(net.chain, op.wallet.address, () => withdraw(op.wallet));
            expect(res.transactions).toHaveTransaction({ from: op.worker.address, to: op.wallet.address, success: true, op: 0xc0c00401 });
            const paid = stakeWithdrawnTo(res, op.wallet.address);
            expect(paid).toHaveLength(1);
            expect(paid[0].amount).toBe(STAKE);
            expect(paid[0].value).toBeGreaterThan(STAKE);            // the stake plus the change of the 0.05 attached
            expect(delta).toBeLessThan(STAKE);
            expect(delta).toBeGreaterThan(STAKE - FEE_BOUND);
            expect(await op.worker.getState()).toMatchObject({ unbonding: 0n, stake: 0n, pending: 0n });
            await expectWorkerHoldsItsBook(net.chain, op.worker);

            const again = await withDelta(net.chain, op.wallet.address, () => withdraw(op.wallet));
            expect(again.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_NOTHING_TO_WITHDRAW) });
            expectOnlyFees(again.delta);
        });

        it('refuses with nothing unbonding (ERR_NOTHING_TO_WITHDRAW)', async () => {
            const r = await withDelta(net.chain, op.wallet.address, () => withdraw(op.wallet));
            expect(r.res.transactions).toHaveTransaction({ from: op.wallet.address, to: op.worker.address, success: false, exitCode: n(ERR_NOTHING_TO_WITHDRAW) });
            expectOnlyFees(r.delta);
            expect((await op.worker.getState()).stake).toBe(STAKE);
        });
    });

    // ------------------------------------------------------------ root-only handlers

    describe('root-only handlers refuse everyone but the root (ERR_NOT_ROOT)', () => {
        it.each(['AttestResult', 'StakeSynced', 'ForceDeactivate'] as const)('%s from a wallet', async (kind) => {
            await registerOk();
            const before = await op.worker.getState();
            const balBefore = await balanceOf(net.chain, op.worker.address);
            const evil = attest(net, { ...op, tee: seededKey('evil-tee') }, { issuedAt: now() + 10 });
            const body =
                kind === 'AttestResult' ? { $$type: 'AttestResult' as const, stakeDelta: toNano('1000'), acc: 0n, queryId: 0n, params: paramsCell(defaultParams({ minStake: toNano('1') })), statement: evil.statementCell }
                : kind === 'StakeSynced' ? { $$type: 'StakeSynced' as const, acc: 10n ** 20n, delta: toNano('1000'), queryId: 0n, payout: true }
                : { $$type: 'ForceDeactivate' as const, queryId: 0n, measurement: MEASUREMENT, changeTo: stranger.address };
            const { res, delta } = await withDelta(net.chain, stranger.address, () =>
                op.worker.send(stranger.getSender(), { value: toNano('0.5') }, body));
            expect(res.transactions).toHaveTransaction({ from: stranger.address, to: op.worker.address, success: false, exitCode: n(ERR_NOT_ROOT) });
            expect(res.transactions).not.toHaveTransaction({ from: op.worker.address, to: net.root.address });
            expectOnlyFees(delta);
            expect(plain(await op.worker.getState())).toEqual(plain(before));
            expect(await balanceOf(net.chain, op.worker.address)).toBe(balBefore);
        });
    });

    // ------------------------------------------------------------ getters

    describe('getters', () => {
        it('isActive(t) turns false at expiresAt, and info().active follows the chain time', async () => {
            await registerOk();
            const exp = Number((await op.worker.getState()).expiresAt);
            expect(await op.worker.getIsActive(BigInt(exp - 1))).toBe(true);
            expect(await op.worker.getIsActive(BigInt(exp))).toBe(false);
            net.chain.now = exp - 1;
            expect((await op.worker.getInfo()).active).toBe(true);
            net.chain.now = exp;
            expect((await op.worker.getInfo()).active).toBe(false);
        });

        it('pendingRewards(acc) is the exact share of funded rewards, and accrual survives a top-up', async () => {
            const op2 = await operatorOf(net, 'op2');
            await registerOk(op, toNano('100'));
            await registerOk(op2, toNano('300'));
            const funder = await net.chain.treasury('funder');
            const fund = await net.root.send(funder.getSender(), { value: toNano('8.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('8') });
            expect(fund.transactions).toHaveTransaction({ from: funder.address, to: net.root.address, success: true });
            const acc = (await net.root.getRewardState()).acc;
            expect(acc).toBe(toNano('8') * REWARD_SCALE / toNano('400'));
            expect(await op.worker.getPendingRewards(acc)).toBe(toNano('2'));
            expect(await op2.worker.getPendingRewards(acc)).toBe(toNano('6'));

            // a top-up checkpoints what was earned so far
            await op.worker.send(op.wallet.getSender(), { value: toNano('10.1') }, { $$type: 'TopUpStake', queryId: 0n, amount: toNano('10') });
            expect(await op.worker.getState()).toMatchObject({ accrued: toNano('2'), checkpoint: acc, rewardStake: toNano('110') });
            expect(await op.worker.getPendingRewards(acc)).toBe(toNano('2'));
            expect((await op.worker.getInfo()).accrued).toBe(toNano('2'));
        });
    });

    it('a Worker address is the one the root derives for the operator', async () => {
        const a: Address = await net.root.getWorkerAddressOf(op.wallet.address);
        expect(a.equals(op.worker.address)).toBe(true);
    });
});

// Slashing on equivocation: exact split (slashBps of stake + unbonding; bounty to the reporter, rest
// to the treasury), refusals with their exit codes, the banned key, and the remaining stake.
import '@ton/test-utils';
import { Blockchain, BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, toNano } from '@ton/core';
import {
    escrowAddress, signReceipt, signHash, signStatement, publicKeyToBigInt, type SignedUsageReceipt, type Ed25519Key,
    STATUS_SLASHED, ERR_BAD_PROOF_SIG, ERR_NOT_EQUIVOCATION, ERR_NOTHING_TO_SLASH, ERR_BAD_TAG,
    ERR_STILL_UNBONDING, ERR_INSUFFICIENT_VALUE, ERR_KEY_NOT_ACCOUNTABLE,
} from '../src/sdk';
import { createNet, registerWorker, makeStatement, seededKey, openEscrow, Net, WorkerHandle } from './helpers/network';
import { Ledger, tracked, paymentsTo, OP, slashProofBody, equivocatingPair } from './helpers/money';

const BPS = 10000n;
const STAKE = toNano('100');
const PROOF_VALUE = toNano('0.2');

describe('slashing', () => {
    let net: Net;
    let chain: Blockchain;
    let w: WorkerHandle;
    let other: WorkerHandle;
    let snap: BlockchainSnapshot;
    let ledger: Ledger;
    let reporter: SandboxContract<TreasuryContract>;
    let escrowA: Address;
    let escrowB: Address;
    const EPOCH = 123n;

    beforeAll(async () => {
        net = await createNet();
        chain = net.chain;
        w = await registerWorker(net, 'op1', STAKE);
        other = await registerWorker(net, 'op2', toNano('50'));
        reporter = await chain.treasury('reporter');
        escrowA = await escrowAddress(w.worker.address, (await chain.treasury('clientA')).address);
        escrowB = await escrowAddress(w.worker.address, (await chain.treasury('clientB')).address);
        snap = chain.snapshot();
    });

    beforeEach(async () => {
        await chain.loadFrom(snap);
        ledger = new Ledger([net.root.address, w.worker.address, other.worker.address]);
    });

    // `tokens` as prompt tokens (the other classes 0), or the three classes
    const rc = (seq: bigint, tokens: bigint | [bigint, bigint, bigint], cost: bigint, escrow = escrowA, epoch = EPOCH, key = w.tee) => {
        const [promptTokens, cachedTokens, completionTokens] = typeof tokens === 'bigint' ? [tokens, 0n, 0n] : tokens;
        return signReceipt({ escrow, epoch, seq, promptTokens, cachedTokens, completionTokens, cost }, key);
    };

    async function prove(a: SignedUsageReceipt, b: SignedUsageReceipt, value = PROOF_VALUE, key: Ed25519Key | bigint = w.tee) {
        return tracked(ledger, chain, () => w.worker.send(reporter.getSender(), { value }, slashProofBody(a, b, key)));
    }

    async function expectSlashed(a: SignedUsageReceipt, b: SignedUsageReceipt, stake: bigint, unbonding: bigint) {
        const rs0 = await net.root.getRewardState();
        const bal0 = (await chain.getContract(w.worker.address)).balance;
        const t = await prove(a, b);
        expect(t.res.transactions).toHaveTransaction({ from: w.worker.address, to: net.root.address, success: true });
        const slashed = stake * net.params.slashBps / BPS + unbonding * net.params.slashBps / BPS;
        const bounty = slashed * net.params.reporterBountyBps / BPS;
        const paid = paymentsTo(t.payments, reporter.address, OP.SlashBounty);
        expect(paid).toHaveLength(1);
        expect(paid[0].amount).toBe(bounty);
        expect(paid[0].value).toBeGreaterThanOrEqual(bounty);
        // exactly the slashed coins left the worker; the root kept exactly the treasury's part
        expect((await chain.getContract(w.worker.address)).balance).toBe(bal0 - slashed);
        const rs1 = await net.root.getRewardState();
        expect(rs1.treasury - rs0.treasury).toBe(slashed - bounty);
        expect(rs1.rewardPool).toBe(rs0.rewardPool);
        expect(rs0.totalStake - rs1.totalStake).toBe(stake);
        const info = await w.worker.getInfo();
        expect(info.status).toBe(STATUS_SLASHED);
        expect(info.active).toBe(false);
        expect(info.stake).toBe(0n);
        expect(info.unbonding).toBe(stake + unbonding - slashed);
        expect(info.teeKey).toBe(0n);
        expect(await w.worker.getIsBanned(publicKeyToBigInt(w.tee.publicKey))).toBe(true);
        expect(info.rewardStake).toBe(0n);
        // the reporter paid the gas: our contracts together hold exactly the bounty less than before
        expect(t.heldDelta).toBe(-bounty);
        return { slashed, bounty };
    }

    it('same seq with different totals: slashBps of the stake, bounty to the reporter, rest to the treasury', async () => {
        const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee, 4n);
        await expectSlashed(a, b, STAKE, 0n);
    });

    it('totals going backwards (cost or tokens), in either order of the two receipts', async () => {
        await expectSlashed(rc(2n, 1000n, 50n), rc(3n, 1000n, 49n), STAKE, 0n);
        await chain.loadFrom(snap);
        await expectSlashed(rc(3n, 999n, 60n), rc(2n, 1000n, 50n), STAKE, 0n);
    });

    it('per class: the same seq with tokens moved between classes (same sum, same cost) is an equivocation', async () => {
        await expectSlashed(rc(5n, [600n, 100n, 300n], 90n), rc(5n, [500n, 200n, 300n], 90n), STAKE, 0n);
        await chain.loadFrom(snap);
        await expectSlashed(rc(5n, [600n, 100n, 300n], 90n), rc(5n, [600n, 100n, 299n], 90n), STAKE, 0n);
    });

    it('per class: a later receipt with less of one class is an equivocation even when its sum and cost grow', async () => {
        // cached went down while prompt grew more: the escrow alone would accept both (it checks the sum)
        await expectSlashed(rc(2n, [600n, 100n, 300n], 50n), rc(3n, [700n, 99n, 300n], 60n), STAKE, 0n);
        await chain.loadFrom(snap);
        await expectSlashed(rc(3n, [700n, 100n, 299n], 60n), rc(2n, [600n, 100n, 300n], 50n), STAKE, 0n);
    });

    it('slashes unbonding stake too', async () => {
        await w.worker.send(w.operator.getSender(), { value: toNano('0.2') }, { $$type: 'Unbond', queryId: 0n });
        // re-register with new stake under the same key (a newer statement)
        chain.now = chain.now! + 10;
        const att = signStatement(makeStatement(net, w.operator.address, w.tee), net.verifier);
        const extra = toNano('30');
        await net.root.send(w.operator.getSender(), { value: extra + toNano('0.3') }, { $$type: 'RegisterWorker', queryId: 0n, stake: extra, attestation: att.cell });
        const info = await w.worker.getInfo();
        expect(info.stake).toBe(extra);
        expect(info.unbonding).toBe(STAKE);
        const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee);
        await expectSlashed(a, b, extra, STAKE);
    });

    describe('refusals', () => {
        async function refused(a: SignedUsageReceipt, b: SignedUsageReceipt, code: bigint, value = PROOF_VALUE) {
            const info0 = await w.worker.getInfo();
            const ts0 = await net.root.getTotalStake();
            const t = await prove(a, b, value);
            expect(t.res.transactions).toHaveTransaction({ to: w.worker.address, success: false, exitCode: Number(code) });
            expect(t.res.transactions).not.toHaveTransaction({ from: w.worker.address, to: net.root.address });
            const info1 = await w.worker.getInfo();
            expect(info1.stake).toBe(info0.stake);
            expect(info1.status).toBe(info0.status);
            expect(await net.root.getTotalStake()).toBe(ts0);
            // the reporter's value comes back less the fees
            expect(t.heldDelta).toBe(0n);
        }

        it('receipts signed by another key (ERR_BAD_PROOF_SIG), either one', async () => {
            const forger = seededKey('forger');
            await refused(rc(1n, 10n, 1n, escrowA, EPOCH, forger), rc(1n, 10n, 2n, escrowA, EPOCH, forger), ERR_BAD_PROOF_SIG);
            await refused(rc(1n, 10n, 1n), rc(1n, 10n, 2n, escrowA, EPOCH, forger), ERR_BAD_PROOF_SIG);
            await refused(rc(1n, 10n, 1n, escrowA, EPOCH, forger), rc(1n, 10n, 2n), ERR_BAD_PROOF_SIG);
            // another worker's key does not slash this one
            await refused(rc(1n, 10n, 1n, escrowA, EPOCH, other.tee), rc(1n, 10n, 2n, escrowA, EPOCH, other.tee), ERR_BAD_PROOF_SIG);
        });

        it('receipts that do not contradict each other (ERR_NOT_EQUIVOCATION)', async () => {
            await refused(rc(1n, 10n, 5n), rc(1n, 10n, 5n), ERR_NOT_EQUIVOCATION);
            await refused(rc(1n, 10n, 5n), rc(2n, 10n, 5n), ERR_NOT_EQUIVOCATION);
            await refused(rc(1n, 10n, 5n), rc(2n, 20n, 9n), ERR_NOT_EQUIVOCATION);
            await refused(rc(3n, 20n, 9n), rc(2n, 10n, 5n), ERR_NOT_EQUIVOCATION);
            // every class growing (or equal) with a later seq is honest
            await refused(rc(1n, [600n, 100n, 300n], 50n), rc(2n, [600n, 150n, 301n], 51n), ERR_NOT_EQUIVOCATION);
            await refused(rc(1n, [600n, 100n, 300n], 50n), rc(1n, [600n, 100n, 300n], 50n), ERR_NOT_EQUIVOCATION);
        });

        it('receipts for different escrows or epochs (ERR_NOT_EQUIVOCATION)', async () => {
            await refused(rc(1n, 10n, 5n, escrowA), rc(1n, 10n, 6n, escrowB), ERR_NOT_EQUIVOCATION);
            await refused(rc(1n, 10n, 5n, escrowA, EPOCH), rc(1n, 10n, 6n, escrowA, EPOCH + 1n), ERR_NOT_EQUIVOCATION);
        });

        it('a payload that is not a receipt (ERR_BAD_TAG)', async () => {
            const cell = beginCell().storeUint(0x43415454, 32).storeAddress(escrowA).storeUint(EPOCH, 64)
                .storeUint(1n, 64).storeUint(10n, 64).storeUint(0n, 64).storeUint(0n, 64).storeCoins(6n).endCell();
            const fake: SignedUsageReceipt = { receipt: { escrow: escrowA, epoch: EPOCH, seq: 1n, promptTokens: 10n, cachedTokens: 0n, completionTokens: 0n, cost: 6n }, cell, signature: signHash(cell.hash(), w.tee) };
            await refused(rc(1n, 10n, 5n), fake, ERR_BAD_TAG);
        });

        it('a receipt of the single-price layout (tag CRCT, one token count) does not parse as a receipt (TVM cell underflow, 9)', async () => {
            const cell = beginCell().storeUint(0x43524354, 32).storeAddress(escrowA).storeUint(EPOCH, 64)
                .storeUint(1n, 64).storeUint(10n, 64).storeCoins(6n).endCell();
            const fake: SignedUsageReceipt = { receipt: { escrow: escrowA, epoch: EPOCH, seq: 1n, promptTokens: 10n, cachedTokens: 0n, completionTokens: 0n, cost: 6n }, cell, signature: signHash(cell.hash(), w.tee) };
            await refused(rc(1n, 10n, 5n), fake, 9n);
        });

        it('too little value for the hops to the root and back (ERR_INSUFFICIENT_VALUE)', async () => {
            const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee);
            await refused(a, b, ERR_INSUFFICIENT_VALUE, toNano('0.005'));
        });

        it('the same proof twice, or another proof by the slashed key (ERR_KEY_NOT_ACCOUNTABLE: it is banned)', async () => {
            const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee);
            await expectSlashed(a, b, STAKE, 0n);
            await refused(a, b, ERR_KEY_NOT_ACCOUNTABLE);
            const [c, d] = equivocatingPair(escrowB, EPOCH, w.tee, 9n);
            await refused(c, d, ERR_KEY_NOT_ACCOUNTABLE);
        });
    });

    it('re-registering the banned key brings no key back: its stake unbonds at once; a new key with stake reactivates it', async () => {
        const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee);
        await expectSlashed(a, b, STAKE, 0n);
        chain.now = chain.now! + 10;
        const totalBefore = await net.root.getTotalStake();
        const banned = signStatement(makeStatement(net, w.operator.address, w.tee), net.verifier);
        await net.root.send(w.operator.getSender(), { value: toNano('20.3') }, { $$type: 'RegisterWorker', queryId: 0n, stake: toNano('20'), attestation: banned.cell });
        let info = await w.worker.getInfo();
        expect(info.teeKey).toBe(0n);
        expect(info.active).toBe(false);
        // the new stake does not sit in the root's total earning rewards without risk: it unbonds
        expect(info.stake).toBe(0n);
        expect(info.rewardStake).toBe(0n);
        expect(info.unbonding).toBeGreaterThanOrEqual(toNano('20'));
        expect(await net.root.getTotalStake()).toBe(totalBefore);
        // no escrow can open against it
        const e = await openEscrow(net, w, 'clientZ');
        expect(e.result.transactions).toHaveTransaction({ from: e.escrow.address, to: e.client.address, op: OP.EscrowRefund });
        // a fresh key works
        chain.now = chain.now! + 10;
        const tee2 = seededKey('tee-new:op1');
        const fresh = signStatement(makeStatement(net, w.operator.address, tee2), net.verifier);
        await net.root.send(w.operator.getSender(), { value: toNano('20.3') }, { $$type: 'RegisterWorker', queryId: 0n, stake: toNano('20'), attestation: fresh.cell });
        info = await w.worker.getInfo();
        expect(info.teeKey).toBe(publicKeyToBigInt(tee2.publicKey));
        expect(info.active).toBe(true);
        expect(await net.root.getTotalStake()).toBe(totalBefore + toNano('20'));
    });

    it('the remaining stake is withdrawable after the unbonding period, and not before', async () => {
        const [a, b] = equivocatingPair(escrowA, EPOCH, w.tee);
        const { slashed } = await expectSlashed(a, b, STAKE, 0n);
        const rest = STAKE - slashed;
        let t = await tracked(ledger, chain, () => w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawStake', queryId: 0n }));
        expect(t.res.transactions).toHaveTransaction({ to: w.worker.address, exitCode: Number(ERR_STILL_UNBONDING) });
        chain.now = Number((await w.worker.getInfo()).withdrawableAt);
        const bal0 = (await chain.getContract(w.worker.address)).balance;
        t = await tracked(ledger, chain, () => w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawStake', queryId: 0n }));
        const paid = paymentsTo(t.payments, w.operator.address, OP.StakeWithdrawn);
        expect(paid).toHaveLength(1);
        expect(paid[0].amount).toBe(rest);
        expect(paid[0].value).toBeGreaterThan(rest);
        const bal1 = (await chain.getContract(w.worker.address)).balance;
        // exactly the principal left (storage fees for the elapsed week aside, bounded by the reserve)
        expect(bal0 - bal1).toBeGreaterThanOrEqual(rest);
        expect(bal0 - bal1 - rest).toBeLessThan(toNano('0.02'));
        expect((await w.worker.getInfo()).unbonding).toBe(0n);
    });
});

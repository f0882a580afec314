// Adversarial suite: one test per attack. Each asserts that the attack fails with its named exit code
// and that no honest party's or contract's balance moves (the attacker pays its own fees).
// docs/SECURITY.md lists every attack with the test that covers it.
import '@ton/test-utils';
import { Address, Builder, Cell, beginCell, storeStateInit, toNano } from '@ton/core';
import { SandboxContract, TreasuryContract, createEmptyShardAccount } from '@ton/sandbox';
import {
    ERR_INSUFFICIENT_VALUE, ERR_ZERO_AMOUNT, ERR_NOT_OWNER, ERR_NOT_PENDING_OWNER, ERR_PAUSED, ERR_BAD_PARAMS,
    ERR_WRONG_ROOT, ERR_WRONG_OPERATOR, ERR_STAKE_TOO_LOW, ERR_NOT_WORKER, ERR_NOT_OPERATOR, ERR_NOT_ROOT,
    ERR_NOTHING_TO_WITHDRAW, ERR_NOTHING_TO_SLASH, ERR_NOT_CLIENT, ERR_NOT_ESCROW_WORKER,
    ERR_BAD_RECEIPT, ERR_BAD_RECEIPT_SIG, ERR_STALE_RECEIPT, ERR_PRICE_ABOVE_CAP, ERR_DISPUTE_WINDOW_OVER,
    ERR_WINDOW_NOT_OVER, ERR_NOT_PARTY, ERR_BAD_ATTESTATION_SIG, ERR_KEY_EXPIRED, ERR_KEY_NOT_ACCOUNTABLE,
    ERR_STILL_SERVING, ERR_STAKE_BELOW_MIN, ERR_NOT_ACTIVE, ERR_STILL_UNBONDING, STATUS_UNBONDING, escrowFor,
    type Ed25519Key, type Statement, type SignedUsageReceipt,
    ESCROW_NONE, ESCROW_OPEN, ESCROW_CLOSING, STATUS_ACTIVE, STATUS_SLASHED, BPS,
    WORKER_STORAGE_RESERVE, ESCROW_STORAGE_RESERVE,
    storeSetParams, storeAddMeasurement, storeRemoveMeasurement, storeAddVerifierKey, storeRemoveVerifierKey,
    storeSetPaused, storeProposeOwner, storeAcceptOwnership, storeDeactivateWorker, storeWithdrawTreasury,
    storeStakeUp, storeStakeDown, storePayRewards, storeRewardSync, storeAttestResult, storeProtocolFee,
    storeStakeSynced, storeForceDeactivate, storeEscrowInfo, storeClaim, storeRegisterWorker, storeTopUpStake,
    storeSetPrice, storeSetEndpoint, storeUnbond, storeWithdrawStake, storeClaimRewards, storeOpenEscrow,
    storeTopUpEscrow, storeCloseEscrow, storeWithdrawEscrow, storeRefreshWorker, storeFundRewards, storeSlashProof,
    Params, Worker, rootFor, workerFor, escrowForOpening, emptyWorkerState, paramsCell, publicKeyToBigInt, signStatement,
    signReceipt, signedReceiptCell, signedAttestationCell, loadStakeWithdrawn, changeCell, asPrices,
} from '../src/sdk';
import {
    Net, WorkerHandle, EscrowHandle, createNet, registerWorker, openEscrow, signedReceiptFor,
    makeStatement, seededKey, governed, MEASUREMENT, MODEL, REGISTER_GAS,
    CLIENT_KEY, usage,
} from './helpers/network';
import {
    balancesOf, expectBalancesUnchanged, dataHashes, minFor, failures, accountState,
    nonCanonicalS, flippedS, withTrailingBit,
} from './helpers/attacks';

const code = (c: bigint) => Number(c);
const body = (store: (b: Builder) => void) => beginCell().store(store).endCell();
const TOKENS = 10_000_000n; // 10M tokens per receipt step: at maxPrice 0.5 TON/M the cap is 5 TON per step
const DAY = 86400;

type Wallet = SandboxContract<TreasuryContract>;

interface World {
    net: Net;
    w: WorkerHandle;
    e: EscrowHandle;
    attacker: Wallet;
}

async function world(): Promise<World> {
    const net = await createNet();
    const w = await registerWorker(net, 'op1');
    const e = await openEscrow(net, w, 'client1');
    expect((await e.escrow.getState()).state).toBe(ESCROW_OPEN);
    const attacker = await net.chain.treasury('attacker');
    return { net, w, e, attacker };
}

/** Everything honest in a World: root, worker, escrow, operator, client, owner. */
function honest(x: World, ...more: Address[]): Address[] {
    return [x.net.root.address, x.w.worker.address, x.e.escrow.address, x.w.operator.address, x.e.client.address, x.net.owner.address, ...more];
}

function receipt(x: { e: EscrowHandle; w: WorkerHandle }, seq: bigint, cost: bigint, tokens = TOKENS * seq) {
    return signedReceiptFor(x.e, x.w.tee, { seq, tokens, cost });
}

function claimCell(s: { signature: Buffer; cell: Cell }, queryId = 0n): Cell {
    return body(storeClaim({ $$type: 'Claim', queryId, signature: s.signature, receipt: s.cell }));
}

async function claim(x: World, s: { signature: Buffer; cell: Cell }, from: Wallet, value = toNano('0.1')) {
    return from.send({ to: x.e.escrow.address, value, body: claimCell(s), bounce: true });
}

async function timeTravel(net: Net, seconds: number) {
    net.chain.now = (net.chain.now ?? 0) + seconds;
}

// ==================================================================== replay

describe('replay', () => {
    it('a receipt for one escrow does not pay on another escrow of the same worker', async () => {
        const x = await world();
        const e2 = await openEscrow(x.net, x.w, 'client2');
        const r = await receipt(x, 1n, toNano('1'));
        const before = await balancesOf(x.net.chain, honest(x, e2.escrow.address, e2.client.address));
        const data = await dataHashes(x.net.chain, [x.e.escrow.address, e2.escrow.address]);
        const res = await x.attacker.send({ to: e2.escrow.address, value: toNano('0.1'), body: claimCell(r), bounce: true });
        expect(res.transactions).toHaveTransaction({ to: e2.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT) });
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.e.escrow.address, e2.escrow.address])).toEqual(data);
    });

    it("a receipt and an attestation of one network do not work on another network's root (same operator and TEE key)", async () => {
        const x = await world();
        // Network 2: same owner, verifier, measurement; another networkId, hence another root address.
        const rootB = x.net.chain.openContract(await rootFor(x.net.owner.address, 2, x.net.params, 1, {
            governanceDelay: 3600, measurements: [[MEASUREMENT, MODEL]], verifierKeys: [publicKeyToBigInt(x.net.verifier.publicKey)],
        }));
        await rootB.send(x.net.owner.getSender(), { value: toNano('1') }, null);
        expect(rootB.address.equals(x.net.root.address)).toBe(false);
        const netB: Net = { ...x.net, root: rootB };
        const workerB = await workerFor(rootB.address, x.w.operator.address);

        // 1. The attestation issued for network 1 is refused by network 2's root; the stake comes back.
        const before1 = await balancesOf(x.net.chain, honest(x, rootB.address, workerB.address));
        const res1 = await x.w.operator.send({
            to: rootB.address, value: toNano('100') + REGISTER_GAS, bounce: true,
            body: body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 1n, stake: toNano('100'), attestation: x.w.attestation.cell })),
        });
        expect(res1.transactions).toHaveTransaction({ from: x.w.operator.address, to: rootB.address, success: false, exitCode: code(ERR_WRONG_ROOT) });
        expect(await rootB.getTotalStake()).toBe(0n);
        expect(await accountState(x.net.chain, workerB.address)).not.toBe('active');
        const opKey = x.w.operator.address.toString();
        expect(before1.get(opKey)! - (await x.net.chain.getContract(x.w.operator.address)).balance).toBeLessThan(toNano('0.02'));
        before1.delete(opKey); // the operator made the mistake: it paid its gas and got its stake back
        await expectBalancesUnchanged(x.net.chain, before1);

        // 2. Properly attested on network 2 with the same TEE key, the same client opens an escrow there.
        const wB = await registerWorker(netB, 'op1');
        expect(wB.worker.address.equals(workerB.address)).toBe(true);
        expect((await wB.worker.getInfo()).teeKey).toBe((await x.w.worker.getInfo()).teeKey);
        const eB = await openEscrow(netB, wB, 'client1');
        expect((await eB.escrow.getState()).state).toBe(ESCROW_OPEN);
        expect(eB.escrow.address.equals(x.e.escrow.address)).toBe(false);

        // 3. A receipt signed for network 1's escrow does not pay on network 2's escrow.
        const r = await receipt(x, 1n, toNano('1'));
        const before = await balancesOf(x.net.chain, honest(x, rootB.address, wB.worker.address, eB.escrow.address));
        const res3 = await x.attacker.send({ to: eB.escrow.address, value: toNano('0.1'), body: claimCell(r), bounce: true });
        expect(res3.transactions).toHaveTransaction({ to: eB.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT) });
        await expectBalancesUnchanged(x.net.chain, before);
        expect((await eB.escrow.getState()).paid).toBe(0n);
    });

    it('receipts of an epoch do not pay after close + withdraw + reopen (new epoch)', async () => {
        const x = await world();
        const r1 = await receipt(x, 1n, toNano('1'));
        const r2 = await receipt(x, 2n, toNano('2')); // signed but never claimed in epoch 1
        const epoch1 = (await x.e.escrow.getState()).epoch;
        await claim(x, r1, x.w.operator);
        expect((await x.e.escrow.getState()).paid).toBe(toNano('1'));
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(x.net, DAY);
        const wd = await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(wd.transactions).toHaveTransaction({ to: x.e.escrow.address, success: true });
        expect(await accountState(x.net.chain, x.e.escrow.address)).not.toBe('active');
        const e2 = await openEscrow(x.net, x.w, 'client1');
        expect(e2.escrow.address.equals(x.e.escrow.address)).toBe(true);
        const st = await e2.escrow.getState();
        expect(st.state).toBe(ESCROW_OPEN);
        expect(st.epoch).toBeGreaterThan(epoch1);

        const before = await balancesOf(x.net.chain, honest(x));
        for (const r of [r1, r2]) {
            const res = await claim(x, r, x.attacker);
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect((await e2.escrow.getState()).paid).toBe(0n);
    });
});

// ==================================================================== wrong signers

describe('wrong signers', () => {
    it('a receipt signed by the verifier key or by the operator key instead of the TEE key does not pay', async () => {
        const x = await world();
        const st = await x.e.escrow.getState();
        const fields = usage(x.e.escrow.address, st.epoch, { seq: 1n, tokens: TOKENS, cost: toNano('1') });
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.e.escrow.address]);
        for (const key of [x.net.verifier, seededKey('operator-wallet:op1')]) {
            const res = await claim(x, signReceipt(fields, key), x.w.operator);
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT_SIG) });
        }
        before.delete(x.w.operator.address.toString()); // the operator is the attacker here: only its gas is gone
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.e.escrow.address])).toEqual(data);
    });

    it('an attestation statement is refused for another operator, and an older statement cannot roll a worker back', async () => {
        const x = await world();
        const op2 = await x.net.chain.treasury('op2');
        const worker2 = await workerFor(x.net.root.address, op2.address);
        const before = await balancesOf(x.net.chain, honest(x, worker2.address));
        const totalBefore = await x.net.root.getTotalStake();
        const res = await op2.send({
            to: x.net.root.address, value: toNano('100') + REGISTER_GAS, bounce: true,
            body: body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 1n, stake: toNano('100'), attestation: x.w.attestation.cell })),
        });
        expect(res.transactions).toHaveTransaction({ from: op2.address, to: x.net.root.address, success: false, exitCode: code(ERR_WRONG_OPERATOR) });
        expect(await accountState(x.net.chain, worker2.address)).not.toBe('active');
        expect(await x.net.root.getTotalStake()).toBe(totalBefore);
        await expectBalancesUnchanged(x.net.chain, before);

        // op1 rotates to a new TEE key; replaying its older (still unexpired) statement does not bring the old key back
        await timeTravel(x.net, 60);
        const newTee = seededKey('tee:op1:v2');
        const fresh = signStatement(makeStatement(x.net, x.w.operator.address, newTee), x.net.verifier);
        await x.net.root.send(x.w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 2n, stake: 0n, attestation: fresh.cell });
        expect((await x.w.worker.getInfo()).teeKey).toBe(publicKeyToBigInt(newTee.publicKey));
        await x.net.root.send(x.w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 3n, stake: 0n, attestation: x.w.attestation.cell });
        const info = await x.w.worker.getInfo();
        expect(info.teeKey).toBe(publicKeyToBigInt(newTee.publicKey));
        expect(info.issuedAt).toBe(BigInt(fresh.statement.issuedAt));
        expect(info.stake).toBe(toNano('100'));
        expect(await x.net.root.getTotalStake()).toBe(toNano('100'));
    });

    it('an attestation whose verifier signature was tampered with is refused and the stake comes back', async () => {
        const net = await createNet();
        const op = await net.chain.treasury('op1');
        const worker = await workerFor(net.root.address, op.address);
        const good = signStatement(makeStatement(net, op.address, seededKey('tee:op1')), net.verifier);
        const [g] = good.signatures;
        for (const sig of [flippedS(g.signature), nonCanonicalS(g.signature)]) {
            const before = await balancesOf(net.chain, [net.root.address, worker.address, net.owner.address]);
            const res = await net.root.send(op.getSender(), { value: toNano('100') + REGISTER_GAS }, {
                $$type: 'RegisterWorker', queryId: 1n, stake: toNano('100'), attestation: signedAttestationCell(good.statementCell, [{ verifierKey: g.verifierKey, signature: sig }]),
            });
            expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: code(ERR_BAD_ATTESTATION_SIG) });
            await expectBalancesUnchanged(net.chain, before);
            expect(await net.root.getTotalStake()).toBe(0n);
            expect(await accountState(net.chain, worker.address)).not.toBe('active');
        }
    });
});

// ==================================================================== signature malleability

describe('signature malleability', () => {
    it('a receipt with a flipped S or a non-canonical S (S + L) does not verify', async () => {
        const x = await world();
        const r = await receipt(x, 1n, toNano('1'));
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.e.escrow.address]);
        for (const sig of [flippedS(r.signature), nonCanonicalS(r.signature)]) {
            const res = await claim(x, { signature: sig, cell: r.cell }, x.attacker);
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT_SIG) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.e.escrow.address])).toEqual(data);
    });

    it('the same receipt fields re-encoded (another cell, another hash) do not verify with the original signature', async () => {
        const x = await world();
        const r = await receipt(x, 1n, toNano('1'));
        // 1. one trailing bit: a lax parser reads the same fields; 2. cost stored with a non-minimal length (15 bytes).
        const st = await x.e.escrow.getState();
        const longCost = beginCell().storeUint(0x43524354, 32).storeAddress(x.e.escrow.address).storeUint(st.epoch, 64)
            .storeUint(1n, 64).storeUint(TOKENS, 64).storeUint(15, 4).storeUint(toNano('1'), 120).endCell();
        expect(longCost.hash().equals(r.cell.hash())).toBe(false);
        const before = await balancesOf(x.net.chain, honest(x));
        for (const cell of [withTrailingBit(r.cell), longCost]) {
            const res = await claim(x, { signature: r.signature, cell }, x.attacker);
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT_SIG) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect((await x.e.escrow.getState()).paid).toBe(0n);
    });

    it('a claimed receipt presented again (same or mutated signature) is never paid twice', async () => {
        const x = await world();
        const r = await receipt(x, 1n, toNano('1'));
        await claim(x, r, x.w.operator);
        expect((await x.e.escrow.getState()).paid).toBe(toNano('1'));
        const before = await balancesOf(x.net.chain, honest(x));
        const res1 = await claim(x, r, x.attacker);
        expect(res1.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_STALE_RECEIPT) });
        const res2 = await claim(x, { signature: nonCanonicalS(r.signature), cell: r.cell }, x.attacker);
        expect(res2.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_BAD_RECEIPT_SIG) });
        await expectBalancesUnchanged(x.net.chain, before);
        expect((await x.e.escrow.getState()).paid).toBe(toNano('1'));
    });
});

// ==================================================================== claims racing a close

describe('claims racing a close', () => {
    it('claims in the same block as the close, before and after it, are each paid once', async () => {
        const x = await world();
        const r1 = await receipt(x, 1n, toNano('1'));
        const r2 = await receipt(x, 2n, toNano('2'));
        const t = x.net.chain.now!;
        const c1 = await claim(x, r1, x.w.operator);
        expect(c1.transactions).toHaveTransaction({ to: x.e.escrow.address, success: true });
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        const st = await x.e.escrow.getState();
        expect(st.state).toBe(ESCROW_CLOSING);
        expect(st.closeAt).toBe(BigInt(t + DAY));
        const c2 = await claim(x, r2, x.attacker);
        expect(c2.transactions).toHaveTransaction({ to: x.e.escrow.address, success: true });
        const st2 = await x.e.escrow.getState();
        expect(st2.paid).toBe(toNano('2'));
        expect(st2.deposit).toBe(toNano('3'));
        expect(x.net.chain.now).toBe(t);
    });

    it('a claim one second before closeAt is paid; at closeAt it is refused and no TON moves', async () => {
        const x = await world();
        const r1 = await receipt(x, 1n, toNano('1'));
        const r2 = await receipt(x, 2n, toNano('2'));
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        const closeAt = Number((await x.e.escrow.getState()).closeAt);
        x.net.chain.now = closeAt - 1;
        const ok = await claim(x, r1, x.attacker);
        expect(ok.transactions).toHaveTransaction({ to: x.e.escrow.address, success: true });
        expect((await x.e.escrow.getState()).paid).toBe(toNano('1'));
        x.net.chain.now = closeAt;
        const before = await balancesOf(x.net.chain, honest(x));
        const late = await claim(x, r2, x.attacker);
        expect(late.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_DISPUTE_WINDOW_OVER) });
        await expectBalancesUnchanged(x.net.chain, before, [late]);
        expect((await x.e.escrow.getState()).paid).toBe(toNano('1'));
    });

    it('a withdrawal one second before closeAt is refused; at closeAt the client gets everything left', async () => {
        const x = await world();
        await claim(x, await receipt(x, 1n, toNano('1')), x.w.operator);
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        const st = await x.e.escrow.getState();
        x.net.chain.now = Number(st.closeAt) - 1;
        const escrowBefore = await balancesOf(x.net.chain, [x.e.escrow.address, x.w.operator.address, x.net.root.address]);
        const early = await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(early.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_WINDOW_NOT_OVER) });
        await expectBalancesUnchanged(x.net.chain, escrowBefore, [early]);
        x.net.chain.now = Number(st.closeAt);
        const rs = await x.net.root.getRewardState();
        const clientBefore = (await x.net.chain.getContract(x.e.client.address)).balance;
        const wd = await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(wd)).toEqual([]);
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(0n);
        const rs2 = await x.net.root.getRewardState();
        expect(rs2.treasury + rs2.rewardPool - rs.treasury - rs.rewardPool).toBe(st.feesOwed);
        // deposit left + storage reserve, less the gas of the withdrawal and the root's gas allowance for the fee forward
        const gain = (await x.net.chain.getContract(x.e.client.address)).balance - clientBefore;
        expect(gain).toBeGreaterThan(st.deposit - toNano('0.01'));
        expect(gain).toBeLessThan(st.deposit + ESCROW_STORAGE_RESERVE);
    });

    it('a claim arriving after the withdrawal bounces off the destroyed escrow; nobody is paid', async () => {
        const x = await world();
        const r1 = await receipt(x, 1n, toNano('1'));
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(x.net, DAY);
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(await accountState(x.net.chain, x.e.escrow.address)).not.toBe('active');
        const before = await balancesOf(x.net.chain, honest(x));
        const res = await claim(x, r1, x.attacker);
        expect(res.transactions).toHaveTransaction({ from: x.e.escrow.address, to: x.attacker.address, inMessageBounced: true });
        await expectBalancesUnchanged(x.net.chain, before);
    });
});

// ==================================================================== too little TON to finish

describe('too little TON to finish a flow', () => {
    /** Sends `make(value)` at min - 1 (refused with ERR_INSUFFICIENT_VALUE, nothing moves) then at exactly min (every hop succeeds). */
    async function boundary(
        x: { net: Net }, entry: Address, sender: Wallet, min: bigint, msg: Cell, watch: Address[], init?: { code: Cell; data: Cell },
    ) {
        const before = await balancesOf(x.net.chain, watch);
        const data = await dataHashes(x.net.chain, watch);
        const senderBefore = (await x.net.chain.getContract(sender.address)).balance;
        const low = await sender.send({ to: entry, value: min - 1n, body: msg, bounce: true, init });
        expect(low.transactions).toHaveTransaction({ from: sender.address, to: entry, success: false, exitCode: code(ERR_INSUFFICIENT_VALUE) });
        await expectBalancesUnchanged(x.net.chain, before);
        // a contract that did not exist may now exist blank (a failed deploy still initialises the account), holding nothing
        const dataAfter = await dataHashes(x.net.chain, watch);
        expect(dataAfter.filter((_, i) => data[i] !== null)).toEqual(data.filter((d) => d !== null));
        // the sender paid only its own fees (a deploy attempt also pays the StateInit's forward fee)
        expect(senderBefore - (await x.net.chain.getContract(sender.address)).balance).toBeLessThan(toNano('0.05'));
        const exact = await sender.send({ to: entry, value: min, body: msg, bounce: true, init });
        expect(failures(exact)).toEqual([]);
        return exact;
    }

    it('registration: one nanoton short is refused at the root; the exact minimum completes every hop', async () => {
        const net = await createNet();
        const op = await net.chain.treasury('op1');
        const worker = net.chain.openContract(await workerFor(net.root.address, op.address));
        const att = signStatement(makeStatement(net, op.address, seededKey('tee:op1')), net.verifier);
        const stake = toNano('10');
        const min = stake + minFor(net.chain, 'registerWorker');
        const msg = body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 1n, stake, attestation: att.cell }));
        await boundary({ net }, net.root.address, op, min, msg, [net.root.address, worker.address, net.owner.address]);
        const info = await worker.getInfo();
        expect(info.active).toBe(true);
        expect(info.stake).toBe(stake);
        expect(await net.root.getTotalStake()).toBe(stake);
        expect((await net.chain.getContract(worker.address)).balance).toBe(stake + WORKER_STORAGE_RESERVE);
    });

    it('open escrow: one nanoton short is refused; the exact minimum opens it holding exactly deposit + reserve', async () => {
        const x = await world();
        const client = await x.net.chain.treasury('client2');
        const escrow = x.net.chain.openContract(await escrowForOpening(x.w.worker.address, client.address));
        const deposit = toNano('2');
        const min = deposit + minFor(x.net.chain, 'openEscrow');
        const msg = body(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: 1n, deposit, caps: asPrices(toNano('0.5')), clientKey: CLIENT_KEY, root: x.net.root.address }));
        await boundary(x, escrow.address, client, min, msg, [escrow.address, x.w.worker.address, x.net.root.address, x.w.operator.address], escrow.init);
        expect((await escrow.getState()).state).toBe(ESCROW_OPEN);
        expect((await x.net.chain.getContract(escrow.address)).balance).toBe(deposit + ESCROW_STORAGE_RESERVE);
    });

    it('claim (with a fee flush to the root): one nanoton short is refused; the exact minimum pays operator and root', async () => {
        const x = await world();
        const r = await receipt(x, 1n, toNano('2')); // fee 0.1 TON = FEE_FLUSH_MIN: forwarded at once
        const min = minFor(x.net.chain, 'claim');
        const rs = await x.net.root.getRewardState();
        await boundary(x, x.e.escrow.address, x.attacker, min, claimCell(r), honest(x));
        const st = await x.e.escrow.getState();
        expect(st.paid).toBe(toNano('2'));
        expect(st.feesOwed).toBe(0n);
        const rs2 = await x.net.root.getRewardState();
        expect(rs2.treasury + rs2.rewardPool - rs.treasury - rs.rewardPool).toBe(toNano('0.1'));
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(st.deposit + ESCROW_STORAGE_RESERVE);
    });

    it('top-up stake: one nanoton short is refused; the exact minimum is confirmed by the root', async () => {
        const x = await world();
        const amount = toNano('5');
        const min = amount + minFor(x.net.chain, 'topUpStake');
        const msg = body(storeTopUpStake({ $$type: 'TopUpStake', queryId: 1n, amount }));
        await boundary(x, x.w.worker.address, x.w.operator, min, msg, [x.w.worker.address, x.net.root.address, x.e.escrow.address]);
        const info = await x.w.worker.getInfo();
        expect(info.stake).toBe(toNano('105'));
        expect(info.pending).toBe(0n);
        expect(await x.net.root.getTotalStake()).toBe(toNano('105'));
        expect((await x.net.chain.getContract(x.w.worker.address)).balance).toBe(toNano('105') + WORKER_STORAGE_RESERVE);
    });

    it('unbond: one nanoton short is refused; the exact minimum leaves the root total', async () => {
        const x = await world();
        const min = minFor(x.net.chain, 'unbond');
        const msg = body(storeUnbond({ $$type: 'Unbond', queryId: 1n }));
        await boundary(x, x.w.worker.address, x.w.operator, min, msg, [x.w.worker.address, x.net.root.address, x.e.escrow.address]);
        const info = await x.w.worker.getInfo();
        expect(info.unbonding).toBe(toNano('100'));
        expect(info.rewardStake).toBe(0n);
        expect(await x.net.root.getTotalStake()).toBe(0n);
    });

    it('claim rewards: one nanoton short is refused; the exact minimum pays the rewards', async () => {
        const x = await world();
        await x.net.root.send(x.attacker.getSender(), { value: toNano('1.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('1') });
        const min = minFor(x.net.chain, 'claimRewards');
        const msg = body(storeClaimRewards({ $$type: 'ClaimRewards', queryId: 1n }));
        const res = await boundary(x, x.w.worker.address, x.w.operator, min, msg, [x.w.worker.address, x.net.root.address, x.e.escrow.address]);
        expect(res.transactions).toHaveTransaction({ from: x.net.root.address, to: x.w.operator.address, success: true });
        expect((await x.net.root.getRewardState()).rewardPool).toBe(0n);
        expect((await x.w.worker.getInfo()).accrued).toBe(0n);
    });

    it('top-up escrow: one nanoton short is refused; the exact minimum adds exactly the amount', async () => {
        const x = await world();
        const amount = toNano('1');
        const min = amount + minFor(x.net.chain, 'topUpEscrow');
        const msg = body(storeTopUpEscrow({ $$type: 'TopUpEscrow', queryId: 1n, amount }));
        const res = await boundary(x, x.e.escrow.address, x.e.client, min, msg, [x.e.escrow.address, x.w.worker.address, x.net.root.address]);
        expect((await x.e.escrow.getState()).deposit).toBe(toNano('6'));
        // the client's change comes back (Excesses), it does not stay in the escrow
        expect(res.transactions).toHaveTransaction({ from: x.e.escrow.address, to: x.e.client.address, op: 0xd53276db });
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(toNano('6') + ESCROW_STORAGE_RESERVE);
    });

    it('fund rewards: one nanoton short is refused; the exact minimum adds exactly the amount to the pool and the root', async () => {
        const x = await world();
        const amount = toNano('1');
        const min = amount + minFor(x.net.chain, 'fundRewards');
        const msg = body(storeFundRewards({ $$type: 'FundRewards', queryId: 1n, amount }));
        const rootBefore = (await x.net.chain.getContract(x.net.root.address)).balance;
        const res = await boundary(x, x.net.root.address, x.attacker, min, msg, [x.net.root.address, x.w.worker.address, x.e.escrow.address]);
        expect(res.transactions).toHaveTransaction({ from: x.net.root.address, to: x.attacker.address, op: 0xd53276db });
        expect((await x.net.root.getRewardState()).rewardPool).toBe(amount);
        expect((await x.net.chain.getContract(x.net.root.address)).balance - rootBefore).toBe(amount);
    });

    it('refresh worker: one nanoton short is refused; the exact minimum reaches the worker and comes back', async () => {
        const x = await world();
        const min = minFor(x.net.chain, 'refreshWorker');
        const msg = body(storeRefreshWorker({ $$type: 'RefreshWorker', queryId: 1n }));
        const res = await boundary(x, x.e.escrow.address, x.e.client, min, msg, [x.e.escrow.address, x.w.worker.address, x.net.root.address]);
        expect(res.transactions).toHaveTransaction({ from: x.w.worker.address, to: x.e.escrow.address, success: true });
        expect(res.transactions).toHaveTransaction({ from: x.e.escrow.address, to: x.e.client.address, op: 0xd53276db });
        const st = await x.e.escrow.getState();
        expect(st.state).toBe(ESCROW_OPEN);
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(st.deposit + ESCROW_STORAGE_RESERVE);
    });

    it('slash: one nanoton short is refused; the exact minimum slashes, pays the bounty and syncs the root', async () => {
        const x = await world();
        const a = await receipt(x, 1n, toNano('1'));
        const b = await receipt(x, 1n, toNano('2')); // same seq, another total: equivocation
        const proof = body(storeSlashProof({ $$type: 'SlashProof', queryId: 1n, key: publicKeyToBigInt(x.w.tee.publicKey), sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b) }));
        const min = minFor(x.net.chain, 'slash');
        const rs = await x.net.root.getRewardState();
        const stake = toNano('100');
        const slashed = stake * x.net.params.slashBps / BPS;
        const bounty = slashed * x.net.params.reporterBountyBps / BPS;
        const res = await boundary(x, x.w.worker.address, x.attacker, min, proof, [x.w.worker.address, x.net.root.address, x.e.escrow.address]);
        expect(res.transactions).toHaveTransaction({ from: x.net.root.address, to: x.w.worker.address, success: true, op: 0xc0c00132 });
        const bountyTx = res.transactions.find((t) => t.inMessage?.info.dest?.toString() === x.attacker.address.toString() && t.inMessage?.info.src?.toString() === x.net.root.address.toString());
        expect(bountyTx).toBeDefined();
        expect((bountyTx!.inMessage!.info as any).value.coins).toBeGreaterThanOrEqual(bounty);
        const info = await x.w.worker.getInfo();
        expect(info.status).toBe(STATUS_SLASHED);
        expect(info.stake).toBe(0n);
        expect(info.unbonding).toBe(stake - slashed);
        expect(info.rewardStake).toBe(0n);
        expect(await x.net.root.getTotalStake()).toBe(0n);
        expect((await x.net.root.getRewardState()).treasury - rs.treasury).toBe(slashed - bounty);
        expect((await x.net.chain.getContract(x.w.worker.address)).balance).toBe(stake - slashed + WORKER_STORAGE_RESERVE);
    });
});

// ==================================================================== bounced payouts

describe('payouts to a wallet that cannot receive', () => {
    async function payoutLands(x: World) {
        const r = await receipt(x, 1n, toNano('1'));
        const before = await balancesOf(x.net.chain, [x.e.client.address, x.net.root.address, x.w.worker.address]);
        const res = await claim(x, r, x.attacker);
        expect(res.transactions).toHaveTransaction({ from: x.e.escrow.address, to: x.w.operator.address });
        expect(res.transactions).not.toHaveTransaction({ inMessageBounced: true });
        const payTx = res.transactions.find((t) => t.inMessage?.info.src?.toString() === x.e.escrow.address.toString() && t.inMessage?.info.dest?.toString() === x.w.operator.address.toString())!;
        const landed = (payTx.inMessage!.info as any).value.coins as bigint;
        // the operator's address holds the payout (less its forward fee): nothing came back, nothing stuck
        expect((await x.net.chain.getContract(x.w.operator.address)).balance).toBe(landed);
        expect(landed).toBeGreaterThan(toNano('0.95') - toNano('0.01'));
        expect(landed).toBeLessThanOrEqual(toNano('0.95'));
        const st = await x.e.escrow.getState();
        expect(st.paid).toBe(toNano('1'));
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(st.deposit + st.feesOwed + ESCROW_STORAGE_RESERVE);
        await expectBalancesUnchanged(x.net.chain, before);
        // the same receipt never pays twice
        const again = await claim(x, r, x.attacker);
        expect(again.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_STALE_RECEIPT) });
        expect((await x.net.chain.getContract(x.w.operator.address)).balance).toBe(landed);
    }

    it('operator wallet not deployed: the non-bounceable payout lands at its address, once', async () => {
        const x = await world();
        await x.net.chain.setShardAccount(x.w.operator.address, createEmptyShardAccount(x.w.operator.address));
        expect(await accountState(x.net.chain, x.w.operator.address)).not.toBe('active');
        expect((await x.net.chain.getContract(x.w.operator.address)).balance).toBe(0n);
        await payoutLands(x);
        expect(await accountState(x.net.chain, x.w.operator.address)).not.toBe('active');
    });

    it('operator wallet frozen: the non-bounceable payout lands at its address, once', async () => {
        const x = await world();
        const sc = await x.net.chain.getContract(x.w.operator.address);
        const acc = sc.account;
        const st = acc.account!.storage.state;
        if (st.type !== 'active') throw new Error('operator wallet should be active');
        const stateHash = BigInt('0x' + beginCell().store(storeStateInit(st.state)).endCell().hash().toString('hex'));
        acc.account!.storage.state = { type: 'frozen', stateHash };
        acc.account!.storage.balance = { coins: 0n };
        await x.net.chain.setShardAccount(x.w.operator.address, acc);
        expect(await accountState(x.net.chain, x.w.operator.address)).toBe('frozen');
        await payoutLands(x);
    });
});

// ==================================================================== storage fees over years

describe('storage fees over years', () => {
    const YEAR = 365 * DAY;

    // (chain time is a uint32: 100 years from 2027 would not fit)
    it('an escrow left 10 years never pays more than it holds, and the client can still withdraw the rest', async () => {
        const x = await world();
        await claim(x, await receipt(x, 1n, toNano('1')), x.w.operator); // 0.05 TON of fees stays owed
        const r2 = await receipt(x, 2n, toNano('5'));
        // the root pays about 0.1 TON a year for its storage (code included): over ten years more than the
        // 1 TON the fixture deployed it with, so its owner tops its buffer up (docs/SECURITY.md, storage fees)
        await x.net.root.send(x.net.owner.getSender(), { value: toNano('1') }, null);
        await timeTravel(x.net, 10 * YEAR);
        // ten years on, the escrow no longer pays receipts of a key whose lease ended long ago
        expect(failures(await claim(x, r2, x.w.operator))).toEqual([{ to: x.e.escrow.address.toString(), phase: 'compute', exitCode: code(ERR_KEY_EXPIRED) }]);
        // the operator renews the attestation of the same key and refreshes the escrow: it pays again
        const renewed = signStatement(makeStatement(x.net, x.w.operator.address, x.w.tee), x.net.verifier);
        await x.net.root.send(x.w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 3n, stake: 0n, attestation: renewed.cell });
        expect(failures(await x.e.escrow.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }))).toEqual([]);
        expect((await x.e.escrow.getState()).payUntil).toBe(BigInt(renewed.statement.expiresAt) + x.net.params.disputeWindow);
        const rs = await x.net.root.getRewardState();
        const res = await claim(x, r2, x.w.operator);
        expect(failures(res)).toEqual([]);
        const st = await x.e.escrow.getState();
        expect(st.paid).toBeLessThanOrEqual(toNano('5'));
        // what the escrow still owes the root is still there
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBeGreaterThanOrEqual(st.feesOwed);
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(x.net, DAY);
        const wd = await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(wd)).toEqual([]);
        expect((await x.net.chain.getContract(x.e.escrow.address)).balance).toBe(0n);
        const rs2 = await x.net.root.getRewardState();
        expect(rs2.treasury + rs2.rewardPool - rs.treasury - rs.rewardPool).toBe(
            (st.paid - toNano('1')) * 500n / BPS + toNano('0.05'));
    });

    it('an escrow left 10 years untouched: the client withdraws what storage left, nothing throws', async () => {
        const x = await world();
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(x.net, 10 * YEAR);
        const held = (await x.net.chain.getContract(x.e.escrow.address)).balance;
        const clientBefore = (await x.net.chain.getContract(x.e.client.address)).balance;
        const wd = await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(wd)).toEqual([]);
        const gain = (await x.net.chain.getContract(x.e.client.address)).balance - clientBefore;
        expect(gain).toBeLessThanOrEqual(held);
        expect(gain).toBeGreaterThan(toNano('4.7'));
    });

    // The worker's storage (code included) costs about 0.035 TON a year: its 0.02 TON reserve lasts about seven months.
    it('a worker left unbonded for two years: the operator can still withdraw what storage left of the stake', async () => {
        const x = await world();
        await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
        expect((await x.w.worker.getInfo()).unbonding).toBe(toNano('100'));
        await timeTravel(x.net, 2 * YEAR) // storage eats the 0.05 TON reserve in about 17 months;
        const opBefore = (await x.net.chain.getContract(x.w.operator.address)).balance;
        const res = await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'WithdrawStake', queryId: 0n });
        expect(failures(res)).toEqual([]);
        expect((await x.w.worker.getInfo()).unbonding).toBe(0n);
        // the reserve is gone: the Worker pays out everything it holds (ReserveAtMost, clamped at 0) and keeps nothing
        const wtx = res.transactions.find((t) => t.inMessage?.info.dest?.toString() === x.w.worker.address.toString())!;
        const d: any = wtx.description;
        const paid = wtx.outMessages.values().find((m) => m.info.type === 'internal')!;
        expect(paid.info.dest!.toString()).toBe(x.w.operator.address.toString());
        expect(loadStakeWithdrawn(paid.body.beginParse()).amount).toBe(toNano('100'));
        expect(d.storagePhase.storageFeesCollected).toBeGreaterThan(WORKER_STORAGE_RESERVE);
        expect((await x.net.chain.getContract(x.w.worker.address)).balance).toBe(0n);
        // value conservation on the Worker: what it held + the message = the payout + its fees
        const held = toNano('100') + WORKER_STORAGE_RESERVE;
        expect((paid.info as any).value.coins + wtx.totalFees.coins + (paid.info as any).forwardFee).toBe(held + toNano('0.1'));
        expect((await x.net.chain.getContract(x.w.operator.address)).balance - opBefore).toBeGreaterThan(toNano('99.5'));
    });
});

// ==================================================================== owner-only messages

describe('governance from anyone but the owner', () => {
    it('every governance message from a stranger is refused and changes nothing, even with a treasury to take', async () => {
        const x = await world();
        // put something in the treasury to steal
        await x.net.root.send(x.attacker.getSender(), { value: toNano('2.1') }, { $$type: 'ProtocolFee', amount: toNano('2') });
        expect((await x.net.root.getRewardState()).treasury).toBeGreaterThan(0n);
        const evil = publicKeyToBigInt(seededKey('evil-verifier').publicKey);
        const msgs: [string, Cell | null, bigint][] = [
            ['SetParams', body(storeSetParams({ $$type: 'SetParams', queryId: 0n, params: { ...x.net.params, minStake: toNano('1'), protocolFeeBps: 10000n } })), ERR_NOT_OWNER],
            ['AddMeasurement', body(storeAddMeasurement({ $$type: 'AddMeasurement', queryId: 0n, measurement: 666n, model: 'evil' })), ERR_NOT_OWNER],
            ['RemoveMeasurement', body(storeRemoveMeasurement({ $$type: 'RemoveMeasurement', queryId: 0n, measurement: MEASUREMENT })), ERR_NOT_OWNER],
            ['AddVerifierKey', body(storeAddVerifierKey({ $$type: 'AddVerifierKey', queryId: 0n, key: evil })), ERR_NOT_OWNER],
            ['RemoveVerifierKey', body(storeRemoveVerifierKey({ $$type: 'RemoveVerifierKey', queryId: 0n, key: publicKeyToBigInt(x.net.verifier.publicKey) })), ERR_NOT_OWNER],
            ['SetPaused', body(storeSetPaused({ $$type: 'SetPaused', queryId: 0n, paused: true })), ERR_NOT_OWNER],
            ['ProposeOwner', body(storeProposeOwner({ $$type: 'ProposeOwner', queryId: 0n, newOwner: x.attacker.address })), ERR_NOT_OWNER],
            ['AcceptOwnership', body(storeAcceptOwnership({ $$type: 'AcceptOwnership', queryId: 0n })), ERR_NOT_PENDING_OWNER],
            ['DeactivateWorker', body(storeDeactivateWorker({ $$type: 'DeactivateWorker', queryId: 0n, operator: x.w.operator.address, measurement: 1n })), ERR_NOT_OWNER],
            ['WithdrawTreasury', body(storeWithdrawTreasury({ $$type: 'WithdrawTreasury', queryId: 0n, amount: toNano('1') })), ERR_NOT_OWNER],
            ['deploy / empty body', null, ERR_NOT_OWNER],
        ];
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address]);
        for (const [name, msg, exit] of msgs) {
            const res = await x.attacker.send({ to: x.net.root.address, value: toNano('0.5'), body: msg ?? undefined, bounce: true });
            expect({ name, tx: res.transactions }).toEqual({ name, tx: expect.anything() });
            expect(res.transactions).toHaveTransaction({ from: x.attacker.address, to: x.net.root.address, success: false, exitCode: code(exit) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address])).toEqual(data);
    });

    it('ownership moves only when the proposed owner accepts; the old owner then has no power', async () => {
        const net = await createNet();
        const attacker = await net.chain.treasury('attacker');
        const newOwner = await net.chain.treasury('new-owner');
        await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'ProposeOwner', queryId: 0n, newOwner: newOwner.address });
        const hijack = await net.root.send(attacker.getSender(), { value: toNano('0.05') }, { $$type: 'AcceptOwnership', queryId: 0n });
        expect(hijack.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: code(ERR_NOT_PENDING_OWNER) });
        expect((await net.root.getOwner()).equals(net.owner.address)).toBe(true);
        await net.root.send(newOwner.getSender(), { value: toNano('0.05') }, { $$type: 'AcceptOwnership', queryId: 0n });
        expect((await net.root.getOwner()).equals(newOwner.address)).toBe(true);
        expect(await net.root.getPendingOwner()).toBeNull();
        const old = await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetPaused', queryId: 0n, paused: true });
        expect(old.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: code(ERR_NOT_OWNER) });
        expect(await net.root.getPaused()).toBe(false);
    });
});

// ==================================================================== paused state

describe('paused network', () => {
    it('registration is refused through every path while paused, and the TON comes back', async () => {
        const x = await world();
        await x.net.root.send(x.net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetPaused', queryId: 0n, paused: true });
        expect(await x.net.root.getPaused()).toBe(true);
        const op2 = await x.net.chain.treasury('op2');
        const worker2 = await workerFor(x.net.root.address, op2.address);
        await timeTravel(x.net, 60);
        const fresh = signStatement(makeStatement(x.net, x.w.operator.address, seededKey('tee:op1:v2')), x.net.verifier);
        const first = signStatement(makeStatement(x.net, op2.address, seededKey('tee:op2')), x.net.verifier);
        const attempts: [string, Wallet, bigint, Cell][] = [
            ['first registration', op2, toNano('100'), first.cell],
            ['re-attestation, no stake', x.w.operator, 0n, fresh.cell],
            ['re-attestation with more stake', x.w.operator, toNano('50'), fresh.cell],
        ];
        const run = async () => {
            for (const [name, who, stake, att] of attempts) {
                const before = await balancesOf(x.net.chain, [...honest(x, worker2.address)].filter((a) => !a.equals(who.address)));
                const data = await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address]);
                const whoBefore = (await x.net.chain.getContract(who.address)).balance;
                const res = await who.send({
                    to: x.net.root.address, value: stake + REGISTER_GAS, bounce: true,
                    body: body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 9n, stake, attestation: att })),
                });
                expect([name, res.transactions]).toEqual([name, expect.anything()]);
                expect(res.transactions).toHaveTransaction({ from: who.address, to: x.net.root.address, success: false, exitCode: code(ERR_PAUSED) });
                await expectBalancesUnchanged(x.net.chain, before, [res]);
                expect(await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address])).toEqual(data);
                expect(whoBefore - (await x.net.chain.getContract(who.address)).balance).toBeLessThan(toNano('0.01'));
            }
        };
        await run();
        // after an unbond, coming back is a registration too
        await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
        await run();
        expect(await accountState(x.net.chain, worker2.address)).not.toBe('active');
        expect((await x.w.worker.getInfo()).active).toBe(false);
    });

    it('pause never blocks a path that returns money: claim, close, withdraw escrow, unbond, withdraw stake, claim rewards', async () => {
        const x = await world();
        await x.net.root.send(x.attacker.getSender(), { value: toNano('1.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('1') });
        await x.net.root.send(x.net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetPaused', queryId: 0n, paused: true });
        const ok = (res: { transactions: any }) => expect(failures(res as any)).toEqual([]);
        ok(await claim(x, await receipt(x, 1n, toNano('1')), x.attacker));
        ok(await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n }));
        ok(await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.2') }, { $$type: 'ClaimRewards', queryId: 0n }));
        expect((await x.net.root.getRewardState()).rewardPool).toBe(0n);
        ok(await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n }));
        // the stake is withdrawable after the unbonding period and once the key's receipts can no
        // longer be paid (its lease end + the dispute window): 8 days here
        x.net.chain.now = Number((await x.w.worker.getInfo()).withdrawableAt);
        const clientBefore = (await x.net.chain.getContract(x.e.client.address)).balance;
        ok(await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
        expect((await x.net.chain.getContract(x.e.client.address)).balance - clientBefore).toBeGreaterThan(toNano('3.99'));
        const opBefore = (await x.net.chain.getContract(x.w.operator.address)).balance;
        ok(await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'WithdrawStake', queryId: 0n }));
        expect((await x.net.chain.getContract(x.w.operator.address)).balance - opBefore).toBeGreaterThan(toNano('99.9'));
        expect(await x.net.root.getPaused()).toBe(true);
    });
});

// ==================================================================== fake child messages

describe('fake child messages', () => {
    it('a wallet sending StakeUp / StakeDown / PayRewards / RewardSync to the root is refused', async () => {
        const x = await world();
        await x.net.root.send(x.attacker.getSender(), { value: toNano('1.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('1') });
        const victim = x.w.operator.address;
        const msgs: [string, Cell][] = [];
        for (const operator of [victim, x.attacker.address]) {
            msgs.push(
                ['StakeUp', body(storeStakeUp({ $$type: 'StakeUp', amount: toNano('1000'), queryId: 0n, operator }))],
                ['StakeDown', body(storeStakeDown({ $$type: 'StakeDown', amount: toNano('100'), queryId: 0n, operator, slashed: 0n, changeTo: null }))],
                ['StakeDown slash', body(storeStakeDown({ $$type: 'StakeDown', amount: toNano('100'), queryId: 0n, operator, slashed: toNano('50'), changeTo: x.attacker.address }))],
                ['PayRewards', body(storePayRewards({ $$type: 'PayRewards', amount: toNano('1'), queryId: 0n, operator }))],
                ['RewardSync', body(storeRewardSync({ $$type: 'RewardSync', queryId: 0n, operator }))],
            );
        }
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address]);
        for (const [name, msg] of msgs) {
            const res = await x.attacker.send({ to: x.net.root.address, value: toNano('0.5'), body: msg, bounce: true });
            expect([name, res.transactions]).toEqual([name, expect.anything()]);
            expect(res.transactions).toHaveTransaction({ from: x.attacker.address, to: x.net.root.address, success: false, exitCode: code(ERR_NOT_WORKER) });
        }
        // ProtocolFee is open to anyone, but only for what the message really pays
        const pf = await x.attacker.send({ to: x.net.root.address, value: toNano('0.5'), bounce: true, body: body(storeProtocolFee({ $$type: 'ProtocolFee', amount: toNano('10') })) });
        expect(pf.transactions).toHaveTransaction({ to: x.net.root.address, success: false, exitCode: code(ERR_INSUFFICIENT_VALUE) });
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address])).toEqual(data);
    });

    it('a Worker contract deployed with a forged state (1000 TON "stake") is not a child of the root', async () => {
        const x = await world();
        const forged = x.net.chain.openContract(await Worker.fromInit(x.net.root.address, x.attacker.address, {
            ...emptyWorkerState(), status: STATUS_ACTIVE, stake: toNano('1000'), rewardStake: toNano('1000'), accrued: toNano('1000'),
            params: paramsCell(x.net.params),
        }));
        expect(forged.address.equals(await x.net.root.getWorkerAddressOf(x.attacker.address))).toBe(false);
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.net.root.address]);
        // its Unbond sends StakeDown(1000 TON), its ClaimRewards sends RewardSync: the root refuses both
        const res1 = await forged.send(x.attacker.getSender(), { value: toNano('0.5') }, { $$type: 'Unbond', queryId: 0n });
        expect(res1.transactions).toHaveTransaction({ from: forged.address, to: x.net.root.address, success: false, exitCode: code(ERR_NOT_WORKER) });
        const res2 = await forged.send(x.attacker.getSender(), { value: toNano('0.5') }, { $$type: 'ClaimRewards', queryId: 0n });
        expect(res2.transactions).toHaveTransaction({ from: forged.address, to: x.net.root.address, success: false, exitCode: code(ERR_NOT_WORKER) });
        // StakeDown and RewardSync are not bounceable: the attacker's gas money stays at the root (its loss, no one else's)
        const rootKey = x.net.root.address.toString();
        const rootGain = (await x.net.chain.getContract(x.net.root.address)).balance - before.get(rootKey)!;
        expect(rootGain).toBeGreaterThanOrEqual(0n);
        before.delete(rootKey);
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.net.root.address])).toEqual(data);
        expect(await x.net.root.getTotalStake()).toBe(toNano('100'));
    });

    it('a wallet sending AttestResult / StakeSynced / ForceDeactivate to a worker is refused', async () => {
        const x = await world();
        const evilTee = seededKey('evil-tee');
        const evilAtt = signStatement(makeStatement(x.net, x.w.operator.address, evilTee, { issuedAt: x.net.chain.now! + 1000 }), seededKey('evil-verifier'));
        const msgs: [string, Cell][] = [
            ['AttestResult', body(storeAttestResult({ $$type: 'AttestResult', stakeDelta: toNano('1000'), acc: 10n ** 30n, queryId: 0n, params: paramsCell(x.net.params), statement: evilAtt.statementCell }))],
            ['StakeSynced', body(storeStakeSynced({ $$type: 'StakeSynced', acc: 10n ** 30n, delta: toNano('1000'), queryId: 0n, payout: true }))],
            ['StakeSynced down', body(storeStakeSynced({ $$type: 'StakeSynced', acc: 0n, delta: -toNano('100'), queryId: 0n, payout: false }))],
            ['ForceDeactivate', body(storeForceDeactivate({ $$type: 'ForceDeactivate', queryId: 0n, measurement: MEASUREMENT, changeTo: x.attacker.address }))],
        ];
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address]);
        for (const [name, msg] of msgs) {
            const res = await x.attacker.send({ to: x.w.worker.address, value: toNano('0.5'), body: msg, bounce: true });
            expect([name, res.transactions]).toEqual([name, expect.anything()]);
            expect(res.transactions).toHaveTransaction({ from: x.attacker.address, to: x.w.worker.address, success: false, exitCode: code(ERR_NOT_ROOT) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address])).toEqual(data);
    });

    it('a wallet sending EscrowInfo to an escrow (opening or open) is refused', async () => {
        const x = await world();
        const evil = (active: boolean) => body(storeEscrowInfo({
            $$type: 'EscrowInfo', active, teeKey: publicKeyToBigInt(seededKey('evil-tee').publicKey),
            feeBps: 0n, disputeWindow: 1n, payUntil: 0xffffffffn, operator: x.attacker.address,
        }));
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.e.escrow.address]);
        for (const active of [true, false]) {
            const res = await x.attacker.send({ to: x.e.escrow.address, value: toNano('0.5'), body: evil(active), bounce: true });
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_NOT_ESCROW_WORKER) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.e.escrow.address])).toEqual(data);
        // an escrow still waiting for its worker's answer
        const client2 = await x.net.chain.treasury('client2');
        const e2 = await escrowForOpening(x.w.worker.address, client2.address);
        const res2 = await x.attacker.send({ to: e2.address, value: toNano('0.5'), body: evil(true), bounce: true, init: e2.init });
        expect(res2.transactions).toHaveTransaction({ to: e2.address, success: false, exitCode: code(ERR_NOT_ESCROW_WORKER) });
        // the attacker may deploy the blank escrow, but it holds nothing and the client opens it as usual
        const blank = x.net.chain.openContract(e2);
        expect((await blank.getState()).state).toBe(ESCROW_NONE);
        const opened = await openEscrow(x.net, x.w, 'client2');
        expect(failures(opened.result)).toEqual([]);
        expect((await blank.getState()).state).toBe(ESCROW_OPEN);
        expect((await blank.getState()).teeKey).toBe((await x.w.worker.getInfo()).teeKey);
    });

    it("a stranger sending the operator's or the client's messages is refused", async () => {
        const x = await world();
        const toWorker: Cell[] = [
            body(storeTopUpStake({ $$type: 'TopUpStake', queryId: 0n, amount: toNano('1') })),
            body(storeSetPrice({ $$type: 'SetPrice', queryId: 0n, prices: asPrices(toNano('1')) })),
            body(storeSetEndpoint({ $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://evil.example:443' })),
            body(storeUnbond({ $$type: 'Unbond', queryId: 0n })),
            body(storeWithdrawStake({ $$type: 'WithdrawStake', queryId: 0n })),
            body(storeClaimRewards({ $$type: 'ClaimRewards', queryId: 0n })),
        ];
        const toEscrow: [Cell, bigint][] = [
            [body(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: 0n, deposit: toNano('1'), caps: asPrices(toNano('1')), clientKey: CLIENT_KEY, root: x.net.root.address })), ERR_NOT_CLIENT],
            [body(storeTopUpEscrow({ $$type: 'TopUpEscrow', queryId: 0n, amount: toNano('1') })), ERR_NOT_CLIENT],
            [body(storeCloseEscrow({ $$type: 'CloseEscrow', queryId: 0n })), ERR_NOT_CLIENT],
            [body(storeWithdrawEscrow({ $$type: 'WithdrawEscrow', queryId: 0n })), ERR_NOT_CLIENT],
            [body(storeRefreshWorker({ $$type: 'RefreshWorker', queryId: 0n })), ERR_NOT_PARTY],
        ];
        const before = await balancesOf(x.net.chain, honest(x));
        const data = await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address, x.e.escrow.address]);
        for (const msg of toWorker) {
            const res = await x.attacker.send({ to: x.w.worker.address, value: toNano('2'), body: msg, bounce: true });
            expect(res.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_NOT_OPERATOR) });
        }
        for (const [msg, exit] of toEscrow) {
            const res = await x.attacker.send({ to: x.e.escrow.address, value: toNano('2'), body: msg, bounce: true });
            expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(exit) });
        }
        await expectBalancesUnchanged(x.net.chain, before);
        expect(await dataHashes(x.net.chain, [x.net.root.address, x.w.worker.address, x.e.escrow.address])).toEqual(data);
    });
});

// ==================================================================== integer edges

describe('integer edges', () => {
    it('zero amounts are refused with ERR_ZERO_AMOUNT (or ERR_STAKE_TOO_LOW below minStake) and nothing moves', async () => {
        const x = await world();
        const client2 = await x.net.chain.treasury('client2');
        const e2 = await escrowForOpening(x.w.worker.address, client2.address);
        const cases: [string, Wallet, Address, Cell, bigint, any][] = [
            ['OpenEscrow deposit 0', client2, e2.address, body(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: 0n, deposit: 0n, caps: asPrices(toNano('1')), clientKey: CLIENT_KEY, root: x.net.root.address })), ERR_ZERO_AMOUNT, e2.init],
            ['OpenEscrow caps 0', client2, e2.address, body(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: 0n, deposit: toNano('1'), caps: asPrices(0n), clientKey: CLIENT_KEY, root: x.net.root.address })), ERR_ZERO_AMOUNT, e2.init],
            ['TopUpEscrow 0', x.e.client, x.e.escrow.address, body(storeTopUpEscrow({ $$type: 'TopUpEscrow', queryId: 0n, amount: 0n })), ERR_ZERO_AMOUNT, undefined],
            ['TopUpStake 0', x.w.operator, x.w.worker.address, body(storeTopUpStake({ $$type: 'TopUpStake', queryId: 0n, amount: 0n })), ERR_ZERO_AMOUNT, undefined],
            ['FundRewards 0', x.attacker, x.net.root.address, body(storeFundRewards({ $$type: 'FundRewards', queryId: 0n, amount: 0n })), ERR_ZERO_AMOUNT, undefined],
            ['WithdrawTreasury 0', x.net.owner, x.net.root.address, body(storeWithdrawTreasury({ $$type: 'WithdrawTreasury', queryId: 0n, amount: 0n })), ERR_ZERO_AMOUNT, undefined],
            ['RegisterWorker 1 nanoton', x.w.operator, x.net.root.address, body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 0n, stake: 1n, attestation: x.w.attestation.cell })), ERR_STAKE_TOO_LOW, undefined],
        ];
        const watch = [x.net.root.address, x.w.worker.address, x.e.escrow.address];
        for (const [name, who, to, msg, exit, init] of cases) {
            const before = await balancesOf(x.net.chain, watch);
            const data = await dataHashes(x.net.chain, watch);
            const res = await who.send({ to, value: toNano('1'), body: msg, bounce: true, init });
            expect([name, res.transactions]).toEqual([name, expect.anything()]);
            expect(res.transactions).toHaveTransaction({ from: who.address, to, success: false, exitCode: code(exit) });
            await expectBalancesUnchanged(x.net.chain, before);
            expect(await dataHashes(x.net.chain, watch)).toEqual(data);
        }
        expect((await x.net.chain.getContract(e2.address)).balance).toBeLessThan(toNano('0.001'));
        // a zero-cost receipt settles nothing: the deposit stays whole
        const res = await claim(x, await receipt(x, 1n, 0n, 0n), x.w.operator);
        expect(failures(res)).toEqual([]);
        const st = await x.e.escrow.getState();
        expect(st.paid).toBe(0n);
        expect(st.deposit).toBe(toNano('5'));
        expect(st.lastSeq).toBe(1n);
    });

    it('max uint64 seq and tokens: paid once, and nothing can follow it', async () => {
        const x = await world();
        const MAX64 = (1n << 64n) - 1n;
        const r = await receipt(x, MAX64, toNano('1'), MAX64);
        const res = await claim(x, r, x.attacker);
        expect(failures(res)).toEqual([]);
        const st = await x.e.escrow.getState();
        expect(st.lastSeq).toBe(MAX64);
        expect(st.lastTokens).toBe(MAX64);
        expect(st.paid).toBe(toNano('1'));
        const before = await balancesOf(x.net.chain, honest(x));
        const again = await claim(x, await receipt(x, MAX64, toNano('2'), MAX64), x.attacker);
        expect(again.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false, exitCode: code(ERR_STALE_RECEIPT) });
        await expectBalancesUnchanged(x.net.chain, before);
    });

    it('2^64 - 1 tokens in every class: the sum does not fit the escrow\'s uint64 book, refused, nothing moves; two full classes of 2^63 fit', async () => {
        const x = await world();
        const MAX64 = (1n << 64n) - 1n;
        const before = await balancesOf(x.net.chain, honest(x));
        const over = await claim(x, await signedReceiptFor(x.e, x.w.tee, { seq: 1n, promptTokens: MAX64, cachedTokens: MAX64, completionTokens: MAX64, cost: toNano('1') }), x.attacker);
        expect(over.transactions).toHaveTransaction({ to: x.e.escrow.address, success: false });
        await expectBalancesUnchanged(x.net.chain, before);
        const half = 1n << 63n;
        const ok = await claim(x, await signedReceiptFor(x.e, x.w.tee, { seq: 1n, promptTokens: half - 1n, cachedTokens: 0n, completionTokens: half, cost: toNano('1') }), x.w.operator);
        expect(failures(ok)).toEqual([]);
        expect((await x.e.escrow.getState()).lastTokens).toBe(MAX64);
    });

    it('a cost near 2^120 is refused by the price cap; a cost just under 2^64 pays at most the deposit', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op1');
        const MAX64 = (1n << 64n) - 1n;
        const e = await openEscrow(net, w, 'client1', toNano('5'), MAX64); // the client accepts any price
        const x: World = { net, w, e, attacker: await net.chain.treasury('attacker') };
        expect((await e.escrow.getState()).caps.completion).toBe(MAX64);
        const before = await balancesOf(net.chain, honest(x));
        const huge = await claim(x, await receipt(x, 1n, (1n << 120n) - 1n, MAX64), x.attacker);
        expect(huge.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: code(ERR_PRICE_ABOVE_CAP) });
        await expectBalancesUnchanged(net.chain, before);
        // 2^64 passes the cap (tokens x maxPrice ~ 2^128) but does not fit the escrow's uint64 book: refused, nothing moves
        const over = await claim(x, await receipt(x, 1n, 1n << 64n, MAX64), x.attacker);
        expect(over.transactions).toHaveTransaction({ to: e.escrow.address, success: false });
        await expectBalancesUnchanged(net.chain, before);
        const ok = await claim(x, await receipt(x, 1n, MAX64, MAX64), w.operator);
        expect(failures(ok)).toEqual([]);
        const st = await e.escrow.getState();
        expect(st.paid).toBe(toNano('5'));
        expect(st.deposit).toBe(0n);
        expect((await net.chain.getContract(e.escrow.address)).balance).toBe(st.feesOwed + ESCROW_STORAGE_RESERVE);
    });

    it('protocol fee of 10000 bps: the whole claim goes to the protocol, the operator gets 0, nothing is stuck', async () => {
        const net = await createNet({ params: { protocolFeeBps: 10000n } });
        const w = await registerWorker(net, 'op1');
        const e = await openEscrow(net, w, 'client1');
        const x: World = { net, w, e, attacker: await net.chain.treasury('attacker') };
        expect((await e.escrow.getState()).feeBps).toBe(10000n);
        const rs = await net.root.getRewardState();
        const keeperBefore = (await net.chain.getContract(x.attacker.address)).balance;
        const res = await claim(x, await receipt(x, 1n, toNano('1')), x.attacker); // a keeper claims
        expect(failures(res)).toEqual([]);
        // the operator's share is 0: no payout message; the fee goes to the root, the keeper gets its change
        expect(res.transactions).not.toHaveTransaction({ from: e.escrow.address, to: w.operator.address });
        expect(res.transactions).toHaveTransaction({ from: e.escrow.address, to: net.root.address, success: true });
        expect(res.transactions).toHaveTransaction({ from: e.escrow.address, to: x.attacker.address, op: 0xd53276db });
        expect(keeperBefore - (await net.chain.getContract(x.attacker.address)).balance).toBeLessThan(toNano('0.03'));
        const res2 = await claim(x, await receipt(x, 2n, toNano('2')), w.operator); // the operator claims
        expect(failures(res2)).toEqual([]);
        const st = await e.escrow.getState();
        expect(st.paid).toBe(toNano('2'));
        expect(st.feesOwed).toBe(0n);
        const rs2 = await net.root.getRewardState();
        expect(rs2.treasury + rs2.rewardPool - rs.treasury - rs.rewardPool).toBe(toNano('2'));
        expect((await net.chain.getContract(e.escrow.address)).balance).toBe(st.deposit + ESCROW_STORAGE_RESERVE);
    });

    it('protocol fee of 0 bps: the operator gets the whole claim and no fee message is sent', async () => {
        const net = await createNet({ params: { protocolFeeBps: 0n } });
        const w = await registerWorker(net, 'op1');
        const e = await openEscrow(net, w, 'client1');
        const x: World = { net, w, e, attacker: await net.chain.treasury('attacker') };
        const res = await claim(x, await receipt(x, 1n, toNano('3')), x.attacker);
        expect(failures(res)).toEqual([]);
        expect(res.transactions).not.toHaveTransaction({ from: e.escrow.address, to: net.root.address });
        const pay = res.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.operator.address.toString())!;
        expect(pay.inMessage!.body.beginParse().skip(32).loadCoins()).toBe(toNano('3'));
        const st = await e.escrow.getState();
        expect(st.feesOwed).toBe(0n);
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(net, DAY);
        const wd = await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(wd)).toEqual([]);
        expect(wd.transactions).not.toHaveTransaction({ from: e.escrow.address, to: net.root.address });
    });

    it('slashBps 10000: the whole bonded stake is slashed once, bounty and treasury add up, nothing is left to withdraw', async () => {
        const net = await createNet({ params: { slashBps: 10000n } });
        const w = await registerWorker(net, 'op1');
        const e = await openEscrow(net, w, 'client1');
        const reporter = await net.chain.treasury('reporter');
        const x: World = { net, w, e, attacker: reporter };
        const a = await receipt(x, 1n, toNano('1'));
        const b = await receipt(x, 1n, toNano('2')); // same seq, another total: equivocation
        const proof = body(storeSlashProof({ $$type: 'SlashProof', queryId: 0n, key: publicKeyToBigInt(w.tee.publicKey), sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b) }));
        const rs = await net.root.getRewardState();
        const repBefore = (await net.chain.getContract(reporter.address)).balance;
        const res = await reporter.send({ to: w.worker.address, value: toNano('0.2'), body: proof, bounce: true });
        expect(failures(res)).toEqual([]);
        const info = await w.worker.getInfo();
        expect(info.status).toBe(STATUS_SLASHED);
        expect(info.stake).toBe(0n);
        expect(info.unbonding).toBe(0n);
        expect(await net.root.getTotalStake()).toBe(0n);
        expect((await net.root.getRewardState()).treasury - rs.treasury).toBe(toNano('90'));
        const repGain = (await net.chain.getContract(reporter.address)).balance - repBefore;
        expect(repGain).toBeGreaterThan(toNano('10') - toNano('0.2'));
        expect(repGain).toBeLessThan(toNano('10'));
        expect((await net.chain.getContract(w.worker.address)).balance).toBe(WORKER_STORAGE_RESERVE);
        const wd = await w.worker.send(w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'WithdrawStake', queryId: 0n });
        expect(wd.transactions).toHaveTransaction({ to: w.worker.address, success: false, exitCode: code(ERR_NOTHING_TO_WITHDRAW) });
        const twice = await reporter.send({ to: w.worker.address, value: toNano('0.2'), body: proof, bounce: true });
        // the slashed key is banned: the same proof cannot slash twice
        expect(twice.transactions).toHaveTransaction({ to: w.worker.address, success: false, exitCode: code(ERR_KEY_NOT_ACCOUNTABLE) });
        expect((await net.chain.getContract(w.worker.address)).balance).toBe(WORKER_STORAGE_RESERVE);
    });

    it('SetParams outside the allowed ranges is refused, even from the owner', async () => {
        const net = await createNet();
        const bad: Partial<Params>[] = [
            { protocolFeeBps: BPS + 1n }, { stakerShareBps: BPS + 1n }, { slashBps: BPS + 1n }, { slashBps: 0n }, { reporterBountyBps: BPS + 1n },
            { minStake: toNano('1') - 1n }, { maxPrice: 0n }, { unbondingPeriod: 0n }, { maxAttestationTtl: 0n }, { disputeWindow: 0n },
        ];
        const data = await dataHashes(net.chain, [net.root.address]);
        for (const over of bad) {
            const res = await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetParams', queryId: 0n, params: { ...net.params, ...over } });
            expect([over, res.transactions]).toEqual([over, expect.anything()]);
            expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: code(ERR_BAD_PARAMS) });
        }
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
        // the same values through a proposal are refused too (at Propose, before anything is stored)
        for (const over of bad) {
            const res = await net.root.send(net.owner.getSender(), { value: toNano('0.1') }, {
                $$type: 'Propose', queryId: 0n, change: changeCell({ kind: 'setParams', params: { ...net.params, ...over } }),
            });
            expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: code(ERR_BAD_PARAMS) });
        }
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
        // the edges are valid (raising fees and slashing: through the timelock)
        const edge = await governed(net, { kind: 'setParams', params: { ...net.params, protocolFeeBps: BPS, slashBps: BPS, stakerShareBps: 0n, reporterBountyBps: BPS } });
        expect(failures(edge.executed)).toEqual([]);
        expect(await net.root.getParams()).toMatchObject({ protocolFeeBps: BPS, slashBps: BPS, stakerShareBps: 0n, reporterBountyBps: BPS });
    });
});

// ==================================================================== key lifecycle (issue 11)

describe('key lifecycle', () => {
    const reattest = (x: World, tee: Ed25519Key, stake = 0n, over: Partial<Statement> = {}) => reattestAt(x, tee, stake + REGISTER_GAS, stake, over);
    const reattestAt = (x: World, tee: Ed25519Key, value: bigint, stake = 0n, over: Partial<Statement> = {}) => {
        const a = signStatement(makeStatement(x.net, x.w.operator.address, tee, over), x.net.verifier);
        return x.net.root.send(x.w.operator.getSender(), { value }, { $$type: 'RegisterWorker', queryId: 5n, stake, attestation: a.cell });
    };
    const proof = (key: Ed25519Key, a: { signature: Buffer; cell: Cell }, b: SignedUsageReceipt) =>
        body(storeSlashProof({ $$type: 'SlashProof', queryId: 0n, key: publicKeyToBigInt(key.publicKey), sigA: a.signature, receiptA: a.cell, proofB: signedReceiptCell(b) }));

    it('slashing is not dodged by rotating the key: a retired key stays slashable (and payable) until its payUntil, not after', async () => {
        const x = await world();
        const k1 = x.w.tee;
        // K1 signs two contradicting receipts for the open escrow
        const a = await receipt(x, 1n, toNano('1'));
        const b = await receipt(x, 1n, toNano('2'));
        const k1PayUntil = (await x.w.worker.getInfo()).keyPayUntil;
        expect(k1PayUntil).toBe((await x.e.escrow.getState()).payUntil);
        // before anyone reports, the operator re-attests with K2 (stake 0)
        await timeTravel(x.net, 60);
        const k2 = seededKey('tee:op1:K2');
        expect(failures(await reattest(x, k2))).toEqual([]);
        const info = await x.w.worker.getInfo();
        expect(info.teeKey).toBe(publicKeyToBigInt(k2.publicKey));
        expect(info.retiredKeys).toBe(1n);
        const retired = await x.w.worker.getRetiredKeys();
        expect(BigInt(retired.get(publicKeyToBigInt(k1.publicKey))!)).toBe(k1PayUntil);
        // the escrow still holds K1 and still pays K1 receipts...
        const c = await receipt(x, 2n, toNano('1'));
        expect(failures(await claim(x, c, x.w.operator))).toEqual([]);
        // ...so K1 is still accountable: the K1 pair slashes
        const res = await x.attacker.send({ to: x.w.worker.address, value: toNano('0.2'), body: proof(k1, a, b), bounce: true });
        expect(failures(res)).toEqual([]);
        const after = await x.w.worker.getInfo();
        expect(after.status).toBe(STATUS_SLASHED);
        expect(after.stake).toBe(0n);
        expect(after.teeKey).toBe(0n);
        expect(await x.w.worker.getIsBanned(publicKeyToBigInt(k1.publicKey))).toBe(true);
        // K2 (innocent here) stays accountable for what it signed, as a retired key
        expect((await x.w.worker.getRetiredKeys()).has(publicKeyToBigInt(k2.publicKey))).toBe(true);
        expect(await x.net.root.getTotalStake()).toBe(0n);
    });

    it('a retired key is no longer accountable once no escrow can pay its receipts (and no escrow pays them)', async () => {
        const x = await world();
        const k1 = x.w.tee;
        const a = await receipt(x, 1n, toNano('1'));
        const b = await receipt(x, 1n, toNano('2'));
        const k2 = seededKey('tee:op1:K2');
        await timeTravel(x.net, 60);
        expect(failures(await reattest(x, k2))).toEqual([]);
        const payUntil = (await x.e.escrow.getState()).payUntil;
        x.net.chain.now = Number(payUntil);
        expect(failures(await claim(x, a, x.w.operator))).toEqual([{ to: x.e.escrow.address.toString(), phase: 'compute', exitCode: code(ERR_KEY_EXPIRED) }]);
        const before = await balancesOf(x.net.chain, honest(x));
        const res = await x.attacker.send({ to: x.w.worker.address, value: toNano('0.2'), body: proof(k1, a, b), bounce: true });
        expect(res.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_KEY_NOT_ACCOUNTABLE) });
        await expectBalancesUnchanged(x.net.chain, before, [res]);
        // a key this worker never had is refused the same way
        const stranger = seededKey('never-a-key-of-op1');
        const st = await x.e.escrow.getState();
        const p = signReceipt(usage(x.e.escrow.address, st.epoch, { seq: 1n, tokens: 10n, cost: 1n }), stranger);
        const q = signReceipt(usage(x.e.escrow.address, st.epoch, { seq: 1n, tokens: 10n, cost: 2n }), stranger);
        const res2 = await x.attacker.send({ to: x.w.worker.address, value: toNano('0.2'), body: proof(stranger, p, q), bounce: true });
        expect(res2.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_KEY_NOT_ACCOUNTABLE) });
        expect((await x.w.worker.getInfo()).status).toBe(STATUS_ACTIVE);
    });

    it('stake cannot leave while a key of the worker can still have a receipt paid', async () => {
        const x = await world();
        await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
        const info = await x.w.worker.getInfo();
        const payUntil = (await x.e.escrow.getState()).payUntil;
        expect(info.withdrawableAt).toBe(payUntil > BigInt(x.net.chain.now!) + x.net.params.unbondingPeriod ? payUntil : BigInt(x.net.chain.now!) + x.net.params.unbondingPeriod);
        x.net.chain.now = Number(info.withdrawableAt) - 1;
        // the escrow still pays the key's receipts, so the stake behind them stays
        expect(failures(await claim(x, await receipt(x, 1n, toNano('1')), x.w.operator))).toEqual([]);
        const early = await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'WithdrawStake', queryId: 0n });
        expect(early.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_STILL_UNBONDING) });
        x.net.chain.now = Number(info.withdrawableAt);
        expect(failures(await x.w.worker.send(x.w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'WithdrawStake', queryId: 0n }))).toEqual([]);
        expect((await x.w.worker.getInfo()).unbonding).toBe(0n);
    });

    it('after a slash, a statement that does not take effect (banned key, or not newer) activates nothing, and its stake does not count', async () => {
        const x = await world();
        const [a, b] = [await receipt(x, 1n, toNano('1')), await receipt(x, 1n, toNano('2'))];
        expect(failures(await x.attacker.send({ to: x.w.worker.address, value: toNano('0.2'), body: proof(x.w.tee, a, b), bounce: true }))).toEqual([]);
        await timeTravel(x.net, 60);
        const rs0 = await x.net.root.getRewardState();
        // the banned key again, with stake 0 then with stake
        for (const stake of [0n, toNano('100')]) {
            const res = await reattest(x, x.w.tee, stake);
            expect(failures(res)).toEqual([]);
            expect(res.transactions).toHaveTransaction({ from: x.net.root.address, to: x.w.worker.address, success: true });
            const ev = res.transactions.flatMap((t) => [...t.outMessages.values()]).filter((m) => m.info.type === 'external-out');
            expect(ev).toHaveLength(0);
            const info = await x.w.worker.getInfo();
            expect(info.status).toBe(STATUS_SLASHED);
            expect(info.active).toBe(false);
            expect(info.teeKey).toBe(0n);
            expect(info.stake).toBe(0n);
            expect(await x.net.root.getTotalStake()).toBe(rs0.totalStake);
        }
        // nothing to top up: TopUpStake is refused, so no stake can be made to earn without a key
        const top = await x.w.worker.send(x.w.operator.getSender(), { value: toNano('101') }, { $$type: 'TopUpStake', queryId: 0n, amount: toNano('100') });
        expect(top.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_NOT_ACTIVE) });
        // a funding of the reward pool goes to others only (there are none here: refused)
        expect(await x.net.root.getTotalStake()).toBe(rs0.totalStake);
        // a fresh key that takes effect brings the worker back
        const fresh = seededKey('tee:op1:fresh');
        expect(failures(await reattest(x, fresh, toNano('100')))).toEqual([]);
        const back = await x.w.worker.getInfo();
        expect(back.status).toBe(STATUS_ACTIVE);
        expect(back.active).toBe(true);
        expect(back.stake).toBe(toNano('100'));
    });

    it('an expired worker stops earning: anyone makes it unbond (DropInactive), the change goes back to them', async () => {
        const x = await world();
        const other = await registerWorker(x.net, 'op2', toNano('100'), { expiresAt: x.net.chain.now! + 30 * DAY });
        // an active worker cannot be dropped
        const refused = await x.w.worker.send(x.attacker.getSender(), { value: toNano('0.1') }, { $$type: 'DropInactive', queryId: 0n });
        expect(refused.transactions).toHaveTransaction({ to: x.w.worker.address, success: false, exitCode: code(ERR_STILL_SERVING) });
        x.net.chain.now = Number((await x.w.worker.getInfo()).expiresAt);
        expect((await x.w.worker.getInfo()).active).toBe(false);
        const before = (await x.net.chain.getContract(x.attacker.address)).balance;
        const res = await x.w.worker.send(x.attacker.getSender(), { value: toNano('0.1') }, { $$type: 'DropInactive', queryId: 0n });
        expect(failures(res)).toEqual([]);
        expect(res.transactions).toHaveTransaction({ from: x.net.root.address, to: x.attacker.address, op: 0xd53276db });
        // what the poker pays is the gas of the three hops; the rest of the 0.1 TON came back
        expect(before - (await x.net.chain.getContract(x.attacker.address)).balance).toBeLessThan(toNano('0.03'));
        const info = await x.w.worker.getInfo();
        expect([info.status, info.stake, info.rewardStake, info.unbonding]).toEqual([STATUS_UNBONDING, 0n, 0n, toNano('100')]);
        expect(await x.net.root.getTotalStake()).toBe(toNano('100'));
        // reward funding now goes to the worker that can serve only
        await x.net.root.send(x.attacker.getSender(), { value: toNano('10.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('10') });
        const acc = (await x.net.root.getRewardState()).acc;
        expect(await x.w.worker.getPendingRewards(acc)).toBe(0n);
        expect(await other.worker.getPendingRewards(acc)).toBe(toNano('10'));
    });

    it('deactivation is not undone by an older statement for another whitelisted measurement', async () => {
        const x = await world();
        const M2 = BigInt('0x' + 'cd'.repeat(32));
        const registeredAt = x.net.chain.now!;
        await governed(x.net, { kind: 'addMeasurement', measurement: M2, model: 'other-model' });
        const older = signStatement(makeStatement(x.net, x.w.operator.address, seededKey('tee:op1:M2'), { measurement: M2, issuedAt: registeredAt - 10 }), x.net.verifier);
        await timeTravel(x.net, 60);
        await x.net.root.send(x.net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement: MEASUREMENT });
        const ownerBefore = (await x.net.chain.getContract(x.net.owner.address)).balance;
        const opBefore = (await x.net.chain.getContract(x.w.operator.address)).balance;
        const deact = await x.net.root.send(x.net.owner.getSender(), { value: toNano('0.5') }, { $$type: 'DeactivateWorker', queryId: 0n, operator: x.w.operator.address, measurement: MEASUREMENT });
        expect(failures(deact)).toEqual([]);
        // the owner's change comes back to the owner, not to the operator
        expect(deact.transactions).toHaveTransaction({ from: x.net.root.address, to: x.net.owner.address, op: 0xd53276db });
        expect(ownerBefore - (await x.net.chain.getContract(x.net.owner.address)).balance).toBeLessThan(toNano('0.05'));
        expect((await x.net.chain.getContract(x.w.operator.address)).balance - opBefore).toBeLessThan(toNano('0.01'));
        expect((await x.w.worker.getInfo()).status).toBe(STATUS_UNBONDING);
        // the older statement for M2 (with and without stake) changes nothing
        for (const stake of [0n, toNano('100')]) {
            const res = await x.net.root.send(x.w.operator.getSender(), { value: stake + REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 6n, stake, attestation: older.cell });
            expect(failures(res)).toEqual([]);
            expect(res.transactions.flatMap((t) => [...t.outMessages.values()]).filter((m) => m.info.type === 'external-out')).toHaveLength(0);
            const info = await x.w.worker.getInfo();
            expect([info.status, info.active, info.stake, info.measurement]).toEqual([STATUS_UNBONDING, false, 0n, MEASUREMENT]);
            expect(await x.net.root.getTotalStake()).toBe(0n);
        }
        // escrows cannot open against it
        const e2 = await openEscrow(x.net, x.w, 'client2');
        expect(e2.result.transactions).toHaveTransaction({ from: e2.escrow.address, to: e2.client.address, op: 0xc0c00404 }); // EscrowRefund
        expect(await accountState(x.net.chain, e2.escrow.address)).not.toBe('active');
    });

    it('a top-up can never leave a stake below minStake (a 1-nanoton stake would skew the reward accumulator)', async () => {
        const x = await world();
        const fresh = await registerWorker(x.net, 'op0', 0n);  // a first registration without stake
        expect((await fresh.worker.getInfo()).stake).toBe(0n);
        const res = await fresh.worker.send(fresh.operator.getSender(), { value: toNano('1') }, { $$type: 'TopUpStake', queryId: 0n, amount: 1n });
        expect(res.transactions).toHaveTransaction({ to: fresh.worker.address, success: false, exitCode: code(ERR_STAKE_BELOW_MIN) });
        expect(await x.net.root.getTotalStake()).toBe(toNano('100'));
        const ok = await fresh.worker.send(fresh.operator.getSender(), { value: x.net.params.minStake + toNano('0.1') }, { $$type: 'TopUpStake', queryId: 0n, amount: x.net.params.minStake });
        expect(failures(ok)).toEqual([]);
        expect(await x.net.root.getTotalStake()).toBe(toNano('100') + x.net.params.minStake);
    });

    it('an escrow opened against an address that never answers is not locked: after OPEN_TIMEOUT the client takes everything back', async () => {
        const x = await world();
        const notAWorker = await x.net.chain.treasury('just-a-wallet');
        const client = await x.net.chain.treasury('client-lost');
        const escrow = x.net.chain.openContract(await escrowForOpening(notAWorker.address, client.address));
        const deposit = toNano('3');
        const open = await escrow.send(client.getSender(), { value: deposit + toNano('0.2') }, { $$type: 'OpenEscrow', queryId: 0n, deposit, caps: asPrices(toNano('1')), clientKey: CLIENT_KEY, root: x.net.root.address });
        expect(failures(open)).toEqual([]);
        const st = await escrow.getState();
        expect(st.state).toBe(1n); // OPENING forever: the wallet took the query and said nothing
        expect(st.closeAt).toBe(BigInt(x.net.chain.now! + 3600));
        const early = await escrow.send(client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(early.transactions).toHaveTransaction({ to: escrow.address, success: false, exitCode: code(ERR_WINDOW_NOT_OVER) });
        x.net.chain.now = Number(st.closeAt);
        const before = (await x.net.chain.getContract(client.address)).balance;
        const wd = await escrow.send(client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(failures(wd)).toEqual([]);
        expect((await x.net.chain.getContract(client.address)).balance - before).toBeGreaterThan(deposit);
        expect(await accountState(x.net.chain, escrow.address)).not.toBe('active');
    });

    it('after a rotation and a refresh by the client, the K1 amount not yet claimed is still paid through a K2 receipt with the same totals', async () => {
        const x = await world();
        const unclaimed = await receipt(x, 3n, toNano('2'));   // K1, never claimed by the operator
        await timeTravel(x.net, 60);
        const k2 = seededKey('tee:op1:K2');
        expect(failures(await reattest(x, k2))).toEqual([]);
        // the client refreshes at once, hoping to void the K1 receipt
        expect(failures(await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }))).toEqual([]);
        expect((await x.e.escrow.getState()).teeKey).toBe(publicKeyToBigInt(k2.publicKey));
        expect(failures(await claim(x, unclaimed, x.w.operator))).toEqual([{ to: x.e.escrow.address.toString(), phase: 'compute', exitCode: code(ERR_BAD_RECEIPT_SIG) }]);
        // the node re-signs its latest totals with K2 at the next seq: every earned nanoton is paid
        const st = await x.e.escrow.getState();
        const resigned = signReceipt({ ...unclaimed.receipt, seq: 4n }, k2);
        const opBefore = (await x.net.chain.getContract(x.w.operator.address)).balance;
        expect(failures(await claim(x, resigned, x.w.operator))).toEqual([]);
        const after = await x.e.escrow.getState();
        expect(after.paid).toBe(toNano('2'));
        // 2 TON less the 5% protocol fee, less the operator's own claim gas
        expect((await x.net.chain.getContract(x.w.operator.address)).balance - opBefore).toBeGreaterThan(toNano('2') * 9500n / 10000n - toNano('0.02'));
    });

    it('a message through the SDK to a withdrawn escrow bounces instead of re-creating a blank one at the sender\'s cost', async () => {
        const x = await world();
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        await timeTravel(x.net, DAY);
        await x.e.escrow.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
        expect(await accountState(x.net.chain, x.e.escrow.address)).not.toBe('active');
        const viaSdk = x.net.chain.openContract(await escrowFor(x.w.worker.address, x.e.client.address));
        expect(viaSdk.init).toBeUndefined();
        const res = await viaSdk.send(x.e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        expect(res.transactions).toHaveTransaction({ to: x.e.escrow.address, aborted: true, deploy: false });
        expect(await accountState(x.net.chain, x.e.escrow.address)).not.toBe('active');
    });

    it('a new key once the old one can no longer be paid retires nothing, with or without the rarely used fields built', async () => {
        for (const withEndpoint of [false, true]) {
            const net = await createNet();
            const w = await registerWorker(net, 'op-' + withEndpoint);
            // the first registration retires nothing and builds no WorkerExtra
            expect((await w.worker.getState()).extra).toBeNull();
            if (withEndpoint) {
                await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://op.example:8443' });
                expect((await w.worker.getState()).extra).not.toBeNull();
            }
            const k1 = publicKeyToBigInt(w.tee.publicKey);
            const k1PayUntil = (await w.worker.getInfo()).keyPayUntil;
            // past K1's payUntil no escrow pays K1 receipts any more: a statement with K2 retires nothing
            net.chain.now = Number(k1PayUntil);
            const k2 = seededKey('tee:op:K2:' + withEndpoint);
            const a = signStatement(makeStatement(net, w.operator.address, k2), net.verifier);
            const res = await net.root.send(w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 2n, stake: 0n, attestation: a.cell });
            expect(failures(res)).toEqual([]);
            const info = await w.worker.getInfo();
            expect(info.teeKey).toBe(publicKeyToBigInt(k2.publicKey));
            expect(info.active).toBe(true);
            expect(info.retiredKeys).toBe(0n);
            expect((await w.worker.getRetiredKeys()).size).toBe(0);
            expect(info.keyPayUntil).toBe(BigInt(a.statement.expiresAt) + net.params.disputeWindow);
            expect(info.accountableUntil).toBe(info.keyPayUntil);
            expect(await w.worker.getIsBanned(k1)).toBe(false);
            expect((await w.worker.getReputation()).renewals).toBe(1n);
            expect((await w.worker.getState()).extra === null).toBe(!withEndpoint);
            if (withEndpoint) expect(info.endpoint).toBe('https://op.example:8443');
        }
    });

    it('a worker cannot keep rotating past MAX_RETIRED_KEYS keys still accountable; the statement then does not take effect', async () => {
        const x = await world();
        for (let i = 0; i < 16; i++) {
            await timeTravel(x.net, 10);
            expect(failures(await reattest(x, seededKey('tee:op1:rot' + i)))).toEqual([]);
        }
        expect((await x.w.worker.getInfo()).retiredKeys).toBe(16n);
        await timeTravel(x.net, 10);
        const k = seededKey('tee:op1:one-too-many');
        // paid at the exact minimum the entry check asks: the Worker's dearest paths still have their gas
        const min = minFor(x.net.chain, 'registerWorker');
        const res = await reattestAt(x, k, min);
        expect(failures(res)).toEqual([]);
        const info = await x.w.worker.getInfo();
        expect(info.teeKey).toBe(publicKeyToBigInt(seededKey('tee:op1:rot15').publicKey));
        expect(info.retiredKeys).toBe(16n);
        // the key in force still serves; once the oldest retired keys are past their payUntil, rotation works again
        expect(info.active).toBe(true);
        const oldest = [...(await x.w.worker.getRetiredKeys()).values()].sort((a, b) => (a < b ? -1 : 1))[0];
        x.net.chain.now = Number(oldest);
        expect(failures(await reattestAt(x, k, min))).toEqual([]);
        expect((await x.w.worker.getInfo()).teeKey).toBe(publicKeyToBigInt(k.publicKey));
    });

    it('a new key when all 16 retired keys are past their payUntil prunes them all, paid at the exact minimum', async () => {
        const x = await world();
        for (let i = 0; i < 16; i++) {
            await timeTravel(x.net, 10);
            expect(failures(await reattest(x, seededKey('tee:op1:rot' + i)))).toEqual([]);
        }
        const retired = [...(await x.w.worker.getRetiredKeys()).values()].map(Number).sort((a, b) => a - b);
        expect(retired).toHaveLength(16);
        const inForce = (await x.w.worker.getInfo()).teeKey;
        x.net.chain.now = retired[15];
        const k = seededKey('tee:op1:after-all');
        const res = await reattestAt(x, k, minFor(x.net.chain, 'registerWorker'));
        expect(failures(res)).toEqual([]);
        const info = await x.w.worker.getInfo();
        expect(info.teeKey).toBe(publicKeyToBigInt(k.publicKey));
        // every earlier key is gone but the one just replaced, still payable
        expect([...(await x.w.worker.getRetiredKeys()).keys()]).toEqual([inForce]);
        expect(info.retiredKeys).toBe(1n);
        expect(info.active).toBe(true);
    });
});

// ClientEscrow money paths: open/refund, top-up, claims (exact payouts, caps, refusals), fee flushing,
// close/withdraw, reopen epochs, and a worker that stops or rotates its key.
import '@ton/test-utils';
import { Blockchain, BlockchainSnapshot, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, toNano } from '@ton/core';
import {
    ClientEscrow, escrowForOpening, workerFor, publicKeyToBigInt, signReceipt, signStatement,
    ESCROW_OPEN, ESCROW_CLOSING, ESCROW_STORAGE_RESERVE, FEE_FLUSH_MIN,
    ERR_BAD_RECEIPT, ERR_BAD_RECEIPT_SIG, ERR_STALE_RECEIPT, ERR_PRICE_ABOVE_CAP, ERR_WRONG_STATE,
    ERR_DISPUTE_WINDOW_OVER, ERR_WINDOW_NOT_OVER, ERR_NOT_CLIENT, ERR_NOT_PARTY, ERR_ZERO_AMOUNT,
    ERR_INSUFFICIENT_VALUE, ERR_BAD_CLIENT_KEY, asPrices, TOKEN_CLASSES, type SignedUsageReceipt, type PriceSet,
    TAG_RECEIPT, TAG_ATTESTATION, signHash,
} from '../src/sdk';
import {
    createNet, registerWorker, openEscrow, signedReceiptFor, claimBody, makeStatement, seededKey,
    Net, WorkerHandle, EscrowHandle,
    CLIENT_KEY, clientKeyOf, usage,
} from './helpers/network';
import { withDelta, expectOnlyFees } from './helpers/rootWorker';
import { Ledger, tracked, paymentsTo, OP, exitCodeAt, plain } from './helpers/money';

const BPS = 10000n;
const CLAIM_VALUE = toNano('0.1');
const DEPOSIT = toNano('5');
const MAX_PRICE = toNano('0.5'); // nanoton per million tokens
// tokens that make `cost` exactly reach the client's cap
const tokensFor = (cost: bigint) => (cost * 1_000_000n + MAX_PRICE - 1n) / MAX_PRICE;

describe('ClientEscrow', () => {
    let net: Net;
    let w: WorkerHandle;
    let chain: Blockchain;
    let snap: BlockchainSnapshot;
    let ledger: Ledger;
    let feeBps: bigint;
    let stakerShareBps: bigint;

    beforeAll(async () => {
        net = await createNet();
        chain = net.chain;
        w = await registerWorker(net, 'op1');
        expect((await w.worker.getInfo()).active).toBe(true);
        feeBps = net.params.protocolFeeBps;
        stakerShareBps = net.params.stakerShareBps;
        snap = chain.snapshot();
    });

    beforeEach(async () => {
        await chain.loadFrom(snap);
        ledger = new Ledger([net.root.address, w.worker.address]);
    });

    async function open(name = 'client1', deposit = DEPOSIT, maxPrice: bigint | PriceSet = MAX_PRICE, handle = w): Promise<EscrowHandle> {
        const client = await chain.treasury(name);
        const escrow = chain.openContract(await escrowForOpening(handle.worker.address, client.address));
        ledger.add(escrow.address);
        const t = await tracked(ledger, chain, () => openEscrow(net, handle, name, deposit, maxPrice).then((e) => e.result));
        return { client, escrow, result: t.res };
    }

    async function claim(e: EscrowHandle, r: SignedUsageReceipt, via: SandboxContract<TreasuryContract> = w.operator, value = CLAIM_VALUE) {
        return tracked(ledger, chain, () => e.escrow.send(via.getSender(), { value }, claimBody(r)));
    }

    async function balanceOf(a: Address): Promise<bigint> {
        return (await chain.getContract(a)).balance;
    }

    async function isGone(a: Address): Promise<boolean> {
        const c = await chain.getContract(a);
        return c.balance === 0n && c.accountState?.type !== 'active';
    }

    // An escrow holds exactly deposit + fees not yet forwarded + its storage reserve; once time has
    // passed, storage fees may have eaten into the reserve (never into the deposit).
    async function expectBacked(e: EscrowHandle, timePassed = false) {
        const st = await e.escrow.getState();
        const bal = await balanceOf(e.escrow.address);
        const full = st.deposit + st.feesOwed + ESCROW_STORAGE_RESERVE;
        if (!timePassed) {
            expect(bal).toBe(full);
            return;
        }
        expect(bal).toBeLessThanOrEqual(full);
        expect(bal).toBeGreaterThan(full - ESCROW_STORAGE_RESERVE);
    }

    describe('open', () => {
        it('opens against an active worker with its key, operator, root and fee terms', async () => {
            const e = await open();
            expect(e.result.transactions).toHaveTransaction({ from: e.client.address, to: e.escrow.address, deploy: true, success: true });
            expect(e.result.transactions).toHaveTransaction({ from: e.escrow.address, to: w.worker.address, success: true });
            expect(e.result.transactions).toHaveTransaction({ from: w.worker.address, to: e.escrow.address, success: true });
            expect(e.result.transactions).toHaveTransaction({ from: e.escrow.address, to: e.client.address, op: OP.Excesses });
            const openTx = e.result.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(e.escrow.address))!;
            const st = await e.escrow.getState();
            expect(st.state).toBe(ESCROW_OPEN);
            expect(st.deposit).toBe(DEPOSIT);
            expect(plain(st.caps)).toEqual(plain(asPrices(MAX_PRICE)));
            expect(st.epoch).toBe(openTx.lt);
            expect(st.teeKey).toBe(publicKeyToBigInt(w.tee.publicKey));
            expect(st.operator!.equals(w.operator.address)).toBe(true);
            expect(st.root!.equals(net.root.address)).toBe(true);
            expect(st.feeBps).toBe(feeBps);
            expect(st.disputeWindow).toBe(net.params.disputeWindow);
            expect(st.paid).toBe(0n);
            expect(st.lastSeq).toBe(0n);
            await expectBacked(e);
        });

        // EscrowInfo carries no queryId (issue 15: it fits the message cell): the escrow keeps the
        // opening's queryId in the key's place until the answer, and reports no key meanwhile.
        it("answers the opening's queryId with the change, and reports no key while waiting", async () => {
            const client = await chain.treasury('client-qid');
            const escrow = chain.openContract(await escrowForOpening(w.worker.address, client.address));
            const queryId = 0xfedcba9876543210n;
            const r = await escrow.send(client.getSender(), { value: DEPOSIT + toNano('0.2') },
                { $$type: 'OpenEscrow', queryId, deposit: DEPOSIT, caps: asPrices(MAX_PRICE), clientKey: CLIENT_KEY, root: net.root.address });
            const change = r.transactions.find((t) => t.inMessage?.info.src?.toString?.() === escrow.address.toString()
                && t.inMessage?.info.dest?.toString?.() === client.address.toString())!;
            const body = change.inMessage!.body.beginParse();
            expect(body.loadUint(32)).toBe(Number(OP.Excesses));
            expect(body.loadUintBig(64)).toBe(queryId);
            expect((await escrow.getState()).state).toBe(ESCROW_OPEN);
            // an opening no worker answers: still OPENING, no key, no operator
            const waiting = chain.openContract(await escrowForOpening((await chain.treasury('not-a-worker')).address, client.address));
            await waiting.send(client.getSender(), { value: DEPOSIT + toNano('0.2') },
                { $$type: 'OpenEscrow', queryId, deposit: DEPOSIT, caps: asPrices(MAX_PRICE), clientKey: CLIENT_KEY, root: net.root.address });
            const st = await waiting.getState();
            expect(st.state).toBe(1n);
            expect(st.teeKey).toBe(0n);
            expect(st.operator).toBeNull();
            // and nothing is paid against the queryId in the key's place
            const r2 = signReceipt(usage(waiting.address, 0n, { seq: 1n, tokens: 1_000_000n, cost: 1n }), w.tee);
            const c = await waiting.send(w.operator.getSender(), { value: CLAIM_VALUE }, claimBody(r2));
            expect(exitCodeAt(c, waiting.address)).toBe(Number(ERR_WRONG_STATE));
        });

        async function expectRefunded(e: EscrowHandle) {
            const t = ledger.payments(e.result.transactions);
            const refunds = paymentsTo(t, e.client.address, OP.EscrowRefund);
            expect(refunds).toHaveLength(1);
            expect(refunds[0].amount).toBe(DEPOSIT);
            expect(refunds[0].value).toBeGreaterThan(DEPOSIT);
            expect(await isGone(e.escrow.address)).toBe(true);
        }

        it('refunds the deposit and self-destructs when the worker is not active', async () => {
            await w.worker.send(w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
            expect((await w.worker.getInfo()).active).toBe(false);
            const e = await open();
            await expectRefunded(e);
        });

        it('refunds the deposit and self-destructs when the worker contract does not exist', async () => {
            const ghostOp = await chain.treasury('ghost');
            const ghost = chain.openContract(await workerFor(net.root.address, ghostOp.address));
            const fake: WorkerHandle = { ...w, worker: ghost };
            const e = await open('client1', DEPOSIT, MAX_PRICE, fake);
            expect(e.result.transactions).toHaveTransaction({ from: e.escrow.address, to: ghost.address, aborted: true });
            await expectRefunded(e);
        });

        it("refunds the deposit and self-destructs when the worker's price is above the client's cap", async () => {
            await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(MAX_PRICE + 1n) });
            const e = await open();
            await expectRefunded(e);
        });

        for (const cls of TOKEN_CLASSES) {
            it(`refunds when the worker is above the client's cap in the ${cls} class only, opens at the cap`, async () => {
                const prices = { prompt: toNano('0.1'), cached: toNano('0.02'), completion: toNano('0.3') };
                const r = await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(prices) });
                expect(r.transactions).toHaveTransaction({ to: w.worker.address, success: true });
                const below = { ...prices, [cls]: prices[cls] - 1n };
                const e = await open('client-' + cls, DEPOSIT, below);
                await expectRefunded(e);
                const ok = await open('client-' + cls, DEPOSIT, prices);
                const st = await ok.escrow.getState();
                expect(st.state).toBe(ESCROW_OPEN);
                expect(plain(st.caps)).toEqual(plain(asPrices(prices)));
            });
        }

        it('refunds the deposit when OpenEscrow names another root than the worker\'s', async () => {
            const stranger = await chain.treasury('other-root');
            const client = await chain.treasury('client-root');
            const escrow = chain.openContract(await escrowForOpening(w.worker.address, client.address));
            ledger.add(escrow.address);
            const t = await tracked(ledger, chain, () => openEscrow(net, w, 'client-root', DEPOSIT, MAX_PRICE, stranger.address).then((x) => x.result));
            const e: EscrowHandle = { client, escrow, result: t.res };
            await expectRefunded(e);
            // no fee could ever flow to the named address: nothing was sent there
            expect(t.res.transactions).not.toHaveTransaction({ to: stranger.address });
        });

        it('refuses caps of zero in every class (ERR_ZERO_AMOUNT)', async () => {
            const client = await chain.treasury('client-nocap');
            const escrow = chain.openContract(await escrowForOpening(w.worker.address, client.address));
            ledger.add(escrow.address);
            const t = await tracked(ledger, chain, () => escrow.send(client.getSender(), { value: DEPOSIT + toNano('0.2') }, {
                $$type: 'OpenEscrow', queryId: 1n, deposit: DEPOSIT, caps: asPrices(0n), clientKey: CLIENT_KEY, root: net.root.address,
            }));
            expect(t.res.transactions).toHaveTransaction({ from: client.address, to: escrow.address, success: false, exitCode: Number(ERR_ZERO_AMOUNT) });
            expect(await balanceOf(escrow.address)).toBe(0n);
        });

        it('refuses a second OpenEscrow while open (ERR_WRONG_STATE) and keeps the deposit intact', async () => {
            const e = await open();
            const t = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('2') }, { $$type: 'OpenEscrow', queryId: 2n, deposit: toNano('1'), caps: asPrices(1n), clientKey: CLIENT_KEY, root: net.root.address }));
            expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_WRONG_STATE) });
            expect((await e.escrow.getState()).deposit).toBe(DEPOSIT);
            await expectBacked(e);
        });
    });

    describe('client key', () => {
        const keyOf = (label: string) => publicKeyToBigInt(seededKey('ck:' + label).publicKey);

        it('opens with the client key from OpenEscrow; the getters return it', async () => {
            const e = await open('client-k');
            const expected = publicKeyToBigInt(clientKeyOf('client-k').publicKey);
            expect((await e.escrow.getState()).clientKey).toBe(expected);
            expect(await e.escrow.getClientKey()).toBe(expected);
        });

        it('refuses OpenEscrow with a zero key (ERR_BAD_CLIENT_KEY): nothing is deployed, the value comes back', async () => {
            const client = await chain.treasury('client-zero');
            const escrow = chain.openContract(await escrowForOpening(w.worker.address, client.address));
            ledger.add(escrow.address);
            const t = await tracked(ledger, chain, () => escrow.send(client.getSender(), { value: DEPOSIT + toNano('0.2') }, {
                $$type: 'OpenEscrow', queryId: 1n, deposit: DEPOSIT, caps: asPrices(MAX_PRICE), clientKey: 0n, root: net.root.address,
            }));
            expect(t.res.transactions).toHaveTransaction({ from: client.address, to: escrow.address, success: false, exitCode: Number(ERR_BAD_CLIENT_KEY) });
            expect(t.res.transactions).toHaveTransaction({ from: escrow.address, to: client.address, inMessageBounced: true });
            expect(t.res.transactions).not.toHaveTransaction({ from: escrow.address, to: w.worker.address });
            // a failed deploy leaves a blank account (state NONE) holding nothing (docs/SECURITY.md)
            expect(await balanceOf(escrow.address)).toBe(0n);
            expect((await escrow.getState()).state).toBe(0n);
        });

        it('SetClientKey by the client replaces the key at once, changes nothing else and returns the value', async () => {
            const e = await open();
            const before = await e.escrow.getState();
            const balBefore = await balanceOf(e.escrow.address);
            const { res, delta } = await withDelta(chain, e.client.address, () =>
                e.escrow.send(e.client.getSender(), { value: toNano('0.5') }, { $$type: 'SetClientKey', queryId: 9n, clientKey: keyOf('new') }));
            expect(res.transactions).toHaveTransaction({ from: e.client.address, to: e.escrow.address, success: true });
            expect(res.transactions).toHaveTransaction({ from: e.escrow.address, to: e.client.address });
            expectOnlyFees(delta);
            const after = await e.escrow.getState();
            expect(after.clientKey).toBe(keyOf('new'));
            expect(plain({ ...after, clientKey: 0n })).toEqual(plain({ ...before, clientKey: 0n }));
            expect(await balanceOf(e.escrow.address)).toBe(balBefore);
            await expectBacked(e);
            // also while closing (a leaked key is revoked whatever the state)
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            const r2 = await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'SetClientKey', queryId: 0n, clientKey: keyOf('third') });
            expect(r2.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
            expect(await e.escrow.getClientKey()).toBe(keyOf('third'));
        });

        it('refuses SetClientKey from anyone but the client (ERR_NOT_CLIENT) and a zero key (ERR_BAD_CLIENT_KEY): nothing moves', async () => {
            const e = await open();
            const before = await e.escrow.getState();
            const balBefore = await balanceOf(e.escrow.address);
            for (const who of [await chain.treasury('stranger'), w.operator]) {
                const { res, delta } = await withDelta(chain, who.address, () =>
                    e.escrow.send(who.getSender(), { value: toNano('0.5') }, { $$type: 'SetClientKey', queryId: 0n, clientKey: keyOf('evil') }));
                expect(res.transactions).toHaveTransaction({ from: who.address, to: e.escrow.address, success: false, exitCode: Number(ERR_NOT_CLIENT) });
                expect(res.transactions).toHaveTransaction({ from: e.escrow.address, to: who.address, inMessageBounced: true });
                expectOnlyFees(delta);
            }
            const r = await e.escrow.send(e.client.getSender(), { value: toNano('0.5') }, { $$type: 'SetClientKey', queryId: 0n, clientKey: 0n });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(ERR_BAD_CLIENT_KEY) });
            expect(plain(await e.escrow.getState())).toEqual(plain(before));
            expect(await balanceOf(e.escrow.address)).toBe(balBefore);
        });

        it('refuses SetClientKey on an escrow that is not open (ERR_WRONG_STATE)', async () => {
            const e = await open();
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            chain.now = chain.now! + Number(net.params.disputeWindow);
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
            expect(await isGone(e.escrow.address)).toBe(true);
            // a blank account at the address (deployed by anyone with the init) has no terms
            const r = await e.escrow.send(e.client.getSender(), { value: toNano('0.05'), bounce: true }, { $$type: 'SetClientKey', queryId: 0n, clientKey: keyOf('x') });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, success: false });
            const deployed = chain.openContract(await escrowForOpening(w.worker.address, e.client.address));
            const r2 = await deployed.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'SetClientKey', queryId: 0n, clientKey: keyOf('x') });
            expect(r2.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(ERR_WRONG_STATE) });
        });
    });

    describe('top-up', () => {
        it('adds exactly the amount to the deposit and returns the excess', async () => {
            const e = await open();
            const amount = toNano('1.5');
            const before = await balanceOf(e.escrow.address);
            const t = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: amount + toNano('0.1') }, { $$type: 'TopUpEscrow', queryId: 3n, amount }));
            expect(t.res.transactions).toHaveTransaction({ from: e.escrow.address, to: e.client.address, op: OP.Excesses });
            expect((await e.escrow.getState()).deposit).toBe(DEPOSIT + amount);
            expect(await balanceOf(e.escrow.address)).toBe(before + amount);
        });

        it('refuses a stranger, a zero amount, too little value and a closing escrow', async () => {
            const e = await open();
            const stranger = await chain.treasury('stranger');
            let r = await e.escrow.send(stranger.getSender(), { value: toNano('2') }, { $$type: 'TopUpEscrow', queryId: 0n, amount: toNano('1') });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_NOT_CLIENT) });
            r = await e.escrow.send(e.client.getSender(), { value: toNano('0.1') }, { $$type: 'TopUpEscrow', queryId: 0n, amount: 0n });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_ZERO_AMOUNT) });
            r = await e.escrow.send(e.client.getSender(), { value: toNano('1') }, { $$type: 'TopUpEscrow', queryId: 0n, amount: toNano('1') });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_INSUFFICIENT_VALUE) });
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            r = await e.escrow.send(e.client.getSender(), { value: toNano('2') }, { $$type: 'TopUpEscrow', queryId: 0n, amount: toNano('1') });
            expect(r.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_WRONG_STATE) });
            expect((await e.escrow.getState()).deposit).toBe(DEPOSIT);
            await expectBacked(e);
        });
    });

    describe('claim', () => {
        it('pays the operator exactly the increase minus the protocol fee and records paid, feesOwed and lastSeq', async () => {
            const e = await open();
            const cost = toNano('0.8');
            const r = await signedReceiptFor(e, w.tee, { seq: 7n, tokens: tokensFor(cost), cost });
            const before = await balanceOf(e.escrow.address);
            const t = await claim(e, r);
            const fee = cost * feeBps / BPS;
            const pays = paymentsTo(t.payments, w.operator.address, OP.EscrowPayout);
            expect(pays).toHaveLength(1);
            expect(pays[0].amount).toBe(cost - fee);
            const st = await e.escrow.getState();
            expect(st.paid).toBe(cost);
            expect(st.deposit).toBe(DEPOSIT - cost);
            expect(st.feesOwed).toBe(fee);
            expect(st.lastSeq).toBe(7n);
            expect(st.lastCost).toBe(cost);
            expect(st.lastTokens).toBe(tokensFor(cost));
            // exactly payout - fee left the escrow; the claim's gas came out of the claimer's value
            expect(await balanceOf(e.escrow.address)).toBe(before - (cost - fee));
            expect(t.flow.toWallets).toBe(CLAIM_VALUE + cost - fee - t.flow.fees);
            await expectBacked(e);
        });

        it("a third party's claim still pays the operator exactly payout - fee and returns the excess to the claimer", async () => {
            const e = await open();
            const relayer = await chain.treasury('relayer');
            const cost = toNano('1');
            const fee = cost * feeBps / BPS;
            const before = await balanceOf(e.escrow.address);
            const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(cost), cost }), relayer);
            const toOp = paymentsTo(t.payments, w.operator.address);
            expect(toOp).toHaveLength(1);
            expect(toOp[0].op).toBe(OP.EscrowPayout);
            expect(toOp[0].amount).toBe(cost - fee);
            expect(toOp[0].value).toBe(cost - fee); // the claimer pays the forwarding, not the operator
            const back = paymentsTo(t.payments, relayer.address, OP.Excesses);
            expect(back).toHaveLength(1);
            // the claimer gets back its value less every fee of the claim
            expect(back[0].value).toBe(CLAIM_VALUE - t.flow.fees);
            expect(await balanceOf(e.escrow.address)).toBe(before - (cost - fee));
            await expectBacked(e);
        });

        it('caps a claim by the deposit; after a top-up a newer receipt pays the rest', async () => {
            const deposit = toNano('1');
            const e = await open('client1', deposit);
            const cost = toNano('3');
            const t1 = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(cost), cost }));
            let st = await e.escrow.getState();
            expect(st.paid).toBe(deposit);
            expect(st.deposit).toBe(0n);
            expect(paymentsTo(t1.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(deposit - deposit * feeBps / BPS);
            await expectBacked(e);
            // the same receipt cannot be presented again to collect the rest
            const again = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(cost), cost }));
            expect(again.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_STALE_RECEIPT) });
            await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('5.1') }, { $$type: 'TopUpEscrow', queryId: 0n, amount: toNano('5') }));
            const t2 = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(cost), cost }));
            const rest = cost - deposit;
            expect(paymentsTo(t2.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(rest - rest * feeBps / BPS);
            st = await e.escrow.getState();
            expect(st.paid).toBe(cost);
            expect(st.deposit).toBe(toNano('5') - rest);
        });

        it('pays only the increase of a cumulative receipt', async () => {
            const e = await open();
            const c1 = toNano('0.4');
            const c2 = toNano('0.9');
            await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c1), cost: c1 }));
            const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(c2), cost: c2 }));
            const inc = c2 - c1;
            expect(paymentsTo(t.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(inc - inc * feeBps / BPS);
            const st = await e.escrow.getState();
            expect(st.paid).toBe(c2);
            expect(st.deposit).toBe(DEPOSIT - c2);
            expect(st.feesOwed).toBe(c1 * feeBps / BPS + inc * feeBps / BPS);
            await expectBacked(e);
        });

        it('a newer receipt with no new cost only advances the sequence (third party too)', async () => {
            const e = await open();
            const c = toNano('0.4');
            await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c }));
            const relayer = await chain.treasury('relayer');
            const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(c) + 10n, cost: c }), relayer);
            expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true, aborted: false });
            // the claimer's value is not kept by the escrow
            expect(paymentsTo(t.payments, relayer.address, OP.Excesses)).toHaveLength(1);
            const st = await e.escrow.getState();
            expect(st.lastSeq).toBe(2n);
            expect(st.paid).toBe(c);
            await expectBacked(e);
        });

        describe('caps per token class', () => {
            // the client's caps: completion dearest, cached cheapest
            const CAPS = { prompt: toNano('0.2'), cached: toNano('0.05'), completion: toNano('0.6') };
            const T = { promptTokens: 3_000_000n, cachedTokens: 2_000_000n, completionTokens: 1_000_000n };
            // 3 x 0.2 + 2 x 0.05 + 1 x 0.6 = 1.3 TON: the most a receipt with these totals may cost
            const CAP_COST = toNano('1.3');

            it('each class is capped at its own price: cost at sum(tokens x cap) is paid exactly', async () => {
                const e = await open('client-cls', DEPOSIT, CAPS);
                const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, ...T, cost: CAP_COST }));
                expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
                const st = await e.escrow.getState();
                expect(st.paid).toBe(CAP_COST);
                expect(st.lastTokens).toBe(6_000_000n);
                expect(paymentsTo(t.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(CAP_COST - CAP_COST * feeBps / BPS);
                await expectBacked(e);
            });

            it('a nanoton above sum(tokens x cap) is refused (ERR_PRICE_ABOVE_CAP)', async () => {
                const e = await open('client-cls', DEPOSIT, CAPS);
                const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, ...T, cost: CAP_COST + 1n }));
                expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(ERR_PRICE_ABOVE_CAP) });
                expect((await e.escrow.getState()).paid).toBe(0n);
            });

            for (const [cls, field] of [['prompt', 'promptTokens'], ['cached', 'cachedTokens'], ['completion', 'completionTokens']] as const) {
                it(`the ${cls} cap is enforced: the tokens priced a nanoton above it are refused, at it accepted`, async () => {
                    const e = await open('client-' + cls, DEPOSIT, CAPS);
                    // a million tokens of this class alone: the cost may be at most the class's cap
                    const only = { promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n, [field]: 1_000_000n };
                    const over = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, ...only, cost: CAPS[cls] + 1n }));
                    expect(over.res.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(ERR_PRICE_ABOVE_CAP) });
                    // the same tokens counted in a dearer class would have passed: the class matters
                    if (cls !== 'completion') {
                        const dearer = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, promptTokens: 0n, cachedTokens: 0n, completionTokens: 1_000_000n, cost: CAPS[cls] + 1n }));
                        expect(dearer.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
                        return;
                    }
                    const at = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, ...only, cost: CAPS[cls] }));
                    expect(at.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
                    expect((await e.escrow.getState()).paid).toBe(CAPS[cls]);
                });
            }

            it('a later receipt counts the sum of the classes for staleness: fewer tokens in all is refused', async () => {
                const e = await open('client-cls', DEPOSIT, CAPS);
                await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, ...T, cost: toNano('1') }));
                // tokens moved from one class to another, the sum unchanged: accepted by the escrow
                // (a slash proof would catch it if the same key signed both, tests/Slashing.spec.ts)
                const moved = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, promptTokens: 2_000_000n, cachedTokens: 2_000_000n, completionTokens: 2_000_000n, cost: toNano('1') }));
                expect(moved.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
                const fewer = await claim(e, await signedReceiptFor(e, w.tee, { seq: 3n, promptTokens: 2_000_000n, cachedTokens: 2_000_000n, completionTokens: 1_999_999n, cost: toNano('1') }));
                expect(fewer.res.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(ERR_STALE_RECEIPT) });
            });
        });

        describe('refusals leave the escrow untouched', () => {
            let e: EscrowHandle;
            const c1 = toNano('0.5');
            beforeEach(async () => {
                e = await open();
                await claim(e, await signedReceiptFor(e, w.tee, { seq: 5n, tokens: tokensFor(c1) + 1000n, cost: c1 }));
            });

            async function refused(r: SignedUsageReceipt, code: bigint, value = CLAIM_VALUE, timePassed = false, via = w.operator) {
                const before = await e.escrow.getState();
                const bal = await balanceOf(e.escrow.address);
                const t = await claim(e, r, via, value);
                expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: false, exitCode: Number(code) });
                expect(paymentsTo(t.payments, w.operator.address, OP.EscrowPayout)).toHaveLength(0);
                expect(plain(await e.escrow.getState())).toEqual(plain(before));
                const after = await balanceOf(e.escrow.address);
                if (timePassed) {
                    // only storage fees, never more than the reserve
                    expect(after).toBeLessThanOrEqual(bal);
                    expect(bal - after).toBeLessThan(ESCROW_STORAGE_RESERVE);
                } else {
                    expect(after).toBe(bal);
                }
            }

            it('bad signature', async () => {
                await refused(await signedReceiptFor(e, seededKey('forger'), { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), ERR_BAD_RECEIPT_SIG);
            });
            it('a receipt under another domain tag (the attestation tag, the receipt tag + 1), signed by the key', async () => {
                for (const tag of [TAG_ATTESTATION, TAG_RECEIPT + 1n]) {
                    const good = await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') });
                    const rest = good.cell.beginParse().skip(32);
                    const cell = beginCell().storeUint(tag, 32).storeSlice(rest).endCell();
                    await refused({ receipt: good.receipt, cell, signature: signHash(cell.hash(), w.tee) }, ERR_BAD_RECEIPT);
                }
            });
            it('receipt for another escrow', async () => {
                const other = await open('client2');
                const st = await e.escrow.getState();
                await refused(signReceipt(usage(other.escrow.address, st.epoch, { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), w.tee), ERR_BAD_RECEIPT);
            });
            it('receipt for another epoch', async () => {
                const st = await e.escrow.getState();
                await refused(await signedReceiptFor(e, w.tee, { epoch: st.epoch - 1n, seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), ERR_BAD_RECEIPT);
            });
            it('stale sequence (equal and lower)', async () => {
                await refused(await signedReceiptFor(e, w.tee, { seq: 5n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), ERR_STALE_RECEIPT);
                await refused(await signedReceiptFor(e, w.tee, { seq: 4n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), ERR_STALE_RECEIPT);
            });
            it('totals going backwards (cost, tokens)', async () => {
                await refused(await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(c1) + 1000n, cost: c1 - 1n }), ERR_STALE_RECEIPT);
                await refused(await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(c1), cost: c1 }), ERR_STALE_RECEIPT);
            });
            it("cost above tokens x the client's maxPrice", async () => {
                const tokens = tokensFor(c1) + 2_000_000n;
                const cap = tokens * MAX_PRICE / 1_000_000n;
                await refused(await signedReceiptFor(e, w.tee, { seq: 6n, tokens, cost: cap + 1n }), ERR_PRICE_ABOVE_CAP);
                // the cap itself is accepted
                const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 6n, tokens, cost: cap }));
                expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
                expect((await e.escrow.getState()).paid).toBe(cap);
            });
            it('too little value for the claim and the fee hop, from anyone but the operator', async () => {
                const r = await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') });
                await refused(r, ERR_INSUFFICIENT_VALUE, toNano('0.005'), false, await chain.treasury('third-party'));
            });
            // The operator's own claim checks no value (gas, issue 15): too little costs only the operator.
            it("too little value for the operator's claim: it runs out of its own gas, the escrow untouched", async () => {
                const before = await e.escrow.getState();
                const bal = await balanceOf(e.escrow.address);
                const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), w.operator, toNano('0.001'));
                const tx = t.res.transactions.find((x) => x.inMessage?.info.dest?.toString() === e.escrow.address.toString())!;
                expect(tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success).toBe(false);
                expect(paymentsTo(t.payments, w.operator.address, OP.EscrowPayout)).toHaveLength(0);
                expect(plain(await e.escrow.getState())).toEqual(plain(before));
                expect(await balanceOf(e.escrow.address)).toBe(bal);
            });
            it("a payout too small to pay its own forward fee with the operator's change: nothing written, the escrow loses nothing", async () => {
                const before = await e.escrow.getState();
                const bal = await balanceOf(e.escrow.address);
                // 10 nanoton more than already paid, and just enough value for the claim's gas
                const r = await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(c1) + 1000n, cost: c1 + 10n });
                const t = await claim(e, r, w.operator, toNano('0.0031'));
                const tx = t.res.transactions.find((x) => x.inMessage?.info.dest?.toString() === e.escrow.address.toString())!;
                expect(tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' && tx.description.computePhase.success).toBe(true);
                expect(tx.description.type === 'generic' && tx.description.actionPhase?.success).toBe(false);
                expect(paymentsTo(t.payments, w.operator.address, OP.EscrowPayout)).toHaveLength(0);
                expect(plain(await e.escrow.getState())).toEqual(plain(before));
                // no fine, nothing paid: the escrow keeps what the operator's value left after the gas
                // (too little to carry back), which goes to the client with the rest at withdrawal
                const gasFees = tx.description.type === 'generic' && tx.description.computePhase.type === 'vm' ? tx.description.computePhase.gasFees : 0n;
                expect(gasFees).toBeGreaterThan(0n);
                expect(await balanceOf(e.escrow.address)).toBe(bal + toNano('0.0031') - gasFees);
                // with enough value the same receipt pays
                const ok = await claim(e, r, w.operator, CLAIM_VALUE);
                expect(paymentsTo(ok.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(10n);
            });
            it('after the dispute window', async () => {
                await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
                chain.now = Number((await e.escrow.getState()).closeAt);
                await refused(await signedReceiptFor(e, w.tee, { seq: 6n, tokens: tokensFor(toNano('1')), cost: toNano('1') }), ERR_DISPUTE_WINDOW_OVER, CLAIM_VALUE, true);
            });
        });

        it('refuses a claim on an escrow that was never opened (ERR_WRONG_STATE)', async () => {
            const client = await chain.treasury('client9');
            const fresh = chain.openContract(await escrowForOpening(w.worker.address, client.address));
            const r = signReceipt(usage(fresh.address, 0n, { seq: 1n, tokens: 1_000_000n, cost: 1n }), w.tee);
            const res = await fresh.send(w.operator.getSender(), { value: CLAIM_VALUE }, claimBody(r));
            expect(exitCodeAt(res, fresh.address)).toBe(Number(ERR_WRONG_STATE));
        });
    });

    describe('protocol fees', () => {
        it('stay in the escrow below FEE_FLUSH_MIN and go to the root, split by stakerShareBps, once reached', async () => {
            const e = await open('client1', toNano('10'));
            // fee of the first claim just below the threshold
            const c1 = (FEE_FLUSH_MIN - 1n) * BPS / feeBps;
            const f1 = c1 * feeBps / BPS;
            expect(f1).toBeLessThan(FEE_FLUSH_MIN);
            const rs0 = await net.root.getRewardState();
            const t1 = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c1), cost: c1 }));
            expect(t1.res.transactions).not.toHaveTransaction({ from: e.escrow.address, to: net.root.address });
            expect((await e.escrow.getState()).feesOwed).toBe(f1);
            const c2 = c1 + toNano('0.01');
            const f2 = (c2 - c1) * feeBps / BPS;
            const t2 = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(c2), cost: c2 }));
            expect(t2.res.transactions).toHaveTransaction({ from: e.escrow.address, to: net.root.address, op: OP.ProtocolFee, success: true });
            const flushed = f1 + f2;
            const st = await e.escrow.getState();
            expect(st.feesOwed).toBe(0n);
            const rs1 = await net.root.getRewardState();
            const toStakers = flushed * stakerShareBps / BPS;
            expect(rs1.rewardPool - rs0.rewardPool).toBe(toStakers);
            expect(rs1.treasury - rs0.treasury).toBe(flushed - toStakers);
            await expectBacked(e);
        });

        it('are flushed to the root on WithdrawEscrow', async () => {
            const e = await open();
            const c = toNano('0.6');
            const fee = c * feeBps / BPS;
            await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c }));
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            chain.now = Number((await e.escrow.getState()).closeAt);
            const rs0 = await net.root.getRewardState();
            const t = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
            expect(t.res.transactions).toHaveTransaction({ from: e.escrow.address, to: net.root.address, op: OP.ProtocolFee, success: true });
            const rs1 = await net.root.getRewardState();
            expect(rs1.rewardPool - rs0.rewardPool).toBe(fee * stakerShareBps / BPS);
            expect(rs1.treasury - rs0.treasury).toBe(fee - fee * stakerShareBps / BPS);
            const refund = paymentsTo(t.payments, e.client.address, OP.EscrowRefund);
            expect(refund).toHaveLength(1);
            expect(refund[0].amount).toBe(DEPOSIT - c);
        });
    });

    describe('close and withdraw', () => {
        it('claim inside the window works, after closeAt is refused; withdraw waits for closeAt, then returns everything', async () => {
            const e = await open();
            const closeRes = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n }));
            expect(closeRes.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
            let st = await e.escrow.getState();
            expect(st.state).toBe(ESCROW_CLOSING);
            expect(st.closeAt).toBe(BigInt(chain.now!) + net.params.disputeWindow);
            chain.now = Number(st.closeAt) - 1;
            const c = toNano('0.3');
            const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c }));
            expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
            let r = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_WINDOW_NOT_OVER) });
            const stranger = await chain.treasury('stranger');
            r = await tracked(ledger, chain, () => e.escrow.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_NOT_CLIENT) });
            chain.now = Number(st.closeAt);
            const late = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(toNano('1')), cost: toNano('1') }));
            expect(late.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_DISPUTE_WINDOW_OVER) });
            st = await e.escrow.getState();
            const held = await balanceOf(e.escrow.address);
            const wd = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
            const refund = paymentsTo(wd.payments, e.client.address, OP.EscrowRefund);
            expect(refund).toHaveLength(1);
            expect(refund[0].amount).toBe(DEPOSIT - c);
            // nothing stays behind: the escrow's whole balance and the message's change go to the client
            expect(wd.heldDelta).toBeLessThanOrEqual(0n);
            expect(await isGone(e.escrow.address)).toBe(true);
            // the escrow's whole balance plus the message's change, less what went to the root and the fees
            const escrowTx = wd.res.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(e.escrow.address))!;
            let toRoot = 0n;
            let toWorker = 0n;
            let fwd = 0n;
            for (const m of escrowTx.outMessages.values()) {
                if (m.info.type !== 'internal') continue;
                fwd += m.info.forwardFee;
                if (m.info.dest.equals(net.root.address)) toRoot += m.info.value.coins;
                if (m.info.dest.equals(w.worker.address)) toWorker += m.info.value.coins;
            }
            expect(toRoot).toBeGreaterThan(st.feesOwed);
            // the settlement report (reputation) carries a fixed budget, whose leftover the Worker sends back to the client
            expect(toWorker).toBe(toNano('0.00656'));
            expect(wd.res.transactions).toHaveTransaction({ from: w.worker.address, to: e.client.address, op: 0xd53276db });
            expect(refund[0].value).toBe(held + toNano('0.05') - toRoot - toWorker - escrowTx.totalFees.coins - fwd);
        });

        it('a reopen gets a new epoch; receipts of the old epoch are refused, new ones start from seq 1', async () => {
            const e = await open();
            const c = toNano('0.3');
            const old = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c });
            await claim(e, old);
            const oldEpoch = (await e.escrow.getState()).epoch;
            const oldNext = await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(toNano('1')), cost: toNano('1') });
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            chain.now = Number((await e.escrow.getState()).closeAt);
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n });
            expect(await isGone(e.escrow.address)).toBe(true);
            const e2 = await open();
            const st = await e2.escrow.getState();
            expect(st.state).toBe(ESCROW_OPEN);
            expect(st.epoch).toBeGreaterThan(oldEpoch);
            expect(st.paid).toBe(0n);
            expect(st.lastSeq).toBe(0n);
            for (const r of [old, oldNext]) {
                const t = await claim(e2, r);
                expect(t.res.transactions).toHaveTransaction({ to: e2.escrow.address, exitCode: Number(ERR_BAD_RECEIPT) });
            }
            const fresh = await claim(e2, await signedReceiptFor(e2, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c }));
            expect(paymentsTo(fresh.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe(c - c * feeBps / BPS);
            await expectBacked(e2);
        });
    });

    describe('worker changes', () => {
        it("a worker that stops being active never locks the client's funds", async () => {
            const e = await open();
            await w.worker.send(w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
            expect((await w.worker.getInfo()).active).toBe(false);
            // receipts signed while it was active stay claimable until the client closes
            const c = toNano('0.2');
            const t = await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c), cost: c }));
            expect(t.res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
            await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
            chain.now = Number((await e.escrow.getState()).closeAt);
            const wd = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
            expect(paymentsTo(wd.payments, e.client.address, OP.EscrowRefund)[0].amount).toBe(DEPOSIT - c);
            expect(await isGone(e.escrow.address)).toBe(true);
        });

        it('RefreshWorker (client or operator only) picks up a rotated key; old-key receipts are then refused', async () => {
            const e = await open();
            const c1 = toNano('0.2');
            await claim(e, await signedReceiptFor(e, w.tee, { seq: 1n, tokens: tokensFor(c1), cost: c1 }));
            // rotate: a newer attestation with a new TEE key, no new stake
            chain.now = chain.now! + 60;
            const tee2 = seededKey('tee2:op1');
            const att = signStatement(makeStatement(net, w.operator.address, tee2), net.verifier);
            const reg = await net.root.send(w.operator.getSender(), { value: toNano('0.3') }, { $$type: 'RegisterWorker', queryId: 2n, stake: 0n, attestation: att.cell });
            expect(reg.transactions).toHaveTransaction({ from: net.root.address, to: w.worker.address, success: true });
            expect((await w.worker.getInfo()).teeKey).toBe(publicKeyToBigInt(tee2.publicKey));

            const stranger = await chain.treasury('stranger');
            let r = await tracked(ledger, chain, () => e.escrow.send(stranger.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_NOT_PARTY) });
            expect((await e.escrow.getState()).teeKey).toBe(publicKeyToBigInt(w.tee.publicKey));

            r = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ from: w.worker.address, to: e.escrow.address, success: true });
            expect((await e.escrow.getState()).teeKey).toBe(publicKeyToBigInt(tee2.publicKey));
            await expectBacked(e, true);

            const c2 = toNano('0.5');
            const stale = await claim(e, await signedReceiptFor(e, w.tee, { seq: 2n, tokens: tokensFor(c2), cost: c2 }));
            expect(stale.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_BAD_RECEIPT_SIG) });
            const ok = await claim(e, await signedReceiptFor(e, tee2, { seq: 2n, tokens: tokensFor(c2), cost: c2 }));
            expect(paymentsTo(ok.payments, w.operator.address, OP.EscrowPayout)[0].amount).toBe((c2 - c1) - (c2 - c1) * feeBps / BPS);
        });

        it('a refresh moves the escrow to a new key even when the worker now charges more than the caps (the caps still bound every claim)', async () => {
            const e = await open('client-rp', DEPOSIT, MAX_PRICE);
            await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices({ prompt: MAX_PRICE * 2n, cached: MAX_PRICE * 2n, completion: MAX_PRICE * 2n }) });
            chain.now = chain.now! + 60;
            const tee2 = seededKey('tee2:op1');
            const att = signStatement(makeStatement(net, w.operator.address, tee2), net.verifier);
            await net.root.send(w.operator.getSender(), { value: toNano('0.3') }, { $$type: 'RegisterWorker', queryId: 2n, stake: 0n, attestation: att.cell });
            const r = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ from: w.worker.address, to: e.escrow.address, success: true });
            const st = await e.escrow.getState();
            expect(st.state).toBe(ESCROW_OPEN);
            expect(st.teeKey).toBe(publicKeyToBigInt(tee2.publicKey));
            expect(plain(st.caps)).toEqual(plain(asPrices(MAX_PRICE)));
            // the worker's higher price never reaches the escrow: a receipt above the caps is refused
            const over = await claim(e, await signedReceiptFor(e, tee2, { seq: 1n, tokens: 1_000_000n, cost: MAX_PRICE + 1n }));
            expect(over.res.transactions).toHaveTransaction({ to: e.escrow.address, exitCode: Number(ERR_PRICE_ABOVE_CAP) });
            await expectBacked(e, true);
        });

        it("the operator may refresh too: its change comes back to it at once, only the query budget's leftover goes to the client", async () => {
            const e = await open();
            const r = await tracked(ledger, chain, () => e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'RefreshWorker', queryId: 0n }));
            expect(r.res.transactions).toHaveTransaction({ from: w.worker.address, to: e.escrow.address, success: true });
            expect(paymentsTo(r.payments, w.operator.address, OP.Excesses)).toHaveLength(1);
            const toClient = paymentsTo(r.payments, e.client.address);
            expect(toClient).toHaveLength(1);
            // the leftover of the fixed query budget: well under a hundredth of a TON
            const leftover = r.res.transactions.find((t) => t.inMessage?.info.dest?.toString() === e.client.address.toString())!.inMessage!.info as any;
            expect(leftover.value.coins).toBeLessThan(toNano('0.01'));
            await expectBacked(e);
        });
    });
});

// Attestation by a quorum of verifiers: the root counts distinct trusted verifier signatures over one
// statement, and the statement's quote facts reach the event and the Worker's getter.
import '@ton/test-utils';
import { beginCell, Cell, toNano } from '@ton/core';
import {
    publicKeyToBigInt, signStatementWith, signedAttestation, signedAttestationCell, registerWorkerRequired, TCB_STATUS,
    ERR_QUORUM_NOT_MET, ERR_DUPLICATE_VERIFIER, ERR_UNTRUSTED_VERIFIER, ERR_BAD_ATTESTATION_SIG, ERR_NOT_OWNER, ERR_BAD_PARAMS,
    ERR_INSUFFICIENT_VALUE, ERR_BAD_STATEMENT, type Ed25519Key, type VerifierSignature,
} from '../src/sdk';
import { Net, createNet, makeStatement, seededKey, governedAll } from './helpers/network';
import { operatorOf, register, balanceOf, workerAttestedEvents, txFromTo, type Operator } from './helpers/rootWorker';

const GOV = toNano('0.05');
const STAKE = toNano('100');
const n = (c: bigint) => Number(c);
const quote = { quoteHash: 0xabcdefn, tcbStatus: TCB_STATUS.SWHardeningNeeded, fmspc: 0x00806f050000n };

describe('verifier quorum', () => {
    let net: Net;
    let v: Ed25519Key[];
    let op: Operator;

    beforeEach(async () => {
        // the fixture's verifier plus two more in the root's genesis: three independent verifiers, all whitelisted
        net = await createNet({ moreVerifiers: [seededKey('verifier-2'), seededKey('verifier-3')] });
        v = [net.verifier, seededKey('verifier-2'), seededKey('verifier-3')];
        op = await operatorOf(net, 'op');
    });

    const setQuorum = (q: number, from = net.owner) =>
        net.root.send(from.getSender(), { value: GOV }, { $$type: 'SetVerifierQuorum', queryId: 0n, quorum: BigInt(q) });
    const statement = () => makeStatement(net, op.wallet.address, op.tee, quote);
    const sign = (keys: Ed25519Key[]) => {
        const s = statement();
        return signedAttestation(s, keys.map((k) => signStatementWith(s, k)));
    };
    const value = (sigs: number) => STAKE + registerWorkerRequired(sigs) + toNano('0.05');

    it('starts at 1; only the owner sets it, within 1..16', async () => {
        expect(await net.root.getVerifierQuorum()).toBe(1n);
        const stranger = await net.chain.treasury('stranger');
        let res = await setQuorum(2, stranger);
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_NOT_OWNER) });
        for (const bad of [0, 17]) {
            res = await setQuorum(bad);
            expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_BAD_PARAMS) });
        }
        expect(await net.root.getVerifierQuorum()).toBe(1n);
        res = await setQuorum(2);
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: true });
        expect(await net.root.getVerifierQuorum()).toBe(2n);
    });

    it('2-of-3: two distinct trusted signatures register; the quote facts reach the event and the getter', async () => {
        await setQuorum(2);
        const a = sign([v[2], v[0]]);
        const res = await register(net, op, a.cell, STAKE, value(2));
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, deploy: true, success: true });
        const info = await op.worker.getInfo();
        expect(info.active).toBe(true);
        expect([info.quoteHash, info.tcbStatus, info.fmspc]).toEqual([quote.quoteHash, BigInt(quote.tcbStatus), quote.fmspc]);
        const ev = workerAttestedEvents(txFromTo(res, net.root.address, op.worker.address));
        expect(ev).toHaveLength(1);
        expect([ev[0].quoteHash, ev[0].tcbStatus, ev[0].expiresAt]).toEqual([quote.quoteHash, BigInt(quote.tcbStatus), BigInt(a.statement.expiresAt)]);
        expect(await net.root.getTotalStake()).toBe(STAKE);
    });

    it('1-of-3 is refused at quorum 2, and the stake comes back', async () => {
        await setQuorum(2);
        const before = await balanceOf(net.chain, op.wallet.address);
        const res = await register(net, op, sign([v[1]]).cell, STAKE, value(1));
        expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: false, exitCode: n(ERR_QUORUM_NOT_MET) });
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.wallet.address, inMessageBounced: true });
        expect(before - (await balanceOf(net.chain, op.wallet.address))).toBeLessThan(toNano('0.05'));
        expect(await net.root.getTotalStake()).toBe(0n);
    });

    it('one key counted twice does not make two (ERR_DUPLICATE_VERIFIER)', async () => {
        await setQuorum(2);
        const s = statement();
        const a = signedAttestation(s, [signStatementWith(s, v[0])]);
        const [one] = a.signatures;
        // the SDK refuses to build such a list; one made by hand repeating the key must fail on-chain
        const entry = (x: VerifierSignature, next: Cell | null) => beginCell().storeUint(x.verifierKey, 256).storeBuffer(x.signature).storeMaybeRef(next).endCell();
        const head = (x: VerifierSignature, next: Cell | null) =>
            beginCell().storeUint(x.verifierKey, 256).storeBuffer(x.signature).storeRef(a.statementCell).storeMaybeRef(next).endCell();
        const forged = head(one, entry(one, null));
        const res = await register(net, op, forged, STAKE, value(2));
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_DUPLICATE_VERIFIER) });
        // a descending list is refused the same way
        const sorted = signedAttestation(s, [signStatementWith(s, v[0]), signStatementWith(s, v[1])]).signatures;
        const desc = head(sorted[1], entry(sorted[0], null));
        const res2 = await register(net, op, desc, STAKE, value(2));
        expect(res2.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_DUPLICATE_VERIFIER) });
        expect(await net.root.getTotalStake()).toBe(0n);
    });

    it('a signature by a removed key does not count; a bad one among good ones fails the whole statement', async () => {
        await setQuorum(2);
        await net.root.send(net.owner.getSender(), { value: GOV }, { $$type: 'RemoveVerifierKey', queryId: 0n, key: publicKeyToBigInt(v[1].publicKey) });
        let res = await register(net, op, sign([v[0], v[1]]).cell, STAKE, value(2));
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_UNTRUSTED_VERIFIER) });
        const s = statement();
        const good = signStatementWith(s, v[0]);
        const bad: VerifierSignature = { ...signStatementWith(s, v[2]), signature: signStatementWith({ ...s, expiresAt: s.expiresAt - 1 }, v[2]).signature };
        res = await register(net, op, signedAttestation(s, [good, bad]).cell, STAKE, value(2));
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_BAD_ATTESTATION_SIG) });
        expect(await net.root.getTotalStake()).toBe(0n);
    });

    it('pays for every extra signature: the exact minimum passes, one nanoton less is refused', async () => {
        await setQuorum(3);
        const a = sign(v);
        const min = STAKE + registerWorkerRequired(3);
        let res = await register(net, op, a.cell, STAKE, min - 1n);
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_INSUFFICIENT_VALUE) });
        res = await register(net, op, a.cell, STAKE, min);
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
        expect((await op.worker.getInfo()).active).toBe(true);
    });

    it('more than 16 signatures are refused (ERR_BAD_STATEMENT)', async () => {
        const keys = Array.from({ length: 17 }, (_, i) => (i < 3 ? v[i] : seededKey('extra-verifier-' + i)));
        await governedAll(net, keys.slice(3).map((k) => ({ kind: 'addVerifierKey' as const, key: publicKeyToBigInt(k.publicKey) })));
        const res = await register(net, op, sign(keys).cell, STAKE, value(17));
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_BAD_STATEMENT) });
    });

    it('raising the quorum leaves registered workers active until their lease ends; renewing needs the new quorum', async () => {
        let res = await register(net, op, sign([v[0]]).cell, STAKE, value(1));
        expect((await op.worker.getInfo()).active).toBe(true);
        await setQuorum(2);
        expect((await op.worker.getInfo()).active).toBe(true);
        net.chain.now = net.chain.now! + 60;
        res = await register(net, op, sign([v[0]]).cell, 0n, value(1));
        expect(res.transactions).toHaveTransaction({ to: net.root.address, success: false, exitCode: n(ERR_QUORUM_NOT_MET) });
        res = await register(net, op, sign([v[0], v[1]]).cell, 0n, value(2));
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, success: true });
        expect((await op.worker.getInfo()).issuedAt).toBe(BigInt(net.chain.now!));
    });
});

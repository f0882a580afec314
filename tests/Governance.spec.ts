// Governance people can trust (issue 17): changes that add power are proposed and act after the
// governance delay, exactly as announced; revocations act at once; the owner can be a multisig; the
// root is upgraded mid-life and every escrow and worker keeps working, to the nanoton.
// docs/SECURITY.md lists the attacks with these tests.
import '@ton/test-utils';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Blockchain, SandboxContract, SendMessageResult, TreasuryContract, internal } from '@ton/sandbox';
import { Address, Builder, Cell, beginCell, contractAddress, external, internal as internalRelaxed, storeMessageRelaxed, storeShardAccount, loadShardAccount, toNano, type StateInit } from '@ton/core';
import { keyPairFromSeed, sign, type KeyPair } from '@ton/crypto';
import { MultisigOrder, MultisigWallet } from '@ton/ton';
import {
    CocoonRoot, Worker, ClientEscrow, changeCell, proposalId, proposalCell, decodeChange, defaultParams, rootFor, publicKeyToBigInt,
    loadProposalCreated, loadProposalExecuted, loadProposalCancelled, loadRootUpgraded, loadRewardsPaid,
    storeSetParams, storeAddMeasurement, storeAddVerifierKey, storeSetVerifierQuorum, storeSetGovernanceDelay, storeUpgradeRoot,
    storeWithdrawTreasury, storePropose, storeExecute, storeCancel, storeSetPaused,
    ERR_NOT_OWNER, ERR_TIMELOCKED, ERR_NOT_PROPOSABLE, ERR_UNKNOWN_PROPOSAL, ERR_TOO_EARLY, ERR_PROPOSAL_EXPIRED,
    ERR_TOO_MANY_PROPOSALS, ERR_DUPLICATE_PROPOSAL, ERR_BAD_DELAY, ERR_BAD_UPGRADE, ERR_UPGRADE_LEDGER, ERR_BAD_PARAMS,
    ERR_PAUSED, ERR_UNKNOWN_MEASUREMENT, ERR_UNTRUSTED_VERIFIER, ERR_QUORUM_NOT_MET, ERR_NOT_WORKER, ERR_UNKNOWN_WORKER_VERSION,
    PROPOSAL_GRACE, MAX_PROPOSALS, MAX_WORKER_VERSIONS, ROOT_VERSION, STATUS_ACTIVE, STATUS_UNBONDING, ESCROW_OPEN, ESCROW_CLOSING, BPS,
    WORKER_STORAGE_RESERVE, emptyWorkerState, storeWorkerState, type GovernanceChange, type Params, type Ed25519Key,
    signStatement, signStatementWith, signedAttestation, SandboxChain, CocoonOps, workerRegistrations, rootWorkerAddresses, listWorkers,
} from '../src/sdk';
import {
    Net, WorkerHandle, EscrowHandle, createNet, registerWorker, openEscrow, signedReceiptFor, claimBody, makeStatement,
    seededKey, governed, GOV_DELAY, MEASUREMENT, MODEL, REGISTER_GAS,
} from './helpers/network';
import { eventsOf, txFromTo } from './helpers/rootWorker';
import { balancesOf, expectBalancesUnchanged, dataHashes, failures, minFor } from './helpers/attacks';
import { Ledger, tracked, paymentsTo, OP } from './helpers/money';
import { compileRootVersion, rootFields, snapshotFields, type RootVersion } from './helpers/rootVersions';

const code = (c: bigint) => Number(c);
const body = (store: (b: Builder) => void) => beginCell().store(store).endCell();
const GOV = toNano('0.1');
const DAY = 86400n;

type Wallet = SandboxContract<TreasuryContract>;

/** Proposes `change` (a change, or a raw cell) from `from`; returns the result and the id the root gives it. */
async function propose(net: Net, change: GovernanceChange | Cell, from: Wallet = net.owner, value = GOV) {
    const cell = change instanceof Cell ? change : changeCell(change);
    const eta = (net.chain.now ?? 0) + Number(await net.root.getGovernanceDelay());
    const res = await from.send({ to: net.root.address, value, bounce: true, body: body(storePropose({ $$type: 'Propose', queryId: 1n, change: cell })) });
    return { res, cell, eta, id: proposalId(eta, cell) };
}

function execute(net: Net, id: bigint, from: Wallet, value = GOV) {
    return from.send({ to: net.root.address, value, bounce: true, body: body(storeExecute({ $$type: 'Execute', queryId: 2n, id })) });
}

function cancel(net: Net, id: bigint, from: Wallet = net.owner) {
    return from.send({ to: net.root.address, value: GOV, bounce: true, body: body(storeCancel({ $$type: 'Cancel', queryId: 3n, id })) });
}

function direct(net: Net, msg: Cell, from: Wallet = net.owner) {
    return from.send({ to: net.root.address, value: GOV, bounce: true, body: msg });
}

const M2 = BigInt('0x' + 'e2'.repeat(32));

// ==================================================================== what waits, what acts at once

describe('timelock: changes that add power wait, revocations act at once', () => {
    let net: Net;
    let stranger: Wallet;

    beforeEach(async () => {
        net = await createNet();
        stranger = await net.chain.treasury('stranger');
    });

    it('every change that adds power, sent directly, is refused (ERR_TIMELOCKED from the owner, ERR_NOT_OWNER from anyone else) and changes nothing', async () => {
        const p = net.params;
        const adding: [string, Cell][] = [
            ['AddMeasurement', body(storeAddMeasurement({ $$type: 'AddMeasurement', queryId: 0n, measurement: M2, model: 'x' }))],
            ['AddVerifierKey', body(storeAddVerifierKey({ $$type: 'AddVerifierKey', queryId: 0n, key: 5n }))],
            ['SetGovernanceDelay', body(storeSetGovernanceDelay({ $$type: 'SetGovernanceDelay', queryId: 0n, delay: 7200n }))],
            ['UpgradeRoot', body(storeUpgradeRoot({ $$type: 'UpgradeRoot', queryId: 0n, version: 2n, code: Cell.EMPTY }))],
            ['SetVerifierQuorum lower (2 -> 1)', body(storeSetVerifierQuorum({ $$type: 'SetVerifierQuorum', queryId: 0n, quorum: 1n }))],
            ...([
                ['raise protocolFeeBps', { protocolFeeBps: p.protocolFeeBps + 1n }],
                ['raise maxPrice', { maxPrice: p.maxPrice + 1n }],
                ['raise maxAttestationTtl', { maxAttestationTtl: p.maxAttestationTtl + 1n }],
                ['lower stakerShareBps', { stakerShareBps: p.stakerShareBps - 1n }],
                ['change minStake (up)', { minStake: p.minStake + 1n }],
                ['change minStake (down)', { minStake: p.minStake - 1n }],
                ['change unbondingPeriod (down)', { unbondingPeriod: p.unbondingPeriod - 1n }],
                ['change disputeWindow (down)', { disputeWindow: p.disputeWindow - 1n }],
                ['change slashBps (down)', { slashBps: p.slashBps - 1n }],
                ['change reporterBountyBps (up)', { reporterBountyBps: p.reporterBountyBps + 1n }],
            ] as [string, Partial<Params>][]).map(([name, over]) => [`SetParams: ${name}`, body(storeSetParams({ $$type: 'SetParams', queryId: 0n, params: { ...p, ...over } }))] as [string, Cell]),
        ];
        // the quorum is 2 for the "lower" case
        await direct(net, body(storeSetVerifierQuorum({ $$type: 'SetVerifierQuorum', queryId: 0n, quorum: 2n })));
        const before = await balancesOf(net.chain, [net.root.address]);
        const data = await dataHashes(net.chain, [net.root.address]);
        const results: SendMessageResult[] = [];
        for (const [name, msg] of adding) {
            const owner = await direct(net, msg);
            const other = await direct(net, msg, stranger);
            results.push(owner, other);
            expect([name, failures(owner)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(ERR_TIMELOCKED), phase: 'compute' }]]);
            expect([name, failures(other)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(ERR_NOT_OWNER), phase: 'compute' }]]);
        }
        await expectBalancesUnchanged(net.chain, before, results);
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
        // an unknown opcode is still Tact's "unknown opcode", for anyone
        const unknown = await direct(net, beginCell().storeUint(0xc0c0015f, 32).endCell());
        expect(failures(unknown)).toEqual([{ to: net.root.address.toString(), exitCode: 130, phase: 'compute' }]);
    });

    it('a proposal is an event with the exact change and its eta; it acts from eta on (not one second before), run by anyone, and the executor gets its change back', async () => {
        const next = { ...net.params, protocolFeeBps: 700n, minStake: toNano('20') };
        const p = await propose(net, { kind: 'setParams', params: next });
        expect(failures(p.res)).toEqual([]);
        const tx = txFromTo(p.res, net.owner.address, net.root.address);
        const [ev] = eventsOf(tx).map((c) => loadProposalCreated(c.beginParse()));
        expect(ev.id).toBe(p.id);
        expect(ev.eta).toBe(BigInt(p.eta));
        expect(ev.change.hash().equals(p.cell.hash())).toBe(true);
        expect(decodeChange(ev.change)).toEqual({ kind: 'setParams', params: next });
        expect(p.id).toBe(BigInt('0x' + proposalCell(p.eta, p.cell).hash().toString('hex')));
        expect(await net.root.getProposal(p.id)).toMatchObject({ eta: BigInt(p.eta) });
        expect([...(await net.root.getProposals()).keys()]).toEqual([p.id]);
        // the owner's change comes back (Excesses); the root keeps nothing of it
        expect(p.res.transactions).toHaveTransaction({ from: net.root.address, to: net.owner.address, op: OP.Excesses });

        net.chain.now = p.eta - 1;
        const early = await execute(net, p.id, stranger);
        expect(failures(early)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_TOO_EARLY), phase: 'compute' }]);
        expect(await net.root.getParams()).toEqual(net.params);

        net.chain.now = p.eta;
        const rootBefore = (await net.chain.getContract(net.root.address)).balance;
        const ok = await execute(net, p.id, stranger);
        expect(failures(ok)).toEqual([]);
        expect(await net.root.getParams()).toEqual(next);
        const etx = txFromTo(ok, stranger.address, net.root.address);
        expect(eventsOf(etx).map((c) => loadProposalExecuted(c.beginParse()).id)).toEqual([p.id]);
        expect(ok.transactions).toHaveTransaction({ from: net.root.address, to: stranger.address, op: OP.Excesses });
        const storage = (etx.description as any).storagePhase?.storageFeesCollected ?? 0n;
        expect((await net.chain.getContract(net.root.address)).balance).toBe(rootBefore - storage);
        expect(await net.root.getProposal(p.id)).toBeNull();
    });

    it('execute twice: the second is refused (ERR_UNKNOWN_PROPOSAL) and changes nothing', async () => {
        const p = await propose(net, { kind: 'addMeasurement', measurement: M2, model: 'qwen' });
        net.chain.now = p.eta;
        expect(failures(await execute(net, p.id, stranger))).toEqual([]);
        expect(await net.root.getModelOf(M2)).toBe('qwen');
        await direct(net, body((b) => b.storeUint(0xc0c00103, 32).storeUint(0, 64).storeUint(M2, 256))); // RemoveMeasurement
        expect(await net.root.getModelOf(M2)).toBeNull();
        const data = await dataHashes(net.chain, [net.root.address]);
        const again = await execute(net, p.id, stranger);
        expect(failures(again)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_UNKNOWN_PROPOSAL), phase: 'compute' }]);
        expect(await net.root.getModelOf(M2)).toBeNull();
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
    });

    it('a forged proposal: executing or cancelling an id never proposed (or the id of an edited change) is refused', async () => {
        const p = await propose(net, { kind: 'addVerifierKey', key: 77n });
        net.chain.now = p.eta;
        const forgedIds = [
            proposalId(p.eta, changeCell({ kind: 'addVerifierKey', key: 78n })),      // another key, same eta
            proposalId(p.eta - 1, p.cell),                                            // the same change, an earlier eta
            BigInt('0x' + p.cell.hash().toString('hex')),                             // the change's own hash
            1n,
        ];
        const data = await dataHashes(net.chain, [net.root.address]);
        for (const id of forgedIds) {
            expect(failures(await execute(net, id, stranger))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_UNKNOWN_PROPOSAL), phase: 'compute' }]);
            expect(failures(await cancel(net, id))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_UNKNOWN_PROPOSAL), phase: 'compute' }]);
        }
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
        expect(await net.root.getIsVerifierKey(78n)).toBe(false);
        expect(failures(await execute(net, p.id, stranger))).toEqual([]);
        expect(await net.root.getIsVerifierKey(77n)).toBe(true);
    });

    it('a stranger can neither propose nor cancel; the owner cancels, and the proposal never acts', async () => {
        const s = await propose(net, { kind: 'addMeasurement', measurement: M2, model: 'evil' }, stranger);
        expect(failures(s.res)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_NOT_OWNER), phase: 'compute' }]);
        const p = await propose(net, { kind: 'addMeasurement', measurement: M2, model: 'qwen' });
        const c1 = await cancel(net, p.id, stranger);
        expect(failures(c1)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_NOT_OWNER), phase: 'compute' }]);
        expect(await net.root.getProposal(p.id)).not.toBeNull();
        const c2 = await cancel(net, p.id);
        expect(failures(c2)).toEqual([]);
        expect(eventsOf(txFromTo(c2, net.owner.address, net.root.address)).map((c) => loadProposalCancelled(c.beginParse()).id)).toEqual([p.id]);
        net.chain.now = p.eta;
        expect(failures(await execute(net, p.id, stranger))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_UNKNOWN_PROPOSAL), phase: 'compute' }]);
        expect(await net.root.getIsMeasurementAllowed(M2)).toBe(false);
    });

    it('nothing can be smuggled between propose and execute: what acts is the stored change, and a change must parse exactly as its message', async () => {
        const announced = { ...net.params, protocolFeeBps: 600n };
        const p = await propose(net, { kind: 'setParams', params: announced });
        // the owner re-proposes another value: a new proposal, with its own id and a later eta
        net.chain.now = p.eta - 10;
        const q = await propose(net, { kind: 'setParams', params: { ...net.params, protocolFeeBps: 9000n } });
        expect(q.id).not.toBe(p.id);
        expect(q.eta).toBe(p.eta - 10 + GOV_DELAY);
        net.chain.now = p.eta;
        // Execute carries only the id: the change executed is the one stored at Propose
        expect(failures(await execute(net, p.id, stranger))).toEqual([]);
        expect((await net.root.getParams()).protocolFeeBps).toBe(600n);
        expect(failures(await execute(net, q.id, stranger))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_TOO_EARLY), phase: 'compute' }]);

        // a change with a bit or a reference more than its message, or an immediate message, or an
        // owner-only message that moves money, cannot be proposed (so it can never run as "executed")
        const withBit = beginCell().storeSlice(changeCell({ kind: 'addVerifierKey', key: 9n }).beginParse()).storeBit(1).endCell();
        const withRef = beginCell().storeSlice(changeCell({ kind: 'addVerifierKey', key: 9n }).beginParse()).storeRef(Cell.EMPTY).endCell();
        const notProposable: [string, Cell][] = [
            ['trailing bit', withBit],
            ['trailing reference', withRef],
            ['WithdrawTreasury', body(storeWithdrawTreasury({ $$type: 'WithdrawTreasury', queryId: 0n, amount: 1n }))],
            ['SetPaused', body(storeSetPaused({ $$type: 'SetPaused', queryId: 0n, paused: true }))],
            ['Propose in a proposal', body(storePropose({ $$type: 'Propose', queryId: 0n, change: p.cell }))],
            ['Execute in a proposal', body(storeExecute({ $$type: 'Execute', queryId: 0n, id: q.id }))],
            ['empty cell', Cell.EMPTY],
        ];
        const data = await dataHashes(net.chain, [net.root.address]);
        for (const [name, cell] of notProposable) {
            const r = await propose(net, cell);
            expect([name, failures(r.res)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(ERR_NOT_PROPOSABLE), phase: 'compute' }]]);
        }
        // values out of range are refused at Propose too
        const bad: [string, GovernanceChange, bigint][] = [
            ['slashBps 0', { kind: 'setParams', params: { ...net.params, slashBps: 0n } }, ERR_BAD_PARAMS],
            ['quorum 0', { kind: 'setVerifierQuorum', quorum: 0n }, ERR_BAD_PARAMS],
            ['quorum 17', { kind: 'setVerifierQuorum', quorum: 17n }, ERR_BAD_PARAMS],
            ['delay under an hour', { kind: 'setGovernanceDelay', delay: 3599n }, ERR_BAD_DELAY],
            ['delay over 30 days', { kind: 'setGovernanceDelay', delay: 30n * 86400n + 1n }, ERR_BAD_DELAY],
            ['upgrade to this version', { kind: 'upgradeRoot', version: ROOT_VERSION, code: Cell.EMPTY }, ERR_BAD_UPGRADE],
        ];
        for (const [name, change, exit] of bad) {
            const r = await propose(net, change);
            expect([name, failures(r.res)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(exit), phase: 'compute' }]]);
        }
        expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
    });

    it('pause and removals act at once while proposals are pending; the pending ones still act later', async () => {
        const k2 = seededKey('verifier-2');
        const addKey = await propose(net, { kind: 'addVerifierKey', key: publicKeyToBigInt(k2.publicKey) });
        const addM = await propose(net, { kind: 'addMeasurement', measurement: M2, model: 'qwen' });
        const raise = await propose(net, { kind: 'setParams', params: { ...net.params, protocolFeeBps: 900n } });
        expect((await net.root.getProposals()).size).toBe(3);
        const w = await registerWorker(net, 'op1');
        const rm = (m: bigint) => direct(net, body((b) => b.storeUint(0xc0c00103, 32).storeUint(0, 64).storeUint(m, 256)));
        const rk = (k: bigint) => direct(net, body((b) => b.storeUint(0xc0c00105, 32).storeUint(0, 64).storeUint(k, 256)));

        // pause: registration stops at once
        expect(failures(await direct(net, body(storeSetPaused({ $$type: 'SetPaused', queryId: 0n, paused: true }))))).toEqual([]);
        const paused = await registerWorker(net, 'op2');
        expect(failures(paused.result)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_PAUSED), phase: 'compute' }]);
        await direct(net, body(storeSetPaused({ $$type: 'SetPaused', queryId: 0n, paused: false })));
        // the measurement in use is removed at once: registering with it stops
        expect(failures(await rm(MEASUREMENT))).toEqual([]);
        const noM = await registerWorker(net, 'op3');
        expect(failures(noM.result)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_UNKNOWN_MEASUREMENT), phase: 'compute' }]);
        // the verifier key is removed at once
        expect(failures(await rk(publicKeyToBigInt(net.verifier.publicKey)))).toEqual([]);
        expect(await net.root.getIsVerifierKey(publicKeyToBigInt(net.verifier.publicKey))).toBe(false);
        // a lower fee and a higher quorum act at once
        expect(failures(await direct(net, body(storeSetParams({ $$type: 'SetParams', queryId: 0n, params: { ...net.params, protocolFeeBps: 100n } }))))).toEqual([]);
        expect((await net.root.getParams()).protocolFeeBps).toBe(100n);
        expect(failures(await direct(net, body(storeSetVerifierQuorum({ $$type: 'SetVerifierQuorum', queryId: 0n, quorum: 3n }))))).toEqual([]);
        expect(await net.root.getVerifierQuorum()).toBe(3n);
        // the deactivation of the revoked measurement's worker acts at once too
        const d = await net.root.send(net.owner.getSender(), { value: toNano('0.2') }, { $$type: 'DeactivateWorker', queryId: 0n, operator: w.operator.address, measurement: MEASUREMENT });
        expect(failures(d)).toEqual([]);
        expect((await w.worker.getInfo()).status).toBe(STATUS_UNBONDING);
        // nothing pending has acted yet
        expect(await net.root.getIsVerifierKey(publicKeyToBigInt(k2.publicKey))).toBe(false);
        expect(await net.root.getIsMeasurementAllowed(M2)).toBe(false);

        net.chain.now = addKey.eta;
        for (const p of [addKey, addM, raise]) expect(failures(await execute(net, p.id, stranger))).toEqual([]);
        expect(await net.root.getIsVerifierKey(publicKeyToBigInt(k2.publicKey))).toBe(true);
        expect(await net.root.getModelOf(M2)).toBe('qwen');
        expect((await net.root.getParams()).protocolFeeBps).toBe(900n);
        // the quorum raised meanwhile still holds: one signature is not enough
        const op4 = await net.chain.treasury('op4');
        const st = makeStatement(net, op4.address, seededKey('tee:op4'), { measurement: M2 });
        const one = signedAttestation(st, [signStatementWith(st, k2)]);
        const r = await net.root.send(op4.getSender(), { value: toNano('100') + REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 0n, stake: toNano('100'), attestation: one.cell });
        expect(failures(r)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_QUORUM_NOT_MET), phase: 'compute' }]);
    });

    it('a proposal acts within 14 days of its eta, not later; at most 16 are pending, expired ones make room; one change twice in a second is one proposal', async () => {
        const p = await propose(net, { kind: 'addVerifierKey', key: 1n });
        const dup = await propose(net, { kind: 'addVerifierKey', key: 1n });
        expect(failures(dup.res)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_DUPLICATE_PROPOSAL), phase: 'compute' }]);
        for (let i = 2; i <= Number(MAX_PROPOSALS); i++) expect(failures((await propose(net, { kind: 'addVerifierKey', key: BigInt(i) })).res)).toEqual([]);
        const full = await propose(net, { kind: 'addVerifierKey', key: 100n });
        expect(failures(full.res)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_TOO_MANY_PROPOSALS), phase: 'compute' }]);

        net.chain.now = p.eta + Number(PROPOSAL_GRACE) + 1;
        const late = await execute(net, p.id, stranger);
        expect(failures(late)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_PROPOSAL_EXPIRED), phase: 'compute' }]);
        expect(await net.root.getIsVerifierKey(1n)).toBe(false);
        // the owner can still withdraw an expired one
        expect(failures(await cancel(net, p.id))).toEqual([]);
        const fresh = await propose(net, { kind: 'addVerifierKey', key: 100n });
        expect(failures(fresh.res)).toEqual([]);
        expect((await net.root.getProposals()).size).toBe(Number(MAX_PROPOSALS));
        // full again: a new proposal drops the expired ones to make room
        const fresh2 = await propose(net, { kind: 'addVerifierKey', key: 101n });
        expect(failures(fresh2.res)).toEqual([]);
        expect([...(await net.root.getProposals()).keys()].sort()).toEqual([fresh.id, fresh2.id].sort());
    });

    it('an Execute that fails (too little gas) leaves the proposal pending; a later one with enough acts', async () => {
        const p = await propose(net, { kind: 'addMeasurement', measurement: M2, model: 'qwen' });
        net.chain.now = p.eta;
        const poor = await execute(net, p.id, stranger, toNano('0.002'));
        expect(failures(poor).length).toBeGreaterThan(0);
        expect(await net.root.getProposal(p.id)).not.toBeNull();
        expect(failures(await execute(net, p.id, stranger))).toEqual([]);
        expect(await net.root.getModelOf(M2)).toBe('qwen');
    });

    it('the delay itself: a new delay is proposed under the old one and applies to proposals made after it', async () => {
        const before = await propose(net, { kind: 'addVerifierKey', key: 1n });
        const d = await propose(net, { kind: 'setGovernanceDelay', delay: 2n * 86400n });
        net.chain.now = d.eta;
        expect(failures(await execute(net, d.id, stranger))).toEqual([]);
        expect(await net.root.getGovernanceDelay()).toBe(2n * 86400n);
        // a proposal made before keeps its eta; one made now waits two days
        expect((await net.root.getProposal(before.id))!.eta).toBe(BigInt(before.eta));
        const after = await propose(net, { kind: 'addVerifierKey', key: 2n });
        expect(after.eta).toBe(d.eta + 2 * 86400);
        net.chain.now = d.eta + 2 * 86400 - 1;
        expect(failures(await execute(net, after.id, stranger))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_TOO_EARLY), phase: 'compute' }]);
        net.chain.now = d.eta + 2 * 86400;
        expect(failures(await execute(net, after.id, stranger))).toEqual([]);
    });
});

// ==================================================================== terms already copied

describe('terms already copied into open escrows and active workers stay as they are', () => {
    it('a fee raise and a slash raise executed after an escrow opened: the escrow keeps its fee, the worker its slash share until it re-attests', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op1');
        const e = await openEscrow(net, w, 'client1');
        const st0 = await e.escrow.getState();
        expect(st0.feeBps).toBe(500n);
        await governed(net, { kind: 'setParams', params: { ...net.params, protocolFeeBps: 2000n, slashBps: 10000n, disputeWindow: 7n * DAY } });
        expect(await net.root.getParams()).toMatchObject({ protocolFeeBps: 2000n, slashBps: 10000n, disputeWindow: 7n * DAY });
        // the escrow's terms are those it opened with
        const st1 = await e.escrow.getState();
        expect([st1.feeBps, st1.disputeWindow, st1.payUntil]).toEqual([st0.feeBps, st0.disputeWindow, st0.payUntil]);
        const r = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: 2_000_000n, cost: toNano('1') });
        const c = await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
        expect(failures(c)).toEqual([]);
        expect((await e.escrow.getState()).feesOwed).toBe(toNano('1') * 500n / BPS);
        // the worker keeps the params of its attestation
        const info = await w.worker.getInfo();
        expect([info.feeBps, info.disputeWindow]).toEqual([500n, 86400n]);
        // closing uses the escrow's own window (1 day), not the new 7 days
        await e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n });
        expect((await e.escrow.getState()).closeAt).toBe(BigInt(net.chain.now!) + 86400n);
        // a re-attestation takes the new params; the open escrow still keeps its own
        const again = signStatement(makeStatement(net, w.operator.address, w.tee), net.verifier);
        await net.root.send(w.operator.getSender(), { value: REGISTER_GAS }, { $$type: 'RegisterWorker', queryId: 0n, stake: 0n, attestation: again.cell });
        expect((await w.worker.getInfo()).feeBps).toBe(2000n);
        expect((await e.escrow.getState()).feeBps).toBe(500n);
    });
});

// ==================================================================== the owner is a multisig

/** TON's standard multisig wallet (the code @ton/ton ships), k of n, in the sandbox. */
class Multisig {
    readonly wallet: MultisigWallet;
    private constructor(readonly chain: Blockchain, readonly keys: KeyPair[], k: number, readonly walletId = 7) {
        this.wallet = new MultisigWallet(keys.map((x) => x.publicKey), 0, walletId, k);
    }

    static async deploy(chain: Blockchain, n: number, k: number, funder: Wallet): Promise<Multisig> {
        const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(Buffer.alloc(32, i + 1)));
        const m = new Multisig(chain, keys, k);
        await funder.send({ to: m.address, value: toNano('10'), init: m.wallet.init as StateInit, bounce: false });
        return m;
    }

    get address(): Address { return this.wallet.address; }

    /** An order of internal messages to `to` (one each), signed by the owners `signers`, sent by the first of them. */
    async order(signers: number[], msgs: { to: Address; value: bigint; body: Cell; init?: StateInit }[]): Promise<SendMessageResult> {
        const queryId = BigInt((this.chain.now ?? 0) + 3600) << 32n | BigInt(Math.floor(Math.random() * 0xffff));
        let payload = beginCell().storeUint(this.walletId, 32).storeUint(queryId, 64);
        for (const m of msgs) {
            payload = payload.storeUint(3, 8).storeRef(beginCell().store(storeMessageRelaxed(internalRelaxed({ to: m.to, value: m.value, body: m.body, init: m.init, bounce: true }))).endCell());
        }
        const order = MultisigOrder.fromPayload(payload.endCell());
        for (const s of signers.slice(1)) order.sign(s, this.keys[s].secretKey);
        const cell = order.toCell(signers[0]);
        const signed = beginCell().storeBuffer(sign(cell.hash(), this.keys[signers[0]].secretKey)).storeSlice(cell.asSlice()).endCell();
        return this.chain.sendMessage(external({ to: this.address, body: signed }));
    }
}

describe('the owner is a multisig (TON standard multisig wallet, 2 of 3)', () => {
    it('proposes and cancels through signed orders; one signature is not enough; anyone executes; revocations act at once', async () => {
        const chain = await Blockchain.create();
        chain.now = 1_800_000_000;
        const funder = await chain.treasury('funder');
        const ms = await Multisig.deploy(chain, 3, 2, funder);
        expect((await chain.getContract(ms.address)).accountState?.type).toBe('active');
        const verifier = seededKey('verifier');
        const root = chain.openContract(await rootFor(ms.address, 1, defaultParams(), 1, {
            governanceDelay: GOV_DELAY, measurements: [[MEASUREMENT, MODEL]], verifierKeys: [publicKeyToBigInt(verifier.publicKey)],
        }));
        // The root's first successful message comes from its owner. The multisig cannot carry the root's
        // whole StateInit in an order (verifying an order that large takes more gas than an external
        // message is credited before the wallet accepts it), so anyone publishes the StateInit (its
        // message fails, the account is initialised with nothing) and the multisig then funds it.
        const pub = await funder.send({ to: root.address, value: toNano('0.01'), init: root.init as StateInit, body: Cell.EMPTY, bounce: false });
        expect(pub.transactions).toHaveTransaction({ from: funder.address, to: root.address, success: false, exitCode: code(ERR_NOT_OWNER) });
        const dep = await ms.order([0, 2], [{ to: root.address, value: toNano('1'), body: Cell.EMPTY }]);
        expect(dep.transactions).toHaveTransaction({ from: ms.address, to: root.address, success: true });
        expect((await root.getOwner()).equals(ms.address)).toBe(true);

        const net: Net = { chain, owner: funder, root, verifier, params: defaultParams() };
        const k2 = publicKeyToBigInt(seededKey('verifier-2').publicKey);
        const change = changeCell({ kind: 'addVerifierKey', key: k2 });
        const proposeBody = body(storePropose({ $$type: 'Propose', queryId: 0n, change }));

        // one owner alone: the order waits for a second signature, nothing reaches the root
        const alone = await ms.order([1], [{ to: root.address, value: GOV, body: proposeBody }]);
        expect(alone.transactions).not.toHaveTransaction({ from: ms.address, to: root.address });
        expect((await root.getProposals()).size).toBe(0);
        // a wallet with the owner's keys but not the owner's address: refused
        const imposter = await chain.treasury('imposter');
        expect(failures(await imposter.send({ to: root.address, value: GOV, body: proposeBody }))).toEqual([{ to: root.address.toString(), exitCode: code(ERR_NOT_OWNER), phase: 'compute' }]);

        const eta = chain.now + GOV_DELAY;
        const two = await ms.order([0, 2], [{ to: root.address, value: GOV, body: proposeBody }]);
        expect(two.transactions).toHaveTransaction({ from: ms.address, to: root.address, success: true });
        const id = proposalId(eta, change);
        expect(await root.getProposal(id)).not.toBeNull();

        // another change proposed, then cancelled by the multisig
        const dropped = changeCell({ kind: 'setGovernanceDelay', delay: 86400n });
        await ms.order([1, 2], [{ to: root.address, value: GOV, body: body(storePropose({ $$type: 'Propose', queryId: 0n, change: dropped })) }]);
        const droppedId = proposalId(eta, dropped);
        expect(await root.getProposal(droppedId)).not.toBeNull();
        const c = await ms.order([0, 1], [{ to: root.address, value: GOV, body: body(storeCancel({ $$type: 'Cancel', queryId: 0n, id: droppedId })) }]);
        expect(c.transactions).toHaveTransaction({ from: ms.address, to: root.address, success: true });
        expect(await root.getProposal(droppedId)).toBeNull();

        // a revocation through the multisig acts at once
        const pause = await ms.order([1, 2], [{ to: root.address, value: GOV, body: body(storeSetPaused({ $$type: 'SetPaused', queryId: 0n, paused: true })) }]);
        expect(pause.transactions).toHaveTransaction({ from: ms.address, to: root.address, success: true });
        expect(await root.getPaused()).toBe(true);

        // anyone executes after the delay (the multisig need not sign anything more)
        chain.now = eta;
        const anyone = await chain.treasury('keeper');
        expect(failures(await execute(net, id, anyone))).toEqual([]);
        expect(await root.getIsVerifierKey(k2)).toBe(true);
        expect(await root.getGovernanceDelay()).toBe(BigInt(GOV_DELAY));
    });
});

// ==================================================================== upgrades

describe('RootSnapshot carries every field of CocoonRoot', () => {
    it('the snapshot struct lists the contract fields (plus version and the Worker code), so an upgrade loses none', () => {
        const root = readFileSync(join(__dirname, '..', 'contracts', 'root.tact'), 'utf8');
        const gov = readFileSync(join(__dirname, '..', 'contracts', 'governance.tact'), 'utf8');
        const fields = rootFields(root).map((f) => f.name);
        expect(fields[0]).toBe('gov'); // first: the root cell's first reference (storedGov)
        expect(snapshotFields(gov).sort()).toEqual([...fields, 'version', 'workerCode', 'workerInitState'].sort());
    });
});

describe('root upgrade mid-life', () => {
    let v2: RootVersion;
    let v3: RootVersion;
    beforeAll(async () => {
        v2 = await compileRootVersion({ version: 2, newWorker: true });
        v3 = await compileRootVersion({ version: 3, newWorker: true });
    }, 180_000);

    const codeOf = async (chain: Blockchain, a: Address) => {
        const st = (await chain.getContract(a)).accountState;
        if (st?.type !== 'active') throw new Error(`${a} is not active`);
        return st.state.code!;
    };
    /** The Worker of `operator` under `root` for a Worker code (its data is (root, operator, ^empty state)). */
    const workerWith = (workerCode: Cell, root: Address, operator: Address) => contractAddress(0, {
        code: workerCode,
        data: beginCell().storeAddress(root).storeAddress(operator).storeRef(beginCell().store(storeWorkerState(emptyWorkerState())).endCell()).endCell(),
    });
    const hashOf = (c: Cell) => BigInt('0x' + c.hash().toString('hex'));

    async function upgradeTo(net: Net, v: RootVersion, version: number, executor: Wallet, ledger: Ledger) {
        const p = await propose(net, { kind: 'upgradeRoot', version: BigInt(version), code: v.root });
        expect(failures(p.res)).toEqual([]);
        net.chain.now = p.eta;
        const t = await tracked(ledger, net.chain, () => execute(net, p.id, executor, toNano('1')));
        expect(failures(t.res)).toEqual([]);
        const ev = eventsOf(txFromTo(t.res, executor.address, net.root.address)).map((c) => c.beginParse()).filter((s) => s.preloadUint(32) === 0xc0c00153).map(loadRootUpgraded);
        expect(ev).toEqual([{ $$type: 'RootUpgraded', fromVersion: BigInt(version - 1), toVersion: BigInt(version), codeHash: hashOf(v.root) }]);
        return t;
    }

    it('with open escrows, active workers and a funded reward pool: everything keeps working through two upgrades (and two new Worker codes), to the nanoton', async () => {
        const net = await createNet();
        const chain = net.chain;
        const root = net.root;
        const w1 = await registerWorker(net, 'op1');
        const w2 = await registerWorker(net, 'op2');
        const e1 = await openEscrow(net, w1, 'client1');
        const e2 = await openEscrow(net, w2, 'client2');
        const claim = async (e: EscrowHandle, w: WorkerHandle, seq: bigint, cost: bigint) => {
            const r = await signedReceiptFor(e, w.tee, { seq, tokens: cost / 100n, cost });
            return e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
        };
        expect(failures(await claim(e1, w1, 1n, toNano('3')))).toEqual([]);   // a 0.15 TON fee: flushed to the root
        expect(failures(await claim(e2, w2, 1n, toNano('1')))).toEqual([]);   // 0.05 TON owed by the escrow
        const funder = await chain.treasury('funder');
        await root.send(funder.getSender(), { value: toNano('10.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('10') });
        const keeper = await chain.treasury('keeper');
        const ledger = new Ledger([root.address, w1.worker.address, w2.worker.address, e1.escrow.address, e2.escrow.address]);

        const rs0 = await root.getRewardState();
        expect(rs0.totalStake).toBe(toNano('200'));
        expect(rs0.rewardPool).toBeGreaterThan(toNano('10'));
        expect(rs0.treasury).toBeGreaterThan(0n);
        const digest0 = await root.getLedgerDigest();
        const children = [w1.worker.address, w2.worker.address, e1.escrow.address, e2.escrow.address];
        const childBalances = await balancesOf(chain, children);
        const childData = await dataHashes(chain, children);
        const pending1 = await w1.worker.getPendingRewards(rs0.acc);
        const pending2 = await w2.worker.getPendingRewards(rs0.acc);
        const v1Worker = await codeOf(chain, w1.worker.address);

        // ---- v1 -> v2 (another Worker code)
        const rootBefore = (await chain.getContract(root.address)).balance;
        const up = await upgradeTo(net, v2, 2, keeper, ledger);
        const utx = txFromTo(up.res, keeper.address, root.address);
        const storage = (utx.description as any).storagePhase?.storageFeesCollected ?? 0n;
        // the executor paid for everything: the root keeps its balance, plus what the gas of the new code's
        // first transaction (its own ProtocolFee of nothing, carried by the executor's value) left over
        const self = txFromTo(up.res, root.address, root.address);
        const selfValue = self.inMessage!.info.type === 'internal' ? self.inMessage!.info.value.coins : 0n;
        expect((await chain.getContract(root.address)).balance).toBe(rootBefore - storage + selfValue - self.totalFees.coins);
        expect((await codeOf(chain, root.address)).hash().equals(v2.root.hash())).toBe(true);
        // the upgrade left [not initialised][^RootSnapshot] as the new code's data and sent it a ProtocolFee of
        // nothing, whose transaction ran the new code's init (the migration) and stored its fields
        expect(up.res.transactions).toHaveTransaction({ from: root.address, to: root.address, op: 0xc0c00112, success: true });
        const raw = (await chain.getContract(root.address)).accountState;
        const data = raw?.type === 'active' ? raw.state.data! : Cell.EMPTY;
        expect(data.beginParse().preloadBit()).toBe(true);
        expect(await root.getVersion()).toBe(2n);
        expect(await root.getRewardState()).toEqual(rs0);
        expect(await root.getLedgerDigest()).toBe(digest0);
        expect(await root.getTotalStake()).toBe(toNano('200'));
        expect((await root.getOwner()).equals(net.owner.address)).toBe(true);
        expect(await root.getModelOf(MEASUREMENT)).toBe(MODEL);
        expect(await root.getGovernanceDelay()).toBe(BigInt(GOV_DELAY));
        expect((await root.getProposals()).size).toBe(0);
        // the children were not touched
        await expectBalancesUnchanged(chain, childBalances);
        expect(await dataHashes(chain, children)).toEqual(childData);
        // clients find both Worker codes: the new one for new registrations, the earlier one for op1's Worker
        const addrs1 = await root.getWorkerAddressesOf(w1.operator.address);
        expect(addrs1.size).toBe(2);
        expect(addrs1.get(hashOf(v1Worker))!.equals(w1.worker.address)).toBe(true);
        expect(addrs1.get(hashOf(v2.worker))!.equals(workerWith(v2.worker, root.address, w1.operator.address))).toBe(true);
        expect((await root.getWorkerAddressOf(w1.operator.address)).equals(workerWith(v2.worker, root.address, w1.operator.address))).toBe(true);

        // ---- the first message from outside comes from a Worker of the earlier code: op1 unbonds
        let t = await tracked(ledger, chain, () => w1.worker.send(w1.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        expect(await root.getTotalStake()).toBe(toNano('100'));
        expect((await w1.worker.getInfo()).status).toBe(STATUS_UNBONDING);
        // a wallet is still no Worker
        const fake = await chain.treasury('fake');
        const forged = await root.send(fake.getSender(), { value: toNano('0.1') }, { $$type: 'StakeDown', amount: toNano('100'), queryId: 0n, operator: w2.operator.address, slashed: 0n, changeTo: null });
        expect(failures(forged)).toEqual([{ to: root.address.toString(), exitCode: code(ERR_NOT_WORKER), phase: 'compute' }]);

        // op2 claims its rewards (RewardSync and PayRewards from a Worker of the earlier code)
        t = await tracked(ledger, chain, () => w2.worker.send(w2.operator.getSender(), { value: toNano('0.1') }, { $$type: 'ClaimRewards', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        const paid2 = paymentsTo(t.payments, w2.operator.address, OP.RewardsPaid);
        expect(paid2.map((p) => p.amount)).toEqual([pending2]);
        expect((await root.getRewardState()).rewardPool).toBe(rs0.rewardPool - pending2);
        // and tops its stake up (StakeUp)
        t = await tracked(ledger, chain, () => w2.worker.send(w2.operator.getSender(), { value: toNano('10.1') }, { $$type: 'TopUpStake', queryId: 0n, amount: toNano('10') }));
        expect(failures(t.res)).toEqual([]);
        expect(await root.getTotalStake()).toBe(toNano('110'));
        expect((await w2.worker.getInfo()).stake).toBe(toNano('110'));

        // the escrows claim (the fees reach the new root), close and withdraw
        const rs1 = await root.getRewardState();
        t = await tracked(ledger, chain, () => claim(e1, w1, 2n, toNano('4')));   // 1 TON more: a 0.05 fee, owed
        expect(failures(t.res)).toEqual([]);
        t = await tracked(ledger, chain, () => claim(e2, w2, 2n, toNano('2')));   // 1 TON more: 0.1 owed -> flushed
        expect(failures(t.res)).toEqual([]);
        const flushed = toNano('0.1');
        const toStakers = flushed * net.params.stakerShareBps / BPS;
        const rs2 = await root.getRewardState();
        expect(rs2.treasury - rs1.treasury).toBe(flushed - toStakers);
        expect(rs2.rewardPool - rs1.rewardPool).toBe(toStakers);
        for (const e of [e1, e2]) {
            t = await tracked(ledger, chain, () => e.escrow.send(e.client.getSender(), { value: toNano('0.05') }, { $$type: 'CloseEscrow', queryId: 0n }));
            expect(failures(t.res)).toEqual([]);
            expect((await e.escrow.getState()).state).toBe(ESCROW_CLOSING);
        }
        chain.now = chain.now! + Number(net.params.disputeWindow);
        const e1Deposit = (await e1.escrow.getState()).deposit;
        t = await tracked(ledger, chain, () => e1.escrow.send(e1.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        expect(paymentsTo(t.payments, e1.client.address, OP.EscrowRefund).map((p) => p.amount)).toEqual([e1Deposit]);
        expect(e1Deposit).toBe(toNano('5') - toNano('4'));
        const rs3 = await root.getRewardState();
        expect(rs3.treasury + rs3.rewardPool - rs2.treasury - rs2.rewardPool).toBe(toNano('0.05'));   // e1's owed fee, flushed at withdrawal
        t = await tracked(ledger, chain, () => e2.escrow.send(e2.client.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawEscrow', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        expect(paymentsTo(t.payments, e2.client.address, OP.EscrowRefund).map((p) => p.amount)).toEqual([toNano('3')]);

        // ---- a new operator registers under v2: it gets a Worker of the new code
        const w3 = await registerWorker(net, 'op3', toNano('50'));
        const w3addr = workerWith(v2.worker, root.address, w3.operator.address);
        expect(w3.result.transactions).toHaveTransaction({ from: root.address, to: w3addr, deploy: true, success: true });
        expect((await codeOf(chain, w3addr)).hash().equals(v2.worker.hash())).toBe(true);
        const worker3 = chain.openContract(Worker.fromAddress(w3addr));
        expect((await worker3.getInfo()).active).toBe(true);
        expect(await root.getTotalStake()).toBe(toNano('160'));
        const w3h: WorkerHandle = { ...w3, worker: worker3 };
        const e3 = await openEscrow(net, w3h, 'client3');
        expect((await e3.escrow.getState()).state).toBe(ESCROW_OPEN);
        ledger.add(w3addr);
        ledger.add(e3.escrow.address);
        t = await tracked(ledger, chain, () => claim(e3, w3h, 1n, toNano('1')));
        expect(failures(t.res)).toEqual([]);
        await root.send(funder.getSender(), { value: toNano('5.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('5') });

        // ---- v2 -> v3 (a third Worker code): op2's and op3's Workers are both of earlier codes now
        const rs4 = await root.getRewardState();
        await upgradeTo(net, v3, 3, keeper, ledger);
        expect(await root.getVersion()).toBe(3n);
        expect(await root.getRewardState()).toEqual(rs4);
        const addrs3 = await root.getWorkerAddressesOf(w3.operator.address);
        expect(new Set([...addrs3.keys()])).toEqual(new Set([hashOf(v1Worker), hashOf(v2.worker), hashOf(v3.worker)]));
        const pending3 = await worker3.getPendingRewards(rs4.acc);
        expect(pending3).toBeGreaterThan(0n);
        t = await tracked(ledger, chain, () => worker3.send(w3.operator.getSender(), { value: toNano('0.1') }, { $$type: 'ClaimRewards', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        expect(paymentsTo(t.payments, w3.operator.address, OP.RewardsPaid).map((p) => p.amount)).toEqual([pending3]);
        t = await tracked(ledger, chain, () => w2.worker.send(w2.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n }));
        expect(failures(t.res)).toEqual([]);
        expect(await root.getTotalStake()).toBe(toNano('50'));

        // ---- revocation of a Worker of an earlier code: the owner deactivates op3's v2 Worker at once
        await root.send(net.owner.getSender(), { value: GOV }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement: MEASUREMENT });
        const unknownCode = await root.send(net.owner.getSender(), { value: toNano('0.2') }, { $$type: 'DeactivateLegacyWorker', queryId: 0n, operator: w3.operator.address, measurement: MEASUREMENT, workerCode: 5n });
        expect(failures(unknownCode)).toEqual([{ to: root.address.toString(), exitCode: code(ERR_UNKNOWN_WORKER_VERSION), phase: 'compute' }]);
        const byStranger = await root.send(keeper.getSender(), { value: toNano('0.2') }, { $$type: 'DeactivateLegacyWorker', queryId: 0n, operator: w3.operator.address, measurement: MEASUREMENT, workerCode: hashOf(v2.worker) });
        expect(failures(byStranger)).toEqual([{ to: root.address.toString(), exitCode: code(ERR_NOT_OWNER), phase: 'compute' }]);
        t = await tracked(ledger, chain, () => root.send(net.owner.getSender(), { value: toNano('0.2') }, { $$type: 'DeactivateLegacyWorker', queryId: 0n, operator: w3.operator.address, measurement: MEASUREMENT, workerCode: hashOf(v2.worker) }));
        expect(failures(t.res)).toEqual([]);
        expect((await worker3.getInfo()).status).toBe(STATUS_UNBONDING);
        expect(await root.getTotalStake()).toBe(0n);

        // ---- everyone takes their stake out
        chain.now = chain.now! + Number(net.params.unbondingPeriod) + 8 * 86400;
        for (const [w, wallet, amount] of [[w1.worker, w1.operator, toNano('100')], [w2.worker, w2.operator, toNano('110')], [worker3, w3.operator, toNano('50')]] as const) {
            t = await tracked(ledger, chain, () => w.send(wallet.getSender(), { value: toNano('0.05') }, { $$type: 'WithdrawStake', queryId: 0n }));
            expect(failures(t.res)).toEqual([]);
            expect(paymentsTo(t.payments, wallet.address, OP.StakeWithdrawn).map((p) => p.amount)).toEqual([amount]);
            expect((await w.getInfo()).unbonding).toBe(0n);
            expect((await chain.getContract(w.address)).balance).toBeLessThanOrEqual(WORKER_STORAGE_RESERVE);
        }
        // op1 claims what it earned before it unbonded, from the v3 root
        const rsEnd = await root.getRewardState();
        const owed1 = await w1.worker.getPendingRewards(rsEnd.acc);
        expect(owed1).toBe(pending1);
        t = await tracked(ledger, chain, () => w1.worker.send(w1.operator.getSender(), { value: toNano('0.1') }, { $$type: 'ClaimRewards', queryId: 0n }));
        expect(paymentsTo(t.payments, w1.operator.address, OP.RewardsPaid).map((p) => p.amount)).toEqual([owed1]);
        const rsFinal = await root.getRewardState();
        expect(rsFinal.rewardPool).toBe(rsEnd.rewardPool - owed1);
        expect(rsFinal.totalStake).toBe(0n);
        // the root still holds the pool and the treasury
        expect((await chain.getContract(root.address)).balance).toBeGreaterThan(rsFinal.rewardPool + rsFinal.treasury);
    });

    it('an upgrade whose migration would lose or misplace funds is refused: nothing moves (to the nanoton), the proposal stays, the owner cancels it', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op1');
        const e = await openEscrow(net, w, 'client1');
        const r = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: 30_000_000n, cost: toNano('3') });
        await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r));
        const funder = await net.chain.treasury('funder');
        await net.root.send(funder.getSender(), { value: toNano('10.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('10') });
        const rs = await net.root.getRewardState();
        expect(rs.treasury).toBeGreaterThan(0n);
        const keeper = await net.chain.treasury('keeper');
        const bugs: [string, string][] = [
            ['the treasury lost', 'self.rewards.treasury = 0;'],
            ['the treasury moved into the stakers\' pool', 'self.rewards.rewardPool = self.rewards.rewardPool + self.rewards.treasury; self.rewards.treasury = 0;'],
            ['one nanoton of the pool lost', 'self.rewards.rewardPool = self.rewards.rewardPool - 1;'],
            ['the stake total lost', 'self.rewards.totalStake = 0;'],
            ['another owner', 'self.owner = myAddress();'],
        ];
        const honest = [net.root.address, w.worker.address, e.escrow.address, w.operator.address, e.client.address, net.owner.address];
        const codeHash = async () => {
            const st = (await net.chain.getContract(net.root.address)).accountState;
            return st?.type === 'active' ? st.state.code!.hash().toString('hex') : null;
        };
        const rootCode = await codeHash();
        for (const [name, bug] of bugs) {
            const v = await compileRootVersion({ version: 2, newWorker: true, migrationExtra: `        ${bug}` });
            const p = await propose(net, { kind: 'upgradeRoot', version: 2n, code: v.root });
            expect(failures(p.res)).toEqual([]);
            net.chain.now = p.eta;
            const before = await balancesOf(net.chain, honest);
            const data = await dataHashes(net.chain, [net.root.address, w.worker.address, e.escrow.address]);
            const res = await execute(net, p.id, keeper, toNano('1'));
            expect([name, failures(res)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(ERR_UPGRADE_LEDGER), phase: 'compute' }]]);
            await expectBalancesUnchanged(net.chain, before, [res]);
            expect(await dataHashes(net.chain, [net.root.address, w.worker.address, e.escrow.address])).toEqual(data);
            expect(await net.root.getVersion()).toBe(1n);
            expect(await net.root.getRewardState()).toEqual(rs);
            expect(await net.root.getProposal(p.id)).not.toBeNull();
            expect(failures(await cancel(net, p.id))).toEqual([]);
        }
        expect(await codeHash()).toBe(rootCode);
        // and the root still works: a claim's fee still reaches it
        const r2 = await signedReceiptFor(e, w.tee, { seq: 2n, tokens: 40_000_000n, cost: toNano('4') });
        expect(failures(await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r2)))).toEqual([]);
    });

    it('an upgrade to code that is no root of the next version (reports another version, cannot read the snapshot) is refused with ERR_BAD_UPGRADE', async () => {
        const net = await createNet();
        const keeper = await net.chain.treasury('keeper');
        const liar = await compileRootVersion({ version: 2, reportVersion: 3 });
        const today = (await net.chain.getContract(net.root.address)).accountState;
        const todaysCode = today?.type === 'active' ? today.state.code! : Cell.EMPTY;
        const codes: [string, Cell][] = [
            ['a version 2 that says it is 3', liar.root],
            ["today's root (version 1, which cannot read a snapshot)", todaysCode],
            ['a Worker', v2.worker],
            ['an empty cell', Cell.EMPTY],
        ];
        for (const [name, c] of codes) {
            const p = await propose(net, { kind: 'upgradeRoot', version: 2n, code: c });
            net.chain.now = p.eta;
            const data = await dataHashes(net.chain, [net.root.address]);
            const res = await execute(net, p.id, keeper, toNano('1'));
            expect([name, failures(res)]).toEqual([name, [{ to: net.root.address.toString(), exitCode: code(ERR_BAD_UPGRADE), phase: 'compute' }]]);
            expect(await dataHashes(net.chain, [net.root.address])).toEqual(data);
            expect(await net.root.getVersion()).toBe(1n);
            await cancel(net, p.id);
        }
    });
});

describe('Workers of earlier codes pay their own way', () => {
    it(`with ${Number(MAX_WORKER_VERSIONS)} earlier Worker codes, the oldest one's Workers still unbond and claim rewards at the exact entry minimum; a successor with more is refused`, async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op1');
        const funder = await net.chain.treasury('funder');
        await net.root.send(funder.getSender(), { value: toNano('10.1') }, { $$type: 'FundRewards', queryId: 0n, amount: toNano('10') });
        // version 2 keeps MAX_WORKER_VERSIONS - 1 more earlier codes, all with smaller hashes: the root tries them first
        const fillers = Array.from({ length: Number(MAX_WORKER_VERSIONS) - 1 }, (_, i) =>
            `        g.legacyWorkers.set(${i + 1}, WorkerVersion { code: beginCell().storeUint(${i}, 8).endCell(), initState: emptyCell() }.toCell());`).join('\n');
        const extra = `        let g = GovState.fromCell(self.gov);\n${fillers}\n        g.workerVersions += ${Number(MAX_WORKER_VERSIONS) - 1};\n        self.gov = g.toCell();`;
        const v = await compileRootVersion({ version: 2, newWorker: true, migrationExtra: extra });
        const keeper = await net.chain.treasury('keeper');
        const p = await propose(net, { kind: 'upgradeRoot', version: 2n, code: v.root });
        net.chain.now = p.eta;
        expect(failures(await execute(net, p.id, keeper, toNano('1')))).toEqual([]);
        expect((await net.root.getWorkerAddressesOf(w.operator.address)).size).toBe(Number(MAX_WORKER_VERSIONS) + 1);

        const claim = await w.worker.send(w.operator.getSender(), { value: minFor(net.chain, 'claimRewards') }, { $$type: 'ClaimRewards', queryId: 0n });
        expect(failures(claim)).toEqual([]);
        expect(claim.transactions).toHaveTransaction({ from: net.root.address, to: w.operator.address, op: OP.RewardsPaid });
        const unbond = await w.worker.send(w.operator.getSender(), { value: minFor(net.chain, 'unbond') }, { $$type: 'Unbond', queryId: 0n });
        expect(failures(unbond)).toEqual([]);
        expect(await net.root.getTotalStake()).toBe(0n);
        expect((await w.worker.getInfo()).rewardStake).toBe(0n);

        // one more earlier code would be too many: the next version cannot take the state over, and the upgrade is refused
        const v3 = await compileRootVersion({ version: 3, newWorker: true });
        const q = await propose(net, { kind: 'upgradeRoot', version: 3n, code: v3.root });
        net.chain.now = q.eta;
        expect(failures(await execute(net, q.id, keeper, toNano('1')))).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_BAD_UPGRADE), phase: 'compute' }]);
        expect(await net.root.getVersion()).toBe(2n);
    });
});

describe('a message that reaches the upgraded root before its first transaction', () => {
    it('a Worker of the earlier code is still recognised while the data is [not initialised][^RootSnapshot], and the new code takes the state over then', async () => {
        const net = await createNet();
        const chain = net.chain;
        const w = await registerWorker(net, 'op1');
        const v2 = await compileRootVersion({ version: 2, newWorker: true });
        const keeper = await chain.treasury('keeper');
        const p = await propose(net, { kind: 'upgradeRoot', version: 2n, code: v2.root });
        chain.now = p.eta;
        // run the Execute, keep the root's account as that transaction left it, let the rest run
        let envelope: Cell | null = null;
        const iter = await chain.sendMessageIter(internal({ from: keeper.address, to: net.root.address, value: toNano('1'), body: body(storeExecute({ $$type: 'Execute', queryId: 0n, id: p.id })) }));
        for await (const tx of iter) {
            if (envelope === null && tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(net.root.address)) {
                envelope = beginCell().store(storeShardAccount((await chain.getContract(net.root.address)).account)).endCell();
            }
        }
        // as if a Worker's message had overtaken the root's own first message
        await chain.setShardAccount(net.root.address, loadShardAccount(envelope!.beginParse()));
        const state = (await chain.getContract(net.root.address)).accountState;
        const data = state?.type === 'active' ? state.state.data! : Cell.EMPTY;
        expect([data.bits.length, data.refs.length]).toEqual([1, 1]);
        expect(await net.root.getTotalStake()).toBe(toNano('100'));     // the getters run the new code's init
        const unbond = await w.worker.send(w.operator.getSender(), { value: toNano('0.1') }, { $$type: 'Unbond', queryId: 0n });
        expect(failures(unbond)).toEqual([]);
        expect(await net.root.getTotalStake()).toBe(0n);
        expect((await w.worker.getInfo()).rewardStake).toBe(0n);
        const after = (await chain.getContract(net.root.address)).accountState;
        expect(after?.type === 'active' && after.state.data!.beginParse().preloadBit()).toBe(true);
        expect(await net.root.getVersion()).toBe(2n);
        // and a wallet is still no Worker
        const fake = await chain.treasury('fake');
        const forged = await net.root.send(fake.getSender(), { value: toNano('0.1') }, { $$type: 'StakeUp', amount: toNano('1'), queryId: 0n, operator: w.operator.address });
        expect(failures(forged)).toEqual([{ to: net.root.address.toString(), exitCode: code(ERR_NOT_WORKER), phase: 'compute' }]);
    });
});

describe('clients and the SDK find Workers of every code the root accepts', () => {
    it('after an upgrade that changed the Worker code: workerOf finds the deployed earlier Worker, listWorkers lists both kinds, deactivateWorker names the earlier code, a re-registration without stake is explained', async () => {
        const net = await createNet();
        const chain = new SandboxChain(net.chain);
        const w1 = await registerWorker(net, 'op1');
        await w1.worker.send(w1.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://one.example:8443' });
        const v2 = await compileRootVersion({ version: 2, newWorker: true });
        // the upgrade through the SDK: what it attaches covers the event carrying the code, and the execution
        const gov = new CocoonOps(chain, net.owner.getSender(), net.root.address);
        const up = await gov.proposeUpgrade(2, v2.root);
        expect(up.description).toBe(`upgradeRoot to version 2, code ${v2.root.hash().toString('hex')}`);
        await expect(gov.execute(up.id)).rejects.toThrow(/too early/);
        net.chain.now = up.eta;
        const keeper = await net.chain.treasury('keeper');
        await gov.as(keeper.getSender()).execute(up.id);
        expect(await net.root.getVersion()).toBe(2n);
        const regs: SendMessageResult[] = [];
        const w2 = await registerWorker(net, 'op2');
        regs.push(w1.result, w2.result);
        const w2addr = await net.root.getWorkerAddressOf(w2.operator.address);
        expect(w2.result.transactions).toHaveTransaction({ from: net.root.address, to: w2addr, deploy: true, success: true });
        const worker2 = net.chain.openContract(Worker.fromAddress(w2addr));
        await worker2.send(w2.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: 'https://two.example:8443' });

        const ops = new CocoonOps(chain, w1.operator.getSender(), net.root.address);
        expect((await ops.workerOf(w1.operator.address)).equals(w1.worker.address)).toBe(true);   // deployed, earlier code
        expect((await ops.workerOf(w2.operator.address)).equals(w2addr)).toBe(true);
        const both = await ops.workersOf(w1.operator.address);
        expect(both.map((x) => [x.current, x.deployed])).toEqual([[true, false], [false, true]]);

        // the SDK's own derivation knows only the code it ships; the root's getter knows both
        const txs = regs.flatMap((r) => r.transactions);
        expect((await workerRegistrations(txs, net.root.address)).map((r) => r.worker.toString())).toEqual([w1.worker.address.toString()]);
        const all = await workerRegistrations(txs, net.root.address, rootWorkerAddresses(chain, net.root.address));
        expect(all.map((r) => r.worker.toString())).toEqual([w1.worker.address.toString(), w2addr.toString()]);
        const listed = await listWorkers(chain, net.root.address, txs, { model: MODEL });
        expect(listed.map((l) => l.worker.toString()).sort()).toEqual([w1.worker.address.toString(), w2addr.toString()].sort());

        // op1 re-attesting without stake: its Worker is of the earlier code, the SDK says what to do
        const again = signStatement(makeStatement(net, w1.operator.address, w1.tee, { issuedAt: net.chain.now! }), net.verifier);
        await expect(ops.registerWorker(again, 0n)).rejects.toThrow(/is of an earlier Worker code; the root now deploys a new Worker for you/);

        // the owner deactivates op1's Worker of the earlier code through the SDK
        await gov.removeMeasurement(MEASUREMENT);
        const d = await gov.deactivateWorker(w1.operator.address, MEASUREMENT);
        expect(d.worker.equals(w1.worker.address)).toBe(true);
        expect(d.status).toEqual({ before: STATUS_ACTIVE, after: STATUS_UNBONDING });
        const sent = gov.lastTransactions.map((tx) => tx.inMessage?.body.beginParse()).filter((b) => b && b.remainingBits >= 32).map((b) => b!.preloadUint(32));
        expect(sent).toContain(0xc0c00145);   // DeactivateLegacyWorker, not DeactivateWorker
        expect(sent).not.toContain(0xc0c00109);
        expect(await net.root.getTotalStake()).toBe(toNano('100'));
    });
});

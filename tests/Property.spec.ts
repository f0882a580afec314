// Property test: random sequences of escrow, reward, stake and slashing operations across 3 workers
// and 3 clients, on a snapshot of a deployed network. Escrows open with random caps per token class,
// workers set random prices per class, and receipts carry random mixes of prompt, cached and
// completion tokens. After every step: conservation of value across
// our contracts, no receipt paid twice, no claim above the deposit, rewards paid <= rewards funded,
// every contract holds at least what it accounts for.
import '@ton/test-utils';
import fc from 'fast-check';
import { Blockchain, BlockchainSnapshot, BlockchainTransaction, SandboxContract, TreasuryContract, internal } from '@ton/sandbox';
import { Address, Builder, Cell, beginCell, toNano } from '@ton/core';
import {
    ClientEscrow, escrowForOpening, signReceipt, loadFundRewards, loadProtocolFee,
    storeClaim, storeOpenEscrow, storeTopUpEscrow, storeCloseEscrow, storeWithdrawEscrow, storeFundRewards,
    storeClaimRewards, storeUnbond, storeWithdrawStake, storeSlashProof, storeRegisterWorker, storeRefreshWorker,
    storeDropInactive, storeDeactivateWorker, signStatement, publicKeyToBigInt, type Ed25519Key,
    ESCROW_OPEN, ESCROW_CLOSING, type EscrowState, type SignedUsageReceipt, storeSetPrice, asPrices, capCost,
    type ClassTokens, type PriceSet,
} from '../src/sdk';
import { createNet, registerWorker, seededKey, claimBody, makeStatement, governed, Net, WorkerHandle, CLIENT_KEY, REGISTER_GAS, MEASUREMENT, MODEL } from './helpers/network';
import { Ledger, tracked, OP, slashProofBody, equivocatingPair, Payment } from './helpers/money';

const RUNS = Number(process.env.COCOON_PROPERTY_RUNS ?? 200);
// random unless given; named in every failure of the coverage checks below, so that a run can be replayed
const SEED = process.env.COCOON_PROPERTY_SEED ? Number(process.env.COCOON_PROPERTY_SEED) : Math.floor(Math.random() * 2 ** 31);
const BPS = 10000n;
const SCALE = 10n ** 18n;
const NW = 3;
const NC = 3;
const DEPOSITS = [toNano('0.5'), toNano('2'), toNano('7')];
// the client's cap per class: prompt and completion from CAPS, cached from CACHED_CAPS (0: free)
const CAPS = [toNano('0.1'), toNano('0.5'), toNano('1')];
const CACHED_CAPS = [0n, toNano('0.02'), toNano('0.5')];
// a worker's price per class (above the root's maxPrice of 1 TON: SetPrice is refused)
const WORKER_PRICES = [0n, toNano('0.05'), toNano('0.4'), toNano('1.2')];
// how a receipt's new tokens split across the classes (weights for prompt, cached, completion)
const MIXES: [bigint, bigint, bigint][] = [[1n, 0n, 0n], [0n, 1n, 0n], [0n, 0n, 1n], [3n, 1n, 1n], [1n, 4n, 2n], [0n, 2n, 5n]];
const capsOf = (p: [number, number, number]): PriceSet => ({ prompt: CAPS[p[0]], cached: CACHED_CAPS[p[1]], completion: CAPS[p[2]] });
const add = (t: ClassTokens, w: [bigint, bigint, bigint], k: bigint): ClassTokens =>
    ({ promptTokens: t.promptTokens + w[0] * k, cachedTokens: t.cachedTokens + w[1] * k, completionTokens: t.completionTokens + w[2] * k });
const COST_STEPS = [0n, 1n, toNano('0.05'), toNano('0.3'), toNano('1.5'), toNano('4')];
const TIME_JUMPS = [60, 3600, 86401, 7 * 86400 + 1];
const RESTAKES = [0n, toNano('10'), toNano('25')];
const FUNDS = [1n, 12345n, toNano('0.3'), toNano('2')];

type Op =
    | { k: 'open'; w: number; c: number; d: number; p: [number, number, number] }
    | { k: 'setPrice'; w: number; p: [number, number, number] }
    | { k: 'topUp'; w: number; c: number; d: number }
    | { k: 'claim'; w: number; c: number; step: number; mix: number; kind: 'valid' | 'forged' | 'replay' | 'overCap' | 'oldEpoch'; relayer: boolean; value: number }
    | { k: 'close'; w: number; c: number }
    | { k: 'withdraw'; w: number; c: number }
    | { k: 'fund'; a: number }
    | { k: 'claimRewards'; w: number }
    | { k: 'unbond'; w: number }
    | { k: 'withdrawStake'; w: number }
    | { k: 'slash'; w: number; retired: boolean }
    | { k: 'rotate'; w: number }
    | { k: 'register'; w: number; s: number }
    | { k: 'refresh'; w: number; c: number }
    | { k: 'dropInactive'; w: number }
    | { k: 'deactivate'; w: number }
    | { k: 'time'; j: number };

// a claim's value: the SDK's ample default, about the plain claim's gas alone, and too little for it
const CLAIM_VALUES = [toNano('0.1'), toNano('0.0031'), toNano('0.001')];
const wI = fc.integer({ min: 0, max: NW - 1 });
const cI = fc.integer({ min: 0, max: NC - 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 2, arbitrary: fc.record({ k: fc.constant('open' as const), w: wI, c: cI, d: fc.integer({ min: 0, max: 2 }), p: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('setPrice' as const), w: wI, p: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 })) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('topUp' as const), w: wI, c: cI, d: fc.integer({ min: 0, max: 2 }) }) },
    {
        weight: 6, arbitrary: fc.record({
            k: fc.constant('claim' as const), w: wI, c: fc.constantFrom(0, 0, 1, 1, 2), step: fc.integer({ min: 0, max: COST_STEPS.length - 1 }), mix: fc.integer({ min: 0, max: MIXES.length - 1 }),
            kind: fc.constantFrom('valid' as const, 'valid' as const, 'valid' as const, 'forged' as const, 'replay' as const, 'overCap' as const, 'oldEpoch' as const),
            relayer: fc.boolean(),
            // the attached value (CLAIM_VALUES): mostly enough; sometimes only the claim's gas, or less
            // (the operator's own claim checks none: too little must cost only the sender)
            value: fc.constantFrom(0, 0, 0, 1, 1, 2),
        }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), w: wI, c: cI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('withdraw' as const), w: wI, c: cI }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('fund' as const), a: fc.integer({ min: 0, max: FUNDS.length - 1 }) }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('claimRewards' as const), w: wI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('unbond' as const), w: wI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('withdrawStake' as const), w: wI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('slash' as const), w: wI, retired: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('rotate' as const), w: wI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('register' as const), w: wI, s: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('refresh' as const), w: wI, c: cI }) },
    // weight 2: it goes through only on an active worker whose lease has run out, before anything renews
    // it (5 to 10 times in 200 sequences: more tries after each lapse for the coverage check below)
    { weight: 2, arbitrary: fc.record({ k: fc.constant('dropInactive' as const), w: wI }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('deactivate' as const), w: wI }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('time' as const), j: fc.integer({ min: 0, max: TIME_JUMPS.length - 1 }) }) },
);

// What the worker's TEE has signed for one escrow epoch, and what the escrow paid against it.
interface EpochModel {
    epoch: bigint;
    seq: bigint;
    tokens: ClassTokens;   // cumulative tokens per class the TEE signed in this epoch
    cost: bigint;          // highest cost the TEE signed in this epoch
    last: SignedUsageReceipt | null;
    toOperator: bigint;    // sum of EscrowPayout amounts
    fees: bigint;          // sum of protocol fees withheld
}

function opcodeOf(tx: BlockchainTransaction): number | null {
    const m = tx.inMessage;
    if (!m || m.info.type !== 'internal') return null;
    const s = m.body.beginParse();
    return s.remainingBits >= 32 ? s.loadUint(32) : null;
}

const body = (store: (b: Builder) => void): Cell => beginCell().store(store).endCell();

function succeeded(tx: BlockchainTransaction): boolean {
    const d: any = tx.description;
    return d.type === 'generic' && !d.aborted && d.computePhase.type === 'vm' && d.computePhase.success;
}

describe('money paths under random sequences', () => {
    let net: Net;
    let chain: Blockchain;
    let ws: WorkerHandle[];
    let clients: SandboxContract<TreasuryContract>[];
    let escrows: SandboxContract<ClientEscrow>[][];
    let relayer: SandboxContract<TreasuryContract>;
    let funder: SandboxContract<TreasuryContract>;
    let reporter: SandboxContract<TreasuryContract>;
    let snap: BlockchainSnapshot;
    let ledger: Ledger;
    const forger = seededKey('forger');

    beforeAll(async () => {
        net = await createNet();
        chain = net.chain;
        // the slim config (the same prices, fewer parameters) makes every emulated transaction cheaper
        chain.setConfig('slim');
        chain.verbosity = { print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false };
        ws = [];
        for (let i = 0; i < NW; i++) ws.push(await registerWorker(net, 'op' + i, toNano(String(20 + 15 * i))));
        clients = [];
        escrows = [];
        for (let c = 0; c < NC; c++) clients.push(await chain.treasury('client' + c));
        for (let w = 0; w < NW; w++) {
            escrows.push([]);
            for (let c = 0; c < NC; c++) escrows[w].push(chain.openContract(await escrowForOpening(ws[w].worker.address, clients[c].address)));
        }
        relayer = await chain.treasury('relayer');
        funder = await chain.treasury('funder');
        reporter = await chain.treasury('reporter');
        ledger = new Ledger([net.root.address, ...ws.map((w) => w.worker.address), ...escrows.flat().map((e) => e.address)]);
        // start with the first two clients' escrows open at every worker
        for (let w = 0; w < NW; w++) {
            for (let c = 0; c < 2; c++) {
                await escrows[w][c].send(clients[c].getSender(), { value: DEPOSITS[1] + toNano('0.2') }, { $$type: 'OpenEscrow', queryId: 0n, deposit: DEPOSITS[1], caps: asPrices(capsOf([1, 1, 1])), clientKey: CLIENT_KEY, root: net.root.address });
                expect((await escrows[w][c].getState()).state).toBe(ESCROW_OPEN);
            }
        }
        snap = chain.snapshot();
    });

    // Wallet messages go in directly as internal messages (no wallet transaction to emulate).
    function sendFrom(from: Address, to: SandboxContract<any>, value: bigint, b: Cell) {
        return async () => {
            const acct = await chain.getContract(to.address);
            const stateInit = acct.accountState?.type === 'active' ? undefined : to.init;
            return chain.sendMessage(internal({ from, to: to.address, value, body: b, stateInit, bounce: true }));
        };
    }

    async function stateOf(w: number, c: number): Promise<EscrowState | null> {
        const acct = await chain.getContract(escrows[w][c].address);
        if (acct.accountState?.type !== 'active') return null;
        return escrows[w][c].getState();
    }

    it(`keeps every nanoton accounted for (${RUNS} sequences)`, async () => {
        let steps = 0;
        let payoutsSeen = 0;
        let mixedPaid = 0;
        let lowValuePaid = 0;      // operator claims with only about their gas attached that paid
        let lowValueFailed = 0;    // claims with too little value for their gas (nothing moved)
        const okSteps = new Map<string, number>();
        const cpu0 = process.cpuUsage();
        const wall0 = Date.now();
        await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 8, maxLength: 12 }), async (ops) => {
            await chain.loadFrom(snap);
            const models = new Map<string, EpochModel>();
            let intoPool = 0n;
            let rewardsPaid = 0n;
            let rs = await net.root.getRewardState();
            const pool0 = rs.rewardPool;
            const cache = new Map<string, EscrowState | null>();
            const cachedState = async (w: number, c: number) => {
                const key = `${w}:${c}`;
                if (!cache.has(key)) cache.set(key, await stateOf(w, c));
                return cache.get(key)!;
            };
            const refresh = async (w: number, c: number) => {
                const st = await stateOf(w, c);
                cache.set(`${w}:${c}`, st);
                return st;
            };

            const modelFor = (w: number, c: number, st: EscrowState | null): EpochModel | null => {
                if (!st || (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING)) return null;
                const key = `${w}:${c}`;
                let m = models.get(key);
                if (!m || m.epoch !== st.epoch) {
                    m = { epoch: st.epoch, seq: st.lastSeq, tokens: { promptTokens: st.lastTokens, cachedTokens: 0n, completionTokens: 0n }, cost: st.lastCost, last: null, toOperator: 0n, fees: 0n };
                    // the snapshot's escrows start fresh: nothing paid yet
                    expect(st.paid).toBe(0n);
                    models.set(key, m);
                }
                return m;
            };

            // every TEE key each worker has had in this sequence (the first is the fixture's)
            const keysOf: Ed25519Key[][] = ws.map((w) => [w.tee]);
            const keyByPub = (w: number, pub: bigint) => keysOf[w].find((k) => publicKeyToBigInt(k.publicKey) === pub);
            let keyCounter = 0;
            const attest = (w: number, tee: Ed25519Key) => signStatement(makeStatement(net, ws[w].operator.address, tee, { issuedAt: chain.now! + steps }), net.verifier).cell;

            for (const op of ops) {
                steps++;
                const totalStakeBefore = rs.totalStake;
                let touched: [number, number] | null = null;
                let before: EscrowState | null = null;
                let model: EpochModel | null = null;
                let send: () => Promise<any>;
                let validReceipt = false;

                switch (op.k) {
                    case 'open': {
                        touched = [op.w, op.c];
                        const deposit = DEPOSITS[op.d];
                        send = sendFrom(clients[op.c].address, escrows[op.w][op.c], deposit + toNano('0.2'), body(storeOpenEscrow({ $$type: 'OpenEscrow', queryId: 0n, deposit, caps: asPrices(capsOf(op.p)), clientKey: CLIENT_KEY, root: net.root.address })));
                        break;
                    }
                    case 'setPrice': {
                        const prices = asPrices({ prompt: WORKER_PRICES[op.p[0]], cached: WORKER_PRICES[op.p[1]], completion: WORKER_PRICES[op.p[2]] });
                        send = sendFrom(ws[op.w].operator.address, ws[op.w].worker, toNano('0.05'), body(storeSetPrice({ $$type: 'SetPrice', queryId: 0n, prices })));
                        break;
                    }
                    case 'topUp': {
                        touched = [op.w, op.c];
                        const amount = DEPOSITS[op.d];
                        send = sendFrom(clients[op.c].address, escrows[op.w][op.c], amount + toNano('0.05'), body(storeTopUpEscrow({ $$type: 'TopUpEscrow', queryId: 0n, amount })));
                        break;
                    }
                    case 'claim': {
                        touched = [op.w, op.c];
                        before = await cachedState(op.w, op.c);
                        model = modelFor(op.w, op.c, before);
                        const e = escrows[op.w][op.c];
                        // the key the escrow holds (a receipt by any other key is a forgery to it)
                        const tee = (before && keyByPub(op.w, before.teeKey)) ?? ws[op.w].tee;
                        let r: SignedUsageReceipt;
                        if (!model || !before) {
                            r = signReceipt({ escrow: e.address, epoch: 0n, seq: 1n, promptTokens: 1_000_000n, cachedTokens: 0n, completionTokens: 0n, cost: 1n }, tee);
                        } else if (op.kind === 'replay' && model.last) {
                            r = model.last;
                            // a receipt the TEE signed that no claim has settled yet (its claim failed: too
                            // little value) is no replay: it is still owed
                            if (r.receipt.seq > before.lastSeq) validReceipt = true;
                        } else if (op.kind === 'oldEpoch') {
                            r = signReceipt({ escrow: e.address, epoch: model.epoch - 1n, seq: model.seq + 1n, ...add(model.tokens, MIXES[op.mix], 1_000_000n), cost: model.cost + 1n }, tee);
                        } else {
                            const cost = model.cost + COST_STEPS[op.step];
                            // the fewest tokens of this mix that make the cost fit the caps: sum(T x cap) >= cost x 1e6
                            const caps = before.caps;
                            let mix = MIXES[op.mix];
                            if (mix[0] * caps.prompt + mix[1] * caps.cached + mix[2] * caps.completion === 0n) mix = [0n, 0n, 1n];
                            const per = mix[0] * caps.prompt + mix[1] * caps.cached + mix[2] * caps.completion;
                            const have = model.tokens.promptTokens * caps.prompt + model.tokens.cachedTokens * caps.cached + model.tokens.completionTokens * caps.completion;
                            const short = cost * 1_000_000n - have;
                            const tokens = add(model.tokens, mix, short > 0n ? (short + per - 1n) / per : 0n);
                            expect(capCost(tokens, caps)).toBeGreaterThanOrEqual(cost);
                            if (op.kind === 'forged') {
                                r = signReceipt({ escrow: e.address, epoch: model.epoch, seq: model.seq + 1n, ...tokens, cost }, forger);
                            } else if (op.kind === 'overCap') {
                                // a nanoton above the caps of these tokens (of this mix)
                                const t = add(model.tokens, mix, 1_000_000n);
                                const over = capCost(t, caps) + 1n;
                                r = signReceipt({ escrow: e.address, epoch: model.epoch, seq: model.seq + 1n, ...t, cost: over > model.cost ? over : model.cost + 1n }, tee);
                            } else {
                                // the TEE signs it: this is now a valid receipt of this epoch
                                r = signReceipt({ escrow: e.address, epoch: model.epoch, seq: model.seq + 1n, ...tokens, cost }, tee);
                                model.seq += 1n;
                                model.tokens = tokens;
                                model.cost = cost;
                                model.last = r;
                                validReceipt = true;
                            }
                        }
                        const via = op.relayer ? relayer : ws[op.w].operator;
                        send = sendFrom(via.address, e, CLAIM_VALUES[op.value], body(storeClaim(claimBody(r))));
                        break;
                    }
                    case 'close':
                        touched = [op.w, op.c];
                        send = sendFrom(clients[op.c].address, escrows[op.w][op.c], toNano('0.05'), body(storeCloseEscrow({ $$type: 'CloseEscrow', queryId: 0n })));
                        break;
                    case 'withdraw':
                        touched = [op.w, op.c];
                        send = sendFrom(clients[op.c].address, escrows[op.w][op.c], toNano('0.05'), body(storeWithdrawEscrow({ $$type: 'WithdrawEscrow', queryId: 0n })));
                        break;
                    case 'fund': {
                        const amount = FUNDS[op.a];
                        send = sendFrom(funder.address, net.root, amount + toNano('0.05'), body(storeFundRewards({ $$type: 'FundRewards', queryId: 0n, amount })));
                        break;
                    }
                    case 'claimRewards':
                        send = sendFrom(ws[op.w].operator.address, ws[op.w].worker, toNano('0.2'), body(storeClaimRewards({ $$type: 'ClaimRewards', queryId: 0n })));
                        break;
                    case 'unbond':
                        send = sendFrom(ws[op.w].operator.address, ws[op.w].worker, toNano('0.2'), body(storeUnbond({ $$type: 'Unbond', queryId: 0n })));
                        break;
                    case 'withdrawStake':
                        send = sendFrom(ws[op.w].operator.address, ws[op.w].worker, toNano('0.05'), body(storeWithdrawStake({ $$type: 'WithdrawStake', queryId: 0n })));
                        break;
                    case 'slash': {
                        // by the key in force, or by an earlier one (accountable or not)
                        const keys = keysOf[op.w];
                        const key = op.retired && keys.length > 1 ? keys[keys.length - 2] : keys[keys.length - 1];
                        const [a, b] = equivocatingPair(escrows[op.w][0].address, 1n, key, BigInt(steps));
                        send = sendFrom(reporter.address, ws[op.w].worker, toNano('0.2'), body(storeSlashProof(slashProofBody(a, b, key))));
                        break;
                    }
                    case 'rotate': {
                        const tee = seededKey(`prop-key-${op.w}-${++keyCounter}`);
                        keysOf[op.w].push(tee);
                        send = sendFrom(ws[op.w].operator.address, net.root, REGISTER_GAS, body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 0n, stake: 0n, attestation: attest(op.w, tee) })));
                        break;
                    }
                    case 'register': {
                        // a fresh key with stake: comes back after a slash, an unbond or a deactivation
                        const tee = seededKey(`prop-key-${op.w}-${++keyCounter}`);
                        keysOf[op.w].push(tee);
                        const stake = RESTAKES[op.s];
                        send = sendFrom(ws[op.w].operator.address, net.root, stake + REGISTER_GAS, body(storeRegisterWorker({ $$type: 'RegisterWorker', queryId: 0n, stake, attestation: attest(op.w, tee) })));
                        break;
                    }
                    case 'refresh':
                        touched = [op.w, op.c];
                        send = sendFrom(clients[op.c].address, escrows[op.w][op.c], toNano('0.1'), body(storeRefreshWorker({ $$type: 'RefreshWorker', queryId: 0n })));
                        break;
                    case 'dropInactive':
                        send = sendFrom(relayer.address, ws[op.w].worker, toNano('0.1'), body(storeDropInactive({ $$type: 'DropInactive', queryId: 0n })));
                        break;
                    case 'deactivate': {
                        // governance revokes the measurement, deactivates this worker, and whitelists it again
                        await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'RemoveMeasurement', queryId: 0n, measurement: MEASUREMENT });
                        send = sendFrom(net.owner.address, net.root, toNano('0.2'), body(storeDeactivateWorker({ $$type: 'DeactivateWorker', queryId: 0n, operator: ws[op.w].operator.address, measurement: MEASUREMENT })));
                        break;
                    }
                    case 'time':
                        chain.now = chain.now! + TIME_JUMPS[op.j];
                        continue;
                }
                if (op.k !== 'claim' && touched) before = await cachedState(touched[0], touched[1]);

                // conservation is asserted inside tracked()
                const t = await tracked(ledger, chain, send!);
                // whitelisting it again is timelocked: proposed, then executed an hour (the fixture's delay) later
                if (op.k === 'deactivate') await governed(net, { kind: 'addMeasurement', measurement: MEASUREMENT, model: MODEL });
                const pays: Payment[] = t.payments;

                // how often each kind of step went through on every contract it reached (the property
                // must exercise the paths, not only refusals)
                const ourTxs = ledger.ourTransactions(t.res.transactions);
                if (ourTxs.length > 0 && ourTxs.every(succeeded)) okSteps.set(op.k, (okSteps.get(op.k) ?? 0) + 1);

                // money into the reward pool in this step
                for (const tx of ledger.ourTransactions(t.res.transactions)) {
                    const dest = (tx.inMessage!.info as any).dest as Address;
                    if (!dest.equals(net.root.address) || !succeeded(tx)) continue;
                    const opc = opcodeOf(tx);
                    if (opc === 0xc0c00111) intoPool += loadFundRewards(tx.inMessage!.body.beginParse()).amount;
                    if (opc === OP.ProtocolFee && totalStakeBefore > 0n) {
                        intoPool += loadProtocolFee(tx.inMessage!.body.beginParse()).amount * net.params.stakerShareBps / BPS;
                    }
                }
                for (const p of pays) if (p.op === OP.RewardsPaid) rewardsPaid += p.amount!;

                // escrow payouts: only on a claim, only to the operator, within the deposit and the receipt
                const after = touched ? await refresh(touched[0], touched[1]) : null;
                const escrowPayouts = pays.filter((p) => p.op === OP.EscrowPayout);
                for (const p of escrowPayouts) {
                    expect(touched).not.toBeNull();
                    expect(p.from.equals(escrows[touched![0]][touched![1]].address)).toBe(true);
                    expect(p.to.equals(ws[touched![0]].operator.address)).toBe(true);
                }
                if (op.k === 'claim') {
                    if (escrowPayouts.length > 0) {
                        expect(escrowPayouts).toHaveLength(1);
                        expect(validReceipt).toBe(true);
                        const payout = after!.paid - before!.paid;
                        expect(payout).toBeGreaterThanOrEqual(0n);
                        expect(payout).toBeLessThanOrEqual(before!.deposit);
                        const fee = payout * before!.feeBps / BPS;
                        expect(escrowPayouts[0].amount).toBe(payout - fee);
                        expect(after!.deposit).toBe(before!.deposit - payout);
                        model!.toOperator += payout - fee;
                        model!.fees += fee;
                        // what was paid for fits the caps of the tokens it names, class by class
                        const rr = model!.last!.receipt;
                        expect(rr.cost).toBeLessThanOrEqual(capCost(rr, before!.caps));
                        if ([rr.promptTokens, rr.cachedTokens, rr.completionTokens].filter((x) => x > 0n).length >= 2) mixedPaid++;
                        if (op.value === 1) lowValuePaid++;
                    } else if (after && before) {
                        // refused (or no claimable state): nothing moved
                        expect(after.paid).toBe(before.paid);
                        expect(after.deposit).toBe(before.deposit);
                        if (op.value === 2 && validReceipt) lowValueFailed++;
                    }
                    if (!validReceipt && after && before) expect(after.paid).toBe(before.paid);
                    if (after && model && after.epoch === model.epoch) {
                        // no receipt paid twice: all payouts of this epoch add up to `paid`, which never
                        // exceeds the highest cost the TEE signed
                        expect(model.toOperator + model.fees).toBe(after.paid);
                        expect(after.paid).toBeLessThanOrEqual(model.cost);
                    }
                    payoutsSeen += escrowPayouts.length;
                }
                // an escrow opens only against a worker within the client's caps in every class
                if (op.k === 'open' && after && after.state === ESCROW_OPEN && (!before || before.state !== ESCROW_OPEN)) {
                    const wp = (await ws[op.w].worker.getInfo()).prices;
                    const caps = capsOf(op.p);
                    expect([wp.prompt <= caps.prompt, wp.cached <= caps.cached, wp.completion <= caps.completion]).toEqual([true, true, true]);
                }
                // refunds go to the escrow's own client only
                for (const p of pays.filter((x) => x.op === OP.EscrowRefund)) {
                    expect(touched).not.toBeNull();
                    expect(p.to.equals(clients[touched![1]].address)).toBe(true);
                    if (op.k === 'withdraw' && before) expect(p.amount).toBe(before.deposit);
                    if (op.k === 'open') expect(p.amount).toBe(DEPOSITS[op.d]);
                }

                // rewards paid never exceed rewards funded; the pool covers everything owed
                expect(rewardsPaid).toBeLessThanOrEqual(intoPool + pool0);
                // the root's state and balance change only in its own transactions: re-read it when it ran
                const rootRan = ledger.ourTransactions(t.res.transactions).some((tx) => ((tx.inMessage!.info as any).dest as Address).equals(net.root.address));
                if (rootRan) rs = await net.root.getRewardState();
                expect(rs.rewardPool).toBe(pool0 + intoPool - rewardsPaid);
                // the root holds at least treasury + reward pool
                expect((await chain.getContract(net.root.address)).balance).toBeGreaterThanOrEqual(rs.treasury + rs.rewardPool);
                // the touched escrow holds at least what it accounts for
                if (touched && after) {
                    expect((await chain.getContract(escrows[touched[0]][touched[1]].address)).balance).toBeGreaterThanOrEqual(after.deposit + after.feesOwed);
                }
            }

            // end of the sequence: workers hold their principal, the pool covers every worker's
            // pending rewards, and the root's total stake is the sum of what the workers count
            let owed = 0n;
            let counted = 0n;
            for (const w of ws) {
                const st = await w.worker.getState();
                // only stake behind a statement in force counts for rewards, and never less than minStake
                if (st.rewardStake > 0n) {
                    expect(st.status).toBe(1n);
                    expect(st.teeKey).not.toBe(0n);
                    expect(st.rewardStake).toBeGreaterThanOrEqual(net.params.minStake);
                }
                owed += st.accrued + st.rewardStake * (rs.acc - st.checkpoint) / SCALE;
                counted += st.rewardStake;
                const bal = (await chain.getContract(w.worker.address)).balance;
                expect(bal).toBeGreaterThanOrEqual(st.stake + st.pending + st.unbonding);
            }
            expect(owed).toBeLessThanOrEqual(rs.rewardPool);
            expect(counted).toBe(rs.totalStake);
        }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
        if (process.env.COCOON_PROPERTY_TIMING) {
            const cpu = process.cpuUsage(cpu0);
            console.log(`property: ${RUNS} sequences, ${steps} steps, ${payoutsSeen} payouts, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, wall ${((Date.now() - wall0) / 1000).toFixed(1)} s`);
        }
        expect(steps).toBeGreaterThan(RUNS * 8 - 1);
        expect(payoutsSeen).toBeGreaterThan(0);
        // receipts with several token classes were paid, not only single-class ones
        expect(mixedPaid).toBeGreaterThan(0);
        // the value dimension was exercised both ways
        expect({ seed: SEED, lowValuePaid: lowValuePaid > 0, lowValueFailed: lowValueFailed > 0 }).toEqual({ seed: SEED, lowValuePaid: true, lowValueFailed: true });
        // the key-lifecycle steps went through (not only refusals)
        for (const k of ['rotate', 'register', 'refresh', 'dropInactive', 'deactivate', 'slash', 'setPrice', 'open']) {
            expect([k, (okSteps.get(k) ?? 0) > 0, SEED]).toEqual([k, true, SEED]);
        }
        if (process.env.COCOON_PROPERTY_TIMING) {
            console.log('steps that went through:', Object.fromEntries(okSteps), { lowValuePaid, lowValueFailed, seed: SEED });
        }
    });
});

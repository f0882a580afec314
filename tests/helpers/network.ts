// A sandbox network for tests: root deployed with default params, one measurement and one verifier
// key whitelisted, helpers to register workers and open escrows.
import { Blockchain, SandboxContract, TreasuryContract, SendMessageResult } from '@ton/sandbox';
import { Address, toNano, Cell } from '@ton/core';
import { createHash, randomBytes } from 'node:crypto';
import {
    CocoonRoot, Worker, ClientEscrow, Params,
    defaultParams, rootFor, workerFor, escrowForOpening,
    keyFromSeed, Ed25519Key, publicKeyToBigInt, signStatement, Statement, SignedStatement, NO_QUOTE,
    signReceipt, UsageReceipt, SignedUsageReceipt, asPrices, type PriceSet, type ClassTokens,
    changeCell, proposalId, type GovernanceChange,
} from '../../src/sdk';

export const MODEL = 'llama-3-8b-instruct';
export const MEASUREMENT = BigInt('0x' + createHash('sha256').update('cocoon-worker-image:v1|' + MODEL).digest('hex'));

export function seededKey(label: string): Ed25519Key {
    return keyFromSeed(createHash('sha256').update('cocoon-test:' + label).digest());
}

export interface Net {
    chain: Blockchain;
    owner: SandboxContract<TreasuryContract>;
    root: SandboxContract<CocoonRoot>;
    verifier: Ed25519Key;
    params: Params;
}

/** The fixture's governance delay: the minimum, so that a governed change moves the clock by one hour only. */
export const GOV_DELAY = 3600;

/** A root deployed with the fixture's measurement and verifier key in its genesis (its StateInit). */
export async function createNet(opts: { params?: Partial<Params>; networkId?: number; governanceDelay?: number; moreVerifiers?: Ed25519Key[]; moreMeasurements?: [bigint, string][] } = {}): Promise<Net> {
    const chain = await Blockchain.create();
    chain.now = 1_800_000_000;
    const owner = await chain.treasury('owner');
    const params = defaultParams(opts.params as any);
    const verifier = seededKey('verifier');
    const root = chain.openContract(await rootFor(owner.address, opts.networkId ?? 1, params, 1, {
        governanceDelay: opts.governanceDelay ?? GOV_DELAY,
        measurements: [[MEASUREMENT, MODEL], ...(opts.moreMeasurements ?? [])],
        verifierKeys: [verifier, ...(opts.moreVerifiers ?? [])].map((k) => publicKeyToBigInt(k.publicKey)),
    }));
    const dep = await root.send(owner.getSender(), { value: toNano('1') }, null);
    expect(dep.transactions).toHaveTransaction({ to: root.address, deploy: true, success: true });
    return { chain, owner, root, verifier, params };
}

/**
 * A change that adds power, the way governance makes it: the owner proposes it, the clock moves past
 * the governance delay, and anyone (here the owner) executes it. Returns the three results.
 */
export async function governed(net: Net, change: GovernanceChange, from: SandboxContract<TreasuryContract> = net.owner) {
    const [r] = await governedAll(net, [change], from);
    return r;
}

/** Several changes proposed together and executed after one wait. */
export async function governedAll(net: Net, changes: GovernanceChange[], from: SandboxContract<TreasuryContract> = net.owner) {
    const eta = (net.chain.now ?? 0) + Number(await net.root.getGovernanceDelay());
    const cells = changes.map((c, i) => changeCell(c, BigInt(i)));
    const proposed: SendMessageResult[] = [];
    for (const cell of cells) {
        const r = await net.root.send(from.getSender(), { value: toNano('0.1') }, { $$type: 'Propose', queryId: 0n, change: cell });
        expect(r.transactions).toHaveTransaction({ to: net.root.address, success: true });
        proposed.push(r);
    }
    net.chain.now = eta;
    const out: { proposed: SendMessageResult; executed: SendMessageResult }[] = [];
    for (const [i, cell] of cells.entries()) {
        const executed = await net.root.send(from.getSender(), { value: toNano('0.1') }, { $$type: 'Execute', queryId: 0n, id: proposalId(eta, cell) });
        expect(executed.transactions).toHaveTransaction({ to: net.root.address, success: true });
        out.push({ proposed: proposed[i], executed });
    }
    return out;
}

export interface WorkerHandle {
    operator: SandboxContract<TreasuryContract>;
    worker: SandboxContract<Worker>;
    tee: Ed25519Key;
    attestation: SignedStatement;
}

export function makeStatement(net: Net, operator: Address, tee: Ed25519Key, over: Partial<Statement> = {}): Statement {
    const now = net.chain.now ?? Math.floor(Date.now() / 1000);
    return {
        root: net.root.address, operator, expiresAt: now + 7 * 86400, issuedAt: now,
        teeKey: publicKeyToBigInt(tee.publicKey), measurement: MEASUREMENT,
        tlsKeyHash: BigInt('0x' + createHash('sha256').update('tls:' + operator.toString()).digest('hex')),
        ...NO_QUOTE,
        ...over,
    };
}

export const REGISTER_GAS = toNano('0.2');

export async function registerWorker(net: Net, name: string, stake = toNano('100'), over: Partial<Statement> = {}): Promise<WorkerHandle & { result: SendMessageResult }> {
    const operator = await net.chain.treasury(name);
    const tee = seededKey('tee:' + name);
    const worker = net.chain.openContract(await workerFor(net.root.address, operator.address));
    const attestation = signStatement(makeStatement(net, operator.address, tee, over), net.verifier);
    const result = await net.root.send(operator.getSender(), { value: stake + REGISTER_GAS }, {
        $$type: 'RegisterWorker', queryId: 1n, stake, attestation: attestation.cell,
    });
    return { operator, worker, tee, attestation, result };
}

export interface EscrowHandle {
    client: SandboxContract<TreasuryContract>;
    escrow: SandboxContract<ClientEscrow>;
    result: SendMessageResult;
}

/** The ed25519 key a test client signs its API keys with (its escrows hold the public half). */
export function clientKeyOf(clientName: string): Ed25519Key {
    return seededKey('client-key:' + clientName);
}

/** A client public key for messages built by hand (any non-zero key will do on-chain). */
export const CLIENT_KEY = publicKeyToBigInt(clientKeyOf('default').publicKey);

/**
 * Opens `clientName`'s escrow with the worker: `maxPrice` caps every token class (one number) or
 * each class; the escrow names `root` (default: the network's root).
 */
export async function openEscrow(net: Net, w: WorkerHandle, clientName: string, deposit = toNano('5'), maxPrice: bigint | PriceSet = toNano('0.5'), root: Address = net.root.address): Promise<EscrowHandle> {
    const client = await net.chain.treasury(clientName);
    const escrow = net.chain.openContract(await escrowForOpening(w.worker.address, client.address));
    const result = await escrow.send(client.getSender(), { value: deposit + toNano('0.2') }, {
        $$type: 'OpenEscrow', queryId: 1n, deposit, caps: asPrices(maxPrice), clientKey: publicKeyToBigInt(clientKeyOf(clientName).publicKey), root,
    });
    return { client, escrow, result };
}

/**
 * Receipt totals in tests: the three classes, or `tokens` as a shorthand for that many prompt tokens
 * (the other classes 0; with one cap for every class it is the single-price receipt of before).
 */
export type TestTotals = { seq: bigint; cost: bigint } & (ClassTokens | { tokens: bigint });

export function classesOf(r: ClassTokens | { tokens: bigint }): ClassTokens {
    if ('tokens' in r) return { promptTokens: r.tokens, cachedTokens: 0n, completionTokens: 0n };
    return { promptTokens: r.promptTokens, cachedTokens: r.cachedTokens, completionTokens: r.completionTokens };
}

/** A UsageReceipt from test totals (see TestTotals). */
export function usage(escrow: Address, epoch: bigint, r: TestTotals): UsageReceipt {
    return { escrow, epoch, seq: r.seq, ...classesOf(r), cost: r.cost };
}

export async function signedReceiptFor(e: EscrowHandle, tee: Ed25519Key, r: TestTotals & { epoch?: bigint }): Promise<SignedUsageReceipt> {
    const st = await e.escrow.getState();
    return signReceipt(usage(e.escrow.address, r.epoch ?? st.epoch, r), tee);
}

export function claimBody(s: SignedUsageReceipt) {
    return { $$type: 'Claim' as const, queryId: 0n, signature: s.signature.subarray(0), receipt: s.cell };
}

export { randomBytes, Cell };

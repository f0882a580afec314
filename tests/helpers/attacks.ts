// Helpers of the adversarial suite (tests/Security.spec.ts): balance snapshots, the contracts' fee
// minimums (the SDK's mirror, under the sandbox's config), exit codes of a flow, signature tampering.
import { Blockchain, SendMessageResult } from '@ton/sandbox';
import { Address, Cell, beginCell } from '@ton/core';
import { loadConfigParamsAsSlice, configParseGasLimitsPrices, configParseMsgPrices } from '@ton/ton';
import { requiredFor, pricesFrom, type OperationName } from '../../src/sdk';

// ---------------------------------------------------------------- balances

export type Balances = Map<string, bigint>;

/** Balance of every address (0 for an account that does not exist). */
export async function balancesOf(chain: Blockchain, addrs: Address[]): Promise<Balances> {
    const out: Balances = new Map();
    for (const a of addrs) out.set(a.toString(), (await chain.getContract(a)).balance);
    return out;
}

/** Every balance after minus before, keyed like balancesOf. */
export function deltas(before: Balances, after: Balances): Record<string, bigint> {
    const d: Record<string, bigint> = {};
    for (const [k, v] of before) d[k] = (after.get(k) ?? 0n) - v;
    return d;
}

/** Storage fees each account paid in these flows (owed for elapsed time whoever triggers the collection). */
export function storageFeesPaid(results: SendMessageResult[]): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const res of results) {
        for (const tx of res.transactions) {
            const d: any = tx.description;
            const fee: bigint = d.storagePhase?.storageFeesCollected ?? 0n;
            if (fee === 0n) continue;
            const addr = new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex')).toString();
            out.set(addr, (out.get(addr) ?? 0n) + fee);
        }
    }
    return out;
}

/**
 * The honest parties' balances did not move by a single nanoton, apart from the storage fees their
 * accounts paid in `results` for time that passed (pass every flow sent since the snapshot).
 */
export async function expectBalancesUnchanged(chain: Blockchain, before: Balances, results: SendMessageResult[] = []): Promise<void> {
    const after = await balancesOf(chain, [...before.keys()].map((k) => Address.parse(k)));
    const storage = storageFeesPaid(results);
    const moved = Object.entries(deltas(before, after))
        .map(([k, d]) => [k, d + (storage.get(k) ?? 0n)] as const)
        .filter(([, d]) => d !== 0n);
    expect(moved).toEqual([]);
}

export async function accountState(chain: Blockchain, a: Address): Promise<string> {
    return (await chain.getContract(a)).accountState?.type ?? 'none';
}

// ---------------------------------------------------------------- fees, as the contracts compute them

/**
 * The contract's exact entry minimum for `op` (on top of any amount) under the sandbox's own price
 * config: the SDK's mirror of the contracts' formulas (src/sdk/fees.ts), so a test at min - 1 / min
 * checks the SDK and the contract against each other.
 */
export function minFor(chain: Blockchain, op: OperationName): bigint {
    const cfg = loadConfigParamsAsSlice(chain.configBase64);
    return requiredFor(op, pricesFrom(configParseGasLimitsPrices(cfg.get(21)), configParseMsgPrices(cfg.get(25))));
}

// ---------------------------------------------------------------- transactions

/** [address, exit code] of every transaction of a flow that ran a VM and failed, or whose action phase failed. */
export function failures(res: SendMessageResult): { to: string; exitCode: number; phase: string }[] {
    const out: { to: string; exitCode: number; phase: string }[] = [];
    for (const tx of res.transactions) {
        const d: any = tx.description;
        if (d.type !== 'generic') continue;
        const to = tx.inMessage?.info.dest?.toString() ?? '?';
        if (d.computePhase.type === 'vm' && !d.computePhase.success) out.push({ to, exitCode: d.computePhase.exitCode, phase: 'compute' });
        else if (d.actionPhase && !d.actionPhase.success) out.push({ to, exitCode: d.actionPhase.resultCode, phase: 'action' });
    }
    return out;
}

// ---------------------------------------------------------------- ed25519 tampering

/** Order of the ed25519 base point. */
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;

function leToBig(b: Buffer): bigint {
    return BigInt('0x' + Buffer.from(b).reverse().toString('hex'));
}

function bigToLe32(v: bigint): Buffer {
    return Buffer.from(v.toString(16).padStart(64, '0'), 'hex').reverse();
}

/** R || (S + L): the same signature with a non-canonical scalar (S >= L); lax verifiers accept it. */
export function nonCanonicalS(sig: Buffer): Buffer {
    const s = leToBig(sig.subarray(32));
    const s2 = s + ED25519_L;
    if (s2 >= 1n << 256n) throw new Error('S + L does not fit in 32 bytes for this signature');
    return Buffer.concat([sig.subarray(0, 32), bigToLe32(s2)]);
}

/** One bit of S flipped. */
export function flippedS(sig: Buffer): Buffer {
    const out = Buffer.from(sig);
    out[40] ^= 0x01;
    return out;
}

/** A cell with the same bits and refs as `c` plus one trailing bit: the same fields to a lax parser, another hash. */
export function withTrailingBit(c: Cell): Cell {
    const s = c.beginParse();
    const b = beginCell().storeBits(s.loadBits(s.remainingBits));
    while (s.remainingRefs > 0) b.storeRef(s.loadRef());
    return b.storeBit(0).endCell();
}

// ---------------------------------------------------------------- contract state

/** Hash of a contract's persistent data (null if it has no code): equal hashes = untouched state. */
export async function dataHash(chain: Blockchain, a: Address): Promise<string | null> {
    const s = (await chain.getContract(a)).accountState;
    return s?.type === 'active' && s.state.data ? s.state.data.hash().toString('hex') : null;
}

/** Data hashes of several contracts at once. */
export async function dataHashes(chain: Blockchain, addrs: Address[]): Promise<(string | null)[]> {
    return Promise.all(addrs.map((a) => dataHash(chain, a)));
}

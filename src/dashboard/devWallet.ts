// The development wallet: in the sandbox it plays the part a TonConnect wallet plays on testnet or
// mainnet. The page hands it the same SendTransactionRequest it would hand @tonconnect/ui; it checks
// the request as a wallet does (network, validUntil, from, user-friendly addresses, decimal nanoton
// amounts, one-cell BoC payloads, StateInit), then sends every message from one of the sandbox's
// treasury wallets in one external message, as a wallet's transfer would, and answers with `{ boc }`
// (the transfer it sent, base64) plus the trace the sandbox returns (what a real wallet cannot give:
// on a real network the page confirms by reading the contracts).
import { Address, Cell, SendMode, contractAddress, internal, loadStateInit, type Transaction } from '@ton/core';
import type { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { z } from 'zod';
import { errorForExitCode } from '../sdk';
import type { SendTransactionRequest } from './txBuilder';

/** TonConnect's SEND_TRANSACTION_ERROR_CODES (the wallet's answers). */
export const WALLET_ERROR = { UNKNOWN: 0, BAD_REQUEST: 1, UNKNOWN_APP: 100, USER_REJECTS: 300, METHOD_NOT_SUPPORTED: 400 } as const;

export class WalletError extends Error {
    constructor(readonly code: number, message: string) {
        super(message);
        this.name = 'WalletError';
    }
}

const base64 = z.string().min(1).max(16_384).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

/** A SendTransactionRequest as a wallet accepts it (at most 4 messages, like a v4 wallet). */
export const sendTransactionSchema = z.object({
    validUntil: z.number().int().positive(),
    network: z.string().max(16).optional(),
    from: z.string().max(100).optional(),
    messages: z.array(z.object({
        address: z.string().max(100),
        amount: z.string().regex(/^\d{1,20}$/, 'must be nanoton as a decimal string'),
        payload: base64.optional(),
        stateInit: base64.optional(),
    }).strict()).min(1).max(4),
}).strict();

export interface TraceEntry {
    address: string;
    lt: string;
    hash: string;
    /** the inbound message's opcode, 0x…, or null */
    op: string | null;
    success: boolean;
    exitCode: number | null;
    error: string | null;
}

export interface DevSendResult {
    boc: string;
    trace: TraceEntry[];
    /** true when every transaction of the trace succeeded */
    ok: boolean;
}

export interface DevAccount {
    name: string;
    address: Address;
}

function oneCell(b64: string, what: string): Cell {
    let cells: Cell[];
    try {
        cells = Cell.fromBoc(Buffer.from(b64, 'base64'));
    } catch {
        throw new WalletError(WALLET_ERROR.BAD_REQUEST, `${what} is not a BoC`);
    }
    if (cells.length !== 1) throw new WalletError(WALLET_ERROR.BAD_REQUEST, `${what} must hold exactly one root cell`);
    return cells[0];
}

function traceOf(txs: Transaction[]): TraceEntry[] {
    return txs.map((tx) => {
        const d = tx.description;
        let success = true;
        let exitCode: number | null = null;
        if (d.type === 'generic') {
            if (d.computePhase.type === 'vm') {
                exitCode = d.computePhase.exitCode;
                success = d.computePhase.success;
            }
            if (d.actionPhase && !d.actionPhase.success) {
                success = false;
                exitCode ??= d.actionPhase.resultCode;
            }
            if (d.aborted && d.computePhase.type !== 'vm') success = false;
        }
        const body = tx.inMessage?.body.beginParse();
        const op = body && body.remainingBits >= 32 ? '0x' + body.preloadUint(32).toString(16).padStart(8, '0') : null;
        return {
            address: new Address(0, Buffer.from(tx.address.toString(16).padStart(64, '0'), 'hex')).toString({ testOnly: true }),
            lt: tx.lt.toString(), hash: tx.hash().toString('hex'), op, success, exitCode,
            error: success || exitCode === null ? null : errorForExitCode(exitCode).message,
        };
    });
}

/** Serialises sends: the sandbox processes one message chain at a time. */
export class Mutex {
    private tail: Promise<unknown> = Promise.resolve();
    run<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.tail.then(fn, fn);
        this.tail = next.catch(() => undefined);
        return next;
    }
}

export class DevWallet {
    readonly network = 'sandbox';
    private readonly wallets = new Map<string, { name: string; w: SandboxContract<TreasuryContract> }>();

    private constructor(private readonly bc: Blockchain, private readonly lock: Mutex) {}

    /** Treasury wallets by name (bc.treasury(name) gives the same wallet for the same name). */
    static async create(bc: Blockchain, names: string[], lock = new Mutex()): Promise<DevWallet> {
        const d = new DevWallet(bc, lock);
        for (const name of names) {
            const w = await bc.treasury(name);
            d.wallets.set(w.address.toRawString(), { name, w });
        }
        return d;
    }

    accounts(): DevAccount[] {
        return [...this.wallets.values()].map(({ name, w }) => ({ name, address: w.address }));
    }

    async balance(address: Address): Promise<bigint> {
        return (await this.bc.getContract(address)).balance;
    }

    /** Checks `raw` as a wallet would and sends it from `account` (its raw address). */
    async sendTransaction(account: Address, raw: unknown, wallClockSec = Math.floor(Date.now() / 1000)): Promise<DevSendResult> {
        const me = this.wallets.get(account.toRawString());
        if (!me) throw new WalletError(WALLET_ERROR.UNKNOWN_APP, `the development wallet has no account ${account.toRawString()}`);
        const parsed = sendTransactionSchema.safeParse(raw);
        if (!parsed.success) {
            const i = parsed.error.issues[0];
            throw new WalletError(WALLET_ERROR.BAD_REQUEST, `bad request: ${i.path.join('.') || 'body'}: ${i.message}`);
        }
        const req: SendTransactionRequest = parsed.data as SendTransactionRequest;
        if (req.network !== undefined && req.network !== this.network) {
            throw new WalletError(WALLET_ERROR.BAD_REQUEST, `the request is for network ${req.network}; this wallet is on the ${this.network}`);
        }
        if (req.validUntil <= wallClockSec) throw new WalletError(WALLET_ERROR.BAD_REQUEST, 'the request expired (validUntil is in the past)');
        if (req.from !== undefined) {
            let from: Address;
            try {
                from = Address.parse(req.from);
            } catch {
                throw new WalletError(WALLET_ERROR.BAD_REQUEST, 'from is not an address');
            }
            if (!from.equals(me.w.address)) throw new WalletError(WALLET_ERROR.BAD_REQUEST, 'the request must be sent from another account (from)');
        }
        const messages = req.messages.map((m, i) => {
            if (!Address.isFriendly(m.address)) throw new WalletError(WALLET_ERROR.BAD_REQUEST, `messages[${i}].address must be user-friendly (EQ…/UQ…/kQ…/0Q…), not raw`);
            const { address, isBounceable } = Address.parseFriendly(m.address);
            const value = BigInt(m.amount);
            const body = m.payload ? oneCell(m.payload, `messages[${i}].payload`) : undefined;
            const init = m.stateInit ? loadStateInit(oneCell(m.stateInit, `messages[${i}].stateInit`).beginParse()) : undefined;
            if (init && init.code && init.data) {
                if (!contractAddress(address.workChain, init).equals(address)) throw new WalletError(WALLET_ERROR.BAD_REQUEST, `messages[${i}].stateInit does not belong to ${m.address}`);
            }
            return internal({ to: address, value, bounce: isBounceable, body, init });
        });
        const total = messages.reduce((s, m) => s + (m.info.type === 'internal' ? m.info.value.coins : 0n), 0n);
        return this.lock.run(async () => {
            const balance = await this.balance(me.w.address);
            if (balance < total) throw new WalletError(WALLET_ERROR.BAD_REQUEST, `insufficient balance: ${balance} nanoton, the request sends ${total}`);
            const transfer = me.w.createTransfer({ messages, sendMode: SendMode.PAY_GAS_SEPARATELY + SendMode.IGNORE_ERRORS });
            const res = (await me.w.sendMessages(messages, SendMode.PAY_GAS_SEPARATELY + SendMode.IGNORE_ERRORS)) as unknown as { transactions: Transaction[] };
            const trace = traceOf(res.transactions ?? []);
            return { boc: transfer.toBoc().toString('base64'), trace, ok: trace.every((t) => t.success) };
        });
    }
}

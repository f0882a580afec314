// Reading what a send did: on the embedded sandbox a send returns its transaction tree, which tells
// the gas, the fees and the first failing exit code. On a remote chain sends return nothing; callers
// then confirm through getters (Chain.waitUntil).
import type { Transaction } from '@ton/core';
import { errorForExitCode, type CocoonError } from '../sdk';

export interface TxSummary {
    count: number;
    gas: bigint;
    /** Sum of total_fees of every transaction plus the forward fees carried by internal messages. */
    fees: bigint;
    failure?: { exitCode: number; error: CocoonError };
}

export function transactionsOf(result: unknown): Transaction[] | undefined {
    const txs = (result as { transactions?: Transaction[] } | undefined)?.transactions;
    return Array.isArray(txs) ? txs : undefined;
}

/** Forward fees still in flight on a transaction's internal out messages (not in total_fees). */
export function carriedForwardFees(tx: Transaction): bigint {
    let sum = 0n;
    for (const m of tx.outMessages.values()) if (m.info.type === 'internal') sum += m.info.forwardFee;
    return sum;
}

export function summarize(txs: Transaction[]): TxSummary {
    const s: TxSummary = { count: txs.length, gas: 0n, fees: 0n };
    for (const tx of txs) {
        s.fees += tx.totalFees.coins + carriedForwardFees(tx);
        const d = tx.description;
        if (d.type !== 'generic') continue;
        if (d.computePhase.type === 'vm') {
            s.gas += d.computePhase.gasUsed;
            if (!s.failure && !d.computePhase.success) s.failure = { exitCode: d.computePhase.exitCode, error: errorForExitCode(d.computePhase.exitCode) };
        }
        if (!s.failure && d.actionPhase && !d.actionPhase.success) {
            s.failure = { exitCode: d.actionPhase.resultCode, error: errorForExitCode(d.actionPhase.resultCode) };
        }
    }
    return s;
}

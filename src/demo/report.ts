// The demo's checks and its printed summary.
import type { Address } from '@ton/core';
import type { ClassTokens, PriceSet } from '../sdk';
import { formatTable } from '../sdk/format';
import type { OpCost } from './accounting';

export interface Check { name: string; ok: boolean; detail: string }

export class Checks {
    readonly list: Check[] = [];
    add(name: string, ok: boolean, detail = ''): boolean {
        this.list.push({ name, ok, detail });
        return ok;
    }
    allOk(): boolean {
        return this.list.length > 0 && this.list.every((c) => c.ok);
    }
}

export interface WorkerRow {
    name: string;
    prices: PriceSet;
    requests: number;
    streamed: number;
    tokens: bigint;
    /** The tokens billed per class (the client's latest receipt). */
    classes: ClassTokens;
    clientPaid: bigint;
    protocolFee: bigint;
    operatorGot: bigint;
    rewards: bigint;
    refund: bigint;
}

export interface PartyRow { name: string; address: Address; before: bigint; after: bigint }

export interface SummaryInput {
    workers: WorkerRow[];
    parties: PartyRow[];
    ops: OpCost[];
    conservation: { before: bigint; after: bigint; fees: bigint; accounts: number; diff: bigint };
    checks: Check[];
}

export function ton(n: bigint): string {
    const neg = n < 0n;
    const a = neg ? -n : n;
    return (neg ? '-' : '') + `${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
}

export function renderSummary(s: SummaryInput): string {
    const out: string[] = [];
    const sum = (f: (w: WorkerRow) => bigint) => s.workers.reduce((t, w) => t + f(w), 0n);
    const M = 1_000_000n;
    const costOf = (n: bigint, p: bigint) => (n * p) / M;
    out.push('Tokens and cost per class (prices in TON per 1M tokens; cost = floor(tokens x price / 1e6) per class)');
    out.push(formatTable(
        ['worker', 'prompt', 'price', 'cost', 'cached', 'price', 'cost', 'completion', 'price', 'cost', 'total cost'],
        s.workers.map((w) => [
            w.name,
            w.classes.promptTokens.toString(), ton(w.prices.prompt), ton(costOf(w.classes.promptTokens, w.prices.prompt)),
            w.classes.cachedTokens.toString(), ton(w.prices.cached), ton(costOf(w.classes.cachedTokens, w.prices.cached)),
            w.classes.completionTokens.toString(), ton(w.prices.completion), ton(costOf(w.classes.completionTokens, w.prices.completion)),
            ton(costOf(w.classes.promptTokens, w.prices.prompt) + costOf(w.classes.cachedTokens, w.prices.cached) + costOf(w.classes.completionTokens, w.prices.completion)),
        ]),
    ));
    out.push('');
    out.push('Requests and money per worker (TON)');
    out.push(formatTable(
        ['worker', 'requests', 'streamed', 'tokens', 'client paid', 'protocol fee', 'operator got', 'rewards', 'refund'],
        [
            ...s.workers.map((w) => [w.name, String(w.requests), String(w.streamed), w.tokens.toString(), ton(w.clientPaid), ton(w.protocolFee), ton(w.operatorGot), ton(w.rewards), ton(w.refund)]),
            ['total', String(s.workers.reduce((t, w) => t + w.requests, 0)), String(s.workers.reduce((t, w) => t + w.streamed, 0)), sum((w) => w.tokens).toString(),
                ton(sum((w) => w.clientPaid)), ton(sum((w) => w.protocolFee)), ton(sum((w) => w.operatorGot)), ton(sum((w) => w.rewards)), ton(sum((w) => w.refund))],
        ],
    ));
    out.push('');
    out.push('Balances (TON): wallets start funded by the sandbox; contracts start at zero');
    out.push(formatTable(['party', 'before', 'after', 'change'], s.parties.map((p) => [p.name, ton(p.before), ton(p.after), ton(p.after - p.before)])));
    out.push('');
    out.push('Gas and fees per operation (every transaction the operation caused)');
    out.push(formatTable(['operation', 'times', 'txs', 'gas total', 'gas each', 'fees TON', 'failed'], s.ops.map((o) => [
        o.label, String(o.count), String(o.transactions), o.gas.toString(), (o.gas / BigInt(Math.max(1, o.count))).toString(), ton(o.fees), String(o.failed),
    ])));
    out.push('');
    const c = s.conservation;
    out.push(`Value conservation over ${c.accounts} accounts: start ${ton(c.before)} = now ${ton(c.after)} + fees ${ton(c.fees)}  (difference ${c.diff} nanoton)`);
    out.push('');
    out.push('Checks');
    for (const k of s.checks) out.push(`  ${k.ok ? 'PASS' : 'FAIL'}  ${k.name}${k.detail ? ` — ${k.detail}` : ''}`);
    const failed = s.checks.filter((k) => !k.ok).length;
    out.push(failed === 0 ? `ALL ${s.checks.length} CHECKS PASSED` : `${failed} OF ${s.checks.length} CHECKS FAILED`);
    return out.join('\n');
}

// Where a claim's gas goes, step by step, from the VM's gas log of the Claim transaction
// (measureGas({ vmLogs: true })). The steps are cut at instructions that mark the end of each part
// of the handler: the throws of its checks (by exit code), the storage write (c4) and the payout's
// SENDRAWMSG. `npm run bench` writes the result to bench/PROFILE-CLAIM.md.
import {
    ERR_WRONG_STATE, ERR_DISPUTE_WINDOW_OVER, ERR_INSUFFICIENT_VALUE, ERR_BAD_RECEIPT_SIG, ERR_BAD_RECEIPT,
    ERR_STALE_RECEIPT, ERR_PRICE_ABOVE_CAP,
} from '../src/sdk';
import { instructionsOf } from './lib';

const CLAIM_OPCODE = 0xc0c00305;

/** What kind of work an instruction is. */
export function categoryOf(op: string): string {
    const name = op.split(' ')[0];
    if (/^(ENDC|NEWC|ST|STSLICE|STREF|STDICT|STGRAMS|STZEROES|STI|STU)/.test(name)) return 'building cells';
    if (/^(CTOS|LD|PLD|SDSKIP|SDCUT|ENDS|LDSLICE|LDMSGADDR|LDGRAMS|LDDICT|LDREF)/.test(name)) return 'reading cells';
    if (/^(SENDRAWMSG|RAWRESERVE)$/.test(name)) return 'actions (message, reserve)';
    if (/^(HASHCU|CHKSIGNU)$/.test(name)) return 'signature check';
    if (/^(PUSHCONT|IF|JMP|CALL|RET|implicit|SAVE|SAME|POP c|PUSH c)/.test(op) || op.startsWith('implicit')) return 'control flow and code cells';
    if (/^(THROW)/.test(name)) return 'checks (throws)';
    if (/^(PUSHINT|PUSHPOW2|PUSHNAN)/.test(name)) return 'constants';
    if (/^(XCHG|PUSH|POP|SWAP|ROT|DUP|DROP|NIP|OVER|TUCK|BLK|REVERSE|PUXC|XCPU|2DUP|2DROP|2OVER|2SWAP|PU2XC|XC2PU|XCPU2|PUSH2|PUSH3|XCHG2|XCHG3)/.test(name)) return 'stack shuffling';
    return 'arithmetic, comparisons and environment';
}

export interface ProfileRow { step: string; gas: number; instructions: number }

/**
 * The claim split into its steps. Throws if a landmark is missing (the handler changed shape): the
 * profile must then be taught the new one.
 */
export function profileClaim(vmLogs: string): ProfileRow[] {
    const ins = instructionsOf(vmLogs);
    const idx = (from: number, pred: (op: string) => boolean, what: string, last = false): number => {
        let found = -1;
        for (let i = from; i < ins.length; i++) {
            if (pred(ins[i].op)) { found = i; if (!last) break; }
        }
        if (found < 0) throw new Error(`claim profile: no ${what} in the Claim transaction's log`);
        return found;
    };
    const thr = (code: bigint | number) => (op: string) => /^THROW(IF|IFNOT)? /.test(op) && op.endsWith(' ' + String(code));
    const dispatch = idx(idx(0, (op) => op === `PUSHINT ${CLAIM_OPCODE}`, 'Claim opcode comparison'), (op) => op.startsWith('IFJMPREF'), 'dispatch to Claim');
    const marks: [string, number][] = [];
    marks.push(['Tact entry: code, message header and context, state load, dispatch to Claim', dispatch]);
    let at = idx(dispatch, thr(ERR_WRONG_STATE), 'state check');
    at = idx(at, thr(ERR_DISPUTE_WINDOW_OVER), 'dispute window check');
    marks.push(['Claim message read; state and dispute-window checks', at]);
    // the operator's own claim checks no value (only a third party's or a fee flush does)
    if (ins.some((i) => thr(ERR_INSUFFICIENT_VALUE)(i.op))) throw new Error('claim profile: the plain claim checks the value again; teach the profile that step');
    at = idx(at, thr(ERR_BAD_RECEIPT_SIG), 'signature check');
    marks.push(['terms read to the key; key expiry; receipt hash and signature', at]);
    at = idx(at, thr(ERR_BAD_RECEIPT), 'receipt checks', true);
    marks.push(['receipt read: tag, escrow, epoch', at]);
    at = idx(at, thr(ERR_STALE_RECEIPT), 'staleness checks', true);
    marks.push(['receipt totals; sequence and staleness', at]);
    at = idx(at, thr(ERR_PRICE_ABOVE_CAP), 'price cap check');
    marks.push(['caps read; cost within sum of tokens x cap', at]);
    const c4 = idx(at, (op) => op === 'PUSH c4', 'storage write');
    const write = ins[c4 - 1]?.op === 'NEWC' ? c4 - 1 : c4;   // the new root cell's builder
    marks.push(['payout arithmetic: balance, min/max, fee, operator read; is the sender the operator', write - 1]);
    at = idx(c4, (op) => op === 'POP c4', 'storage write end');
    marks.push(["storage write: the root cell's head as it is, the six counters, the terms", at]);
    at = idx(at, (op) => op === 'SENDRAWMSG', 'payout message');
    marks.push(['payout message to the operator (one cell)', at]);
    marks.push(['return', ins.length - 1]);
    const rows: ProfileRow[] = [];
    let start = 0;
    for (const [step, end] of marks) {
        const part = ins.slice(start, end + 1);
        rows.push({ step, gas: part.reduce((a, s) => a + s.gas, 0), instructions: part.length });
        start = end + 1;
    }
    return rows;
}

/** Gas of the claim by kind of work. */
export function categoriesOfClaim(vmLogs: string): { category: string; gas: number; instructions: number }[] {
    const by = new Map<string, { gas: number; instructions: number }>();
    for (const s of instructionsOf(vmLogs)) {
        const c = categoryOf(s.op);
        const e = by.get(c) ?? { gas: 0, instructions: 0 };
        e.gas += s.gas;
        e.instructions += 1;
        by.set(c, e);
    }
    return [...by.entries()].map(([category, e]) => ({ category, ...e })).sort((a, b) => b.gas - a.gas);
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** bench/PROFILE-CLAIM.md */
export function renderClaimProfile(vmLogs: string, gasUsed: number): string {
    const rows = profileClaim(vmLogs);
    const counted = rows.reduce((a, r) => a + r.gas, 0);
    const L: string[] = [];
    L.push('# Where a claim\'s gas goes');
    L.push('');
    L.push('Generated by `npm run bench` (bench/claimProfile.ts) from the VM gas log of the benchmark\'s plain claim');
    L.push('(an operator claiming its own receipt, no fee flush) — do not edit by hand. Instruction costs are');
    L.push('TVM\'s: 18–34 gas a plain instruction, 100 more the first time a cell is read (CTOS, a jump into');
    L.push('another code cell), 500 more for each cell built (ENDC), and each action (SENDRAWMSG) ~526.');
    L.push('The operator\'s own claim checks no value: too little only runs its own gas out, or leaves the');
    L.push('payout unable to pay its forward fee, and then nothing is written (tests/Escrow.spec.ts).');
    L.push('');
    L.push(`Claim transaction: ${fmt(gasUsed)} gas${gasUsed !== counted ? ` (${fmt(gasUsed - counted)} of it before the first logged instruction)` : ''}.`);
    L.push('');
    L.push('## By step');
    L.push('');
    L.push('| Step | Gas | Instructions |');
    L.push('|---|---:|---:|');
    for (const r of rows) L.push(`| ${r.step} | ${fmt(r.gas)} | ${r.instructions} |`);
    L.push('');
    L.push('## By kind of work');
    L.push('');
    L.push('| Kind | Gas | Instructions |');
    L.push('|---|---:|---:|');
    for (const r of categoriesOfClaim(vmLogs)) L.push(`| ${r.category} | ${fmt(r.gas)} | ${r.instructions} |`);
    L.push('');
    return L.join('\n');
}

// Gas snapshot check: the gas of every contract operation, measured now, against the committed
// bench/gas.json. A rise of more than 2% or an operation missing from the file fails; a drop does not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureGas, toGasJson, opsOf, compareGas, TARGETS, CLAIM_FEES_TARGET, OPERATIONS, type GasReport, type OpGas } from '../bench/lib';
import { profileClaim, categoriesOfClaim } from '../bench/claimProfile';

const committedJson = JSON.parse(readFileSync(join(__dirname, '..', 'bench', 'gas.json'), 'utf8'));

describe('gas regression against bench/gas.json', () => {
    let report: GasReport;
    beforeAll(async () => {
        report = await measureGas({ vmLogs: true });
    });

    it('no operation uses more than 2% more gas than committed, and none is missing from the file', () => {
        const problems = compareGas(opsOf(committedJson), opsOf(toGasJson(report)));
        expect(problems.join('\n')).toBe('');
    });

    it('measures every operation, over our contracts only', () => {
        expect(Object.keys(report.ops)).toEqual([...OPERATIONS]);
        for (const op of Object.values(report.ops)) {
            expect(op.txs.length).toBeGreaterThan(0);
            expect(op.gas).toBe(op.txs.reduce((a, t) => a + t.gas, 0));
            for (const t of op.txs) expect(['root', 'worker', 'escrow']).toContain(t.contract);
        }
        // the flush claim forwards the fees: one more transaction (the root's) than a plain claim
        expect(report.ops.claimWithFeeFlush.txs.map((t) => t.message)).toEqual(['Claim', 'ProtocolFee']);
        expect(report.ops.claim.txs.map((t) => t.message)).toEqual(['Claim']);
    });

    it('the claim profile (bench/PROFILE-CLAIM.md) finds every step of the claim, and its steps add up to its gas', () => {
        const tx = report.ops.claim.txs[0];
        const rows = profileClaim(tx.vmLogs!);
        expect(rows).toHaveLength(10);
        for (const r of rows) expect(r.instructions).toBeGreaterThan(0);
        const counted = rows.reduce((a, r) => a + r.gas, 0);
        // all but what the VM charges before its first logged instruction
        expect(tx.gas - counted).toBeGreaterThanOrEqual(0);
        expect(tx.gas - counted).toBeLessThan(100);
        expect(categoriesOfClaim(tx.vmLogs!).reduce((a, r) => a + r.gas, 0)).toBe(counted);
        // a log without the claim's landmarks is refused, not profiled wrongly
        expect(() => profileClaim(report.ops.closeEscrow.txs[0].vmLogs!)).toThrow(/claim profile: no/);
    });

    it("meets the issues' targets (claim, openEscrow, registerWorker, claim fees)", () => {
        for (const [name, target] of Object.entries(TARGETS)) {
            expect({ name, gas: report.ops[name].gas, under: report.ops[name].gas < target }).toEqual({ name, gas: report.ops[name].gas, under: true });
        }
        // and issue 15's fee target for a claim
        expect(report.ops.claim.fees).toBeLessThan(CLAIM_FEES_TARGET);
    });
});

describe('compareGas', () => {
    const op = (gas: number): OpGas => ({ gas, feesTon: '0.01', txs: 1 });

    it('fails a rise of more than 2%, naming the operation, both figures and the fix', () => {
        const problems = compareGas({ claim: op(10_000), closeEscrow: op(5_000) }, { claim: op(10_201), closeEscrow: op(5_000) });
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain('claim');
        expect(problems[0]).toContain('10000');
        expect(problems[0]).toContain('10201');
        expect(problems[0]).toContain('npm run bench');
    });

    it('accepts a rise of exactly 2% and any drop', () => {
        expect(compareGas({ claim: op(10_000) }, { claim: op(10_200) })).toEqual([]);
        expect(compareGas({ claim: op(10_000) }, { claim: op(7_000) })).toEqual([]);
    });

    it('fails an operation missing from the committed file', () => {
        const problems = compareGas({ claim: op(10_000) }, { claim: op(10_000), slash: op(40_000) });
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain('slash');
        expect(problems[0]).toContain('missing');
        expect(problems[0]).toContain('npm run bench');
    });

    it('reads the operations of a gas.json without its storage key', () => {
        const ops = opsOf(committedJson);
        expect(Object.keys(ops)).not.toContain('storage');
        expect(Object.keys(committedJson)).toContain('storage');
        for (const name of OPERATIONS) expect(typeof ops[name]?.gas).toBe('number');
    });
});

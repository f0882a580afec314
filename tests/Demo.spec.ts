import { main } from '../src/demo/main';

describe('demo (npm start)', () => {
    it('runs the whole flow on the sandbox and reports every check passed, within a minute', async () => {
        const lines: string[] = [];
        const t0 = Date.now();
        const result = await main({ print: (l) => lines.push(l) });
        const ms = Date.now() - t0;
        const failed = result.checks.filter((c) => !c.ok);
        expect(failed).toEqual([]);
        expect(result.ok).toBe(true);
        // three workers x four requests, half of them streamed
        expect(result.requests).toBe(12);
        expect(result.tokens).toBeGreaterThan(0n);
        const names = result.checks.map((c) => c.name);
        expect(names).toEqual(expect.arrayContaining([
            'every chat request succeeded with a verified receipt',
            'value conservation: wallets at start = all balances now + all fees',
            'every escrow was destroyed after its withdrawal',
        ]));
        const out = lines.join('\n');
        expect(out).toContain(`ALL ${result.checks.length} CHECKS PASSED`);
        expect(out).toMatch(/difference 0 nanoton/);
        expect(result.timings.total).toBeLessThan(60_000);
        expect(ms).toBeLessThan(60_000);
    });
});

// The dashboard in a real browser: `npm start -- --dashboard-port 0` as a process (the demo, then the
// network kept running with the dashboard), headless Chromium driven by puppeteer-core. The page
// loads without console errors, lists the demo's workers with their prices, and the client opens,
// tops up, closes and withdraws an escrow through the development wallet, each change seen on-chain
// (through the API) and on the page. Screenshots go to $COCOON_SCREENSHOT_DIR (default: a temp dir).
// Without Chromium the suite says so and how to install it; in CI (.ci/run installs it) a missing
// Chromium is a failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findChromium, CHROMIUM_CANDIDATES } from './helpers/chromium';
import { keyFromSeed, publicKeyToBigInt } from '../src/sdk';

const chromium = findChromium();
const ROOT = join(__dirname, '..');

if (!chromium) {
    describe('dashboard in a browser', () => {
        it('needs Chromium: absent here, so the browser test did not run (apt-get install -y chromium)', () => {
            console.warn('\n*** DashboardBrowser.spec: no Chromium found (' + CHROMIUM_CANDIDATES.join(', ') + ' or $COCOON_CHROMIUM): the browser test DID NOT RUN. Install it: sudo apt-get install -y chromium ***\n');
            // CI installs Chromium (.ci/run): there its absence is a failure, never a silent skip
            expect(process.env.CI === 'true' ? 'Chromium missing in CI' : null).toBeNull();
        });
    });
} else {
    describe('dashboard in a browser (headless Chromium, npm start --dashboard-port)', () => {
        let child: ChildProcess;
        let out = '';
        let base = '';
        const shots = process.env.COCOON_SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), 'cocoon-dashboard-shots-'));
        const timings: string[] = [];
        const t0 = Date.now();
        const mark = (what: string) => timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        let report: any;

        beforeAll(async () => {
            mkdirSync(shots, { recursive: true });
            child = spawn(process.execPath, [join(ROOT, 'node_modules/ts-node/dist/bin.js'), '--transpile-only', 'src/demo/main.ts', '--dashboard-port', '0', '--requests', '2'],
                { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
            child.stdout!.on('data', (d) => { out += d; });
            child.stderr!.on('data', (d) => { out += d; });
            base = await new Promise<string>((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error(`no dashboard URL within 120 s:\n${out}`)), 120_000);
                const poll = setInterval(() => {
                    const m = out.match(/dashboard: (http:\/\/127\.0\.0\.1:\d+)/);
                    if (m) { clearInterval(poll); clearTimeout(timer); resolve(m[1]); }
                }, 100);
                child.once('exit', (code) => { clearInterval(poll); clearTimeout(timer); reject(new Error(`npm start exited ${code} before serving:\n${out}`)); });
            });
            mark('demo done, dashboard up');
        }, 180_000);

        afterAll(() => {
            if (child && child.exitCode === null) child.kill('SIGKILL');
            console.log(`DashboardBrowser.spec: ${timings.join(', ')}; browser steps ${JSON.stringify(report?.steps ?? [])}; screenshots in ${shots}`);
        });

        it('shows the network, lists the demo\'s workers with their prices, and runs an escrow through the development wallet', async () => {
            // puppeteer-core 25 is an ES module: it runs in a script of its own
            const r = spawnSync(process.execPath, [join(__dirname, 'browser', 'dashboard.mjs'), base, chromium, shots], { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
            const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('REPORT '));
            if (!line) throw new Error(`the browser script printed no report (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
            report = JSON.parse(line.slice('REPORT '.length));
            mark('browser done');
            expect(report.error).toBeUndefined();
            expect(r.status).toBe(0);
            // the page: no console errors or warnings, no failed request
            expect(report.problems).toEqual([]);
            // network: fees collected by the demo, both lines drawn
            expect(report.feesCard).toMatch(/^0\.\d+.* TON$/);
            expect(report.feeLines).toBe(2);
            // the demo's workers with the prices per token class it set (prompt / cached / completion), on the page and in the chart
            expect(report.pagePrices).toEqual(['50 / 12.5 / 150 TON', '75 / 18.75 / 225 TON', '100 / 25 / 300 TON']);
            expect(report.chartDots).toBe(3);
            // reputation from the Workers' getter: each demo escrow reported what it paid at withdrawal
            // (operator's share + fee), at least what the operator received in claims
            for (const w of report.workersAfterDemo) {
                expect(w.reputation).toMatchObject({ settledEscrows: 1, slashes: 0, renewals: 0 });
                expect(BigInt(w.reputation.settledVolume)).toBeGreaterThanOrEqual(BigInt(w.settled.volume));
                expect(BigInt(w.settled.volume)).toBeGreaterThan(0n);
            }
            expect(report.pageReputation.every((t: string) => / TON over 1 escrow · 0 renewals · 0 slashes$/.test(t))).toBe(true);
            // the client key made in the browser is the Node side's key of the same seed (src/client/clientKey.ts)
            expect(report.publicKey).toMatch(/^0x[0-9a-f]{64}$/);
            expect(BigInt(report.publicKey)).toBe(publicKeyToBigInt(keyFromSeed(Buffer.from(report.seed, 'hex')).publicKey));
            // open: no escrow before, an open one after, with the deposit, the worker's prices as caps, and the browser's key
            expect(report.escrowsBefore).toEqual([]);
            expect(report.confirmText).toContain('open an escrow with 2.5 TON deposit');
            expect(report.afterOpen).toHaveLength(1);
            expect(report.afterOpen[0]).toMatchObject({
                state: 'open', deposit: '2500000000', paid: '0', caps: { prompt: '50000000000', cached: '12500000000', completion: '150000000000' }, clientKey: report.publicKey,
            });
            expect(report.afterOpen[0].worker.raw).toBe(report.openedWith.worker.raw);
            expect(report.pageDepositAfterOpen).toBe('2.5 TON');
            // top up, close, withdraw: each seen on-chain
            expect(report.afterTopUp[0]).toMatchObject({ state: 'open', deposit: '3500000000' });
            expect(report.afterClose[0]).toMatchObject({ state: 'closing', deposit: '3500000000' });
            expect(report.afterWithdraw).toEqual([]);
            const back = BigInt(report.balanceAfterWithdraw) - BigInt(report.balanceBeforeWithdraw);
            // the 3.5 TON left and the 0.02 TON storage reserve come back, less the wallet's own fees
            expect(back).toBeGreaterThan(3_480_000_000n);
            expect(back).toBeLessThanOrEqual(3_520_000_000n);
            expect(report.lastEvents).toEqual(['withdraw-escrow', 'close-escrow', 'top-up-escrow', 'open-escrow']);
        }, 180_000);

        it('stops the network and the dashboard on SIGINT and exits 0', async () => {
            const code = await new Promise<number | null>((resolve) => {
                child.once('exit', (c) => resolve(c));
                child.kill('SIGINT');
            });
            mark('stopped');
            expect(code).toBe(0);
            expect(out).toMatch(/stopped dashboard http/);
            expect(out).toMatch(/stopped local network/);
            await expect(fetch(base + '/healthz')).rejects.toThrow();
        }, 30_000);
    });
}

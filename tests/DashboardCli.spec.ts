// `cocoon dashboard` as a process against testnet: it serves the page, the TonConnect manifest and a
// config for TonConnect on testnet; with the network closed (as here) chain reads fail with a clear
// 502 instead of hanging; SIGTERM stops it with exit 0. Without --root it says what to pass.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const TS_NODE = join(ROOT, 'node_modules/ts-node/dist/bin.js');
const ROOT_ADDR = '0:0b21ac3313c7e93cbbf9401a3889a67240e1775c96c864bf0ae99edd9829af77';

describe('cocoon dashboard (process)', () => {
    it('serves testnet through TonConnect, reports an unreachable toncenter, and stops on SIGTERM', async () => {
        const child = spawn(process.execPath, [TS_NODE, '--transpile-only', 'bin/cocoon.ts', '--network', 'testnet', '--root', ROOT_ADDR, '--toncenter', 'http://127.0.0.1:9/api/v2/jsonRPC', 'dashboard', '--port', '0'],
            { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        try {
            const base = await new Promise<string>((resolve, reject) => {
                const t = setTimeout(() => reject(new Error(`no URL within 60 s: ${out}`)), 60_000);
                const p = setInterval(() => {
                    const m = out.match(/: (http:\/\/127\.0\.0\.1:\d+)\n/);
                    if (m) { clearInterval(p); clearTimeout(t); resolve(m[1]); }
                }, 100);
            });
            expect(out).toContain('dashboard of testnet root kQALIawzE8fpPLv5QBo4iaZyQOF3XJbIZL8K6Z7dmCmvdyLq');
            const config = await (await fetch(`${base}/api/config`)).json() as any;
            expect(config).toMatchObject({ network: 'testnet', chain: '-3', wallet: 'tonconnect', explorer: 'https://testnet.tonviewer.com', canAdvanceClock: false });
            expect(await (await fetch(`${base}/tonconnect-manifest.json`)).json()).toEqual({ url: base, name: 'Cocoon dashboard', iconUrl: `${base}/icon-180.png` });
            const csp = (await fetch(base)).headers.get('content-security-policy')!;
            expect(csp).toContain("connect-src 'self' https:"); // wallet bridges
            const dev = await fetch(`${base}/api/dev/accounts`);
            expect(dev.status).toBe(404);
            const t0 = Date.now();
            const r = await fetch(`${base}/api/network`);
            expect(r.status).toBe(502);
            expect(((await r.json()) as any).error.message).toMatch(/^reading the chain failed: /);
            expect(Date.now() - t0).toBeLessThan(15_000);
        } finally {
            child.kill('SIGTERM');
        }
        expect(await exited).toBe(0);
        expect(out).toMatch(/stopping \(SIGTERM\)/);
    }, 90_000);

    it('without --root says what to pass and exits 1', () => {
        const env = { ...process.env };
        delete env.COCOON_ROOT;
        const r = spawnSync(process.execPath, [TS_NODE, '--transpile-only', 'bin/cocoon.ts', '--network', 'testnet', 'dashboard', '--port', '0'], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain('--root is required');
    }, 90_000);
});

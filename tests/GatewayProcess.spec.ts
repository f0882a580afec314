// `npm start -- --gateway-port N` as a process, as a newcomer runs it: the demo, then the sandbox
// network kept running with the gateway in front. A plain OpenAI request (node fetch, as curl would
// send it) gets an answer paid from an escrow the gateway opened; `cocoon gateway status` (a process
// too) shows that escrow; SIGINT to the node process stops everything, it exits 0, and so npm does.
// (Ctrl-C in a terminal signals the whole process group: the node process stops the same way and
// exits 0, while npm, like for any interrupted script, reports 130.)
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

jest.setTimeout(240_000);

const ROOT = join(__dirname, '..');

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as { port: number }).port;
            s.close(() => resolve(port));
        });
    });
}

describe('npm start -- --gateway-port (a process)', () => {
    let child: ChildProcess;
    let out = '';
    let exited: Promise<number | null>;

    afterAll(() => {
        if (child && child.exitCode === null && child.signalCode === null) {
            try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
        }
    });

    it('serves a plain OpenAI request paid from an escrow it opened, shows it in cocoon gateway status, and exits 0 on SIGINT', async () => {
        const port = await freePort();
        const t0 = Date.now();
        // its own process group, so that whatever is left can be killed at the end
        child = spawn('npm', ['start', '--', '--gateway-port', String(port), '--requests', '1'], {
            cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' },
        });
        child.stdout!.on('data', (d) => { out += d; });
        child.stderr!.on('data', (d) => { out += d; });
        exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
        const base = await new Promise<string>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no gateway line within 180 s:\n${out}`)), 180_000);
            const poll = setInterval(() => {
                const m = out.match(/gateway: (http:\/\/127\.0\.0\.1:\d+)\/v1/);
                if (m) { clearInterval(poll); clearTimeout(timer); resolve(m[1]); }
            }, 100);
            void exited.then((code) => { clearInterval(poll); clearTimeout(timer); reject(new Error(`npm start exited ${code} before serving:\n${out}`)); });
        });
        expect(base).toBe(`http://127.0.0.1:${port}`);
        expect(out).toMatch(/ALL \d+ CHECKS PASSED/);
        const upAfter = Date.now() - t0;

        // what `curl http://127.0.0.1:PORT/v1/chat/completions -d '{…}'` sends
        const r = await fetch(`${base}/v1/chat/completions`, {
            method: 'POST', headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'llama-3-8b-instruct', messages: [{ role: 'user', content: 'Hello from curl' }] }),
        });
        const body = await r.json() as any;
        expect(r.status).toBe(200);
        expect(body.object).toBe('chat.completion');
        expect(body.choices[0].message.content.length).toBeGreaterThan(0);
        const escrow = r.headers.get('x-cocoon-escrow')!;
        expect(body.cocoon_receipt.escrow).toBe(escrow);
        expect(BigInt(body.cocoon_receipt.requestCost)).toBeGreaterThan(0n);

        const status = await (await fetch(`${base}/gateway/status`)).json() as any;
        expect(status.actions.filter((a: any) => a.action === 'open' && a.ok && a.escrow === escrow)).toHaveLength(1);
        expect(status.escrows.map((e: any) => [e.escrow, e.state, e.receipt?.seq])).toEqual([[escrow, 'open', body.cocoon_receipt.seq]]);
        expect(status.totals.receiptsHeld).toBe(1);

        const cli = spawnSync(process.execPath, [join(ROOT, 'bin', 'cocoon.js'), 'gateway', 'status', '--url', base], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
        expect(cli.status).toBe(0);
        expect(cli.stdout).toContain(escrow);
        expect(cli.stdout).toMatch(/1 receipt\(s\) held/);
        expect(cli.stdout).toMatch(/open\s+2\s/); // state open, deposit 2 TON

        // npm -> sh -> node (ts-node src/demo/main.ts): SIGINT to the node process
        const procs = execFileSync('ps', ['-eo', 'pid=,ppid=,comm=,args='], { encoding: 'utf8' }).split('\n')
            .map((l) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null)
            .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), comm: m[3], args: m[4] }));
        const tree = (pid: number): typeof procs => procs.filter((p) => p.ppid === pid).flatMap((p) => [p, ...tree(p.pid)]);
        const node = tree(child.pid!).find((p) => p.comm === 'node' && /src\/demo\/main\.ts/.test(p.args))?.pid;
        expect(node).toBeDefined();
        process.kill(node!, 'SIGINT');
        const code = await exited;
        expect(code).toBe(0);
        expect(out).toMatch(/stopping \(SIGINT\)/);
        expect(out).toMatch(/stopped gateway \(/);
        expect(out).toMatch(/stopped local network/);
        expect(out).not.toMatch(/FAILED to stop/);
        console.log(`GatewayProcess.spec: npm start served the gateway after ${upAfter} ms`);
    });
});

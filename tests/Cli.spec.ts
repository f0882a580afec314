// Issue 12 items 1 and 11: both CLIs started as child processes, the way an operator and a client
// would, and talked to. `cocoon-worker --network sandbox` runs the node against an embedded chain
// (root, development verifier, the worker registered, an escrow for the local client key); `cocoon
// api-key` mints a key for that escrow, which the stock openai client uses; `cocoon --network
// sandbox chat` runs the client against a local network of its own. Bad numbers are refused in
// every option; nothing is written to the working directory; SIGTERM stops the node cleanly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, existsSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { parseApiKey } from '../src/sdk';
import { parseWorkerConfig } from '../src/worker';

const ROOT = resolve(__dirname, '..');
const WORKER = join(ROOT, 'bin', 'cocoon-worker.js');
const COCOON = join(ROOT, 'bin', 'cocoon.js');

function run(bin: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs = 90_000) {
    const r = spawnSync(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function getJson(url: string): Promise<{ status: number; json: any }> {
    return new Promise((resolveP, reject) => {
        httpsRequest(url, { rejectUnauthorized: false, agent: false }, (res) => {
            let t = '';
            res.on('data', (d) => (t += d));
            res.on('end', () => resolveP({ status: res.statusCode ?? 0, json: JSON.parse(t) }));
        }).on('error', reject).end();
    });
}

describe('the CLIs, as processes', () => {
    let home: string;
    let data: string;
    let cwd: string;
    let worker: ChildProcess | null = null;
    let logs = '';
    let ready: { url: string; escrow: string; worker: string } | null = null;

    beforeAll(async () => {
        home = mkdtempSync(join(tmpdir(), 'cocoon-cli-home-'));
        data = join(mkdtempSync(join(tmpdir(), 'cocoon-cli-data-')), 'worker');
        cwd = mkdtempSync(join(tmpdir(), 'cocoon-cli-cwd-'));
        worker = spawn(process.execPath, [WORKER, '--network', 'sandbox', '--dev-backend', '--dev-tokens', '12', '--model', 'sandbox-model', '--port', '0', '--data-dir', data, '--log-level', 'info'], {
            cwd, env: { ...process.env, COCOON_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
        });
        worker.stdout!.setEncoding('utf8').on('data', (d: string) => (logs += d));
        worker.stderr!.setEncoding('utf8').on('data', (d: string) => (logs += d));
        const until = Date.now() + 90_000;
        while (!ready && Date.now() < until && worker.exitCode === null) {
            for (const line of logs.split('\n')) {
                if (!line.startsWith('{')) continue;
                const j = JSON.parse(line);
                if (j.msg === 'sandbox ready: the worker is registered and your escrow is open') ready = { url: j.url, escrow: j.escrow, worker: j.worker };
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        if (!ready) throw new Error(`cocoon-worker did not start:\n${logs}`);
    });

    afterAll(async () => {
        if (worker && worker.exitCode === null) worker.kill('SIGKILL');
        for (const d of [home, cwd, resolve(data, '..')]) rmSync(d, { recursive: true, force: true });
    });

    it('cocoon-worker starts against a sandbox chain and serves: health, attestation, models', async () => {
        const h = await getJson(`${ready!.url}/healthz`);
        expect(h).toEqual({
            status: 200, json: {
                ok: true, stopping: false, ledger: { ok: true }, worker: { registered: true, active: true, currentKey: true },
                upstreams: { 'sandbox-model': [{ name: expect.stringMatching(/^openai-compatible http:\/\/127\.0\.0\.1:\d+\/v1$/), healthy: true, inflight: 0 }] },
            },
        });
        const a = await getJson(`${ready!.url}/attestation`);
        expect(a.json.worker).toBe(ready!.worker);
        expect(a.json.registered).toBe(true);
        expect(a.json.teeKey).toMatch(/^0x[0-9a-f]{64}$/);
        // the sandbox's default prices: 0.1 prompt, 0.025 cached, 0.3 completion TON per 1M tokens
        expect(a.json.prices).toEqual({ prompt: '100000000', cached: '25000000', completion: '300000000' });
        const m = await getJson(`${ready!.url}/v1/models`);
        expect(m.json.data[0].id).toBe('sandbox-model');
    });

    it('cocoon api-key mints a key for the escrow; the stock openai client gets a whole and a streamed answer with it', async () => {
        const r = run(COCOON, ['api-key', '--escrow', ready!.escrow, '--ttl', '1h', '--limit', '0.5'], { COCOON_HOME: home }, cwd);
        expect(r.code).toBe(0);
        const token = r.stdout.trim();
        const k = parseApiKey(token);
        expect(k.escrow.toString()).toBe(ready!.escrow);
        expect(k.limit).toBe(500_000_000n);
        expect(r.stderr).toMatch(/valid until/);
        const ai = new OpenAI({ baseURL: `${ready!.url}/v1`, apiKey: token, httpAgent: new Agent({ rejectUnauthorized: false }) });
        const whole = await ai.chat.completions.create({ model: 'sandbox-model', messages: [{ role: 'user', content: 'hi' }] });
        expect(whole.usage!.completion_tokens).toBe(12);
        expect((whole as any).cocoon_receipt.seq).toBe('1');
        let text = '';
        for await (const c of await ai.chat.completions.create({ model: 'sandbox-model', messages: [{ role: 'user', content: 'hi' }], stream: true })) text += c.choices[0]?.delta?.content ?? '';
        expect(text).toBe(whole.choices[0].message.content);
        // a key signed by someone else's client key is refused
        const other = run(COCOON, ['api-key', '--escrow', ready!.escrow, '--ttl', '1h'], { COCOON_HOME: mkdtempSync(join(tmpdir(), 'cocoon-other-')), COCOON_CLIENT_KEY_SEED: 'ab'.repeat(32) }, cwd);
        expect(other.code).toBe(0);
        const bad = await new OpenAI({ baseURL: `${ready!.url}/v1`, apiKey: other.stdout.trim(), maxRetries: 0, httpAgent: new Agent({ rejectUnauthorized: false }) })
            .chat.completions.create({ model: 'sandbox-model', messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
        expect([bad?.status, bad?.code]).toEqual([401, 'invalid_api_key']);
    });

    it('a bad number exits 1 naming the option (as processes: cocoon chat --max-tokens abc, cocoon-worker --port 99999)', () => {
        const cases: [string, string[], RegExp][] = [
            [COCOON, ['--network', 'sandbox', 'chat', 'hi', '--max-tokens', 'abc'], /--max-tokens: "abc" is not an integer/],
            [WORKER, ['--port', '99999'], /--port: 99999 is out of range/],
        ];
        for (const [bin, args, msg] of cases) {
            const r = run(bin, args, { COCOON_HOME: home }, cwd);
            expect({ args, code: r.code }).toEqual({ args, code: 1 });
            expect(r.stderr).toMatch(msg);
        }
    });

    it('every numeric option of both CLIs rejects a bad value before doing anything', () => {
        const { buildProgram } = require('../bin/cocoon.ts') as typeof import('../bin/cocoon');
        const { buildWorkerProgram } = require('../bin/cocoon-worker.ts') as typeof import('../bin/cocoon-worker');
        /** Parses argv with commander's exits turned into exceptions; returns what it would print. */
        const refusal = (program: import('commander').Command, args: string[]): string => {
            let err = '';
            for (const c of [program, ...program.commands]) c.exitOverride().configureOutput({ writeErr: (s) => (err += s), writeOut: () => undefined });
            for (const c of program.commands) c.action(() => { throw new Error('the action ran'); });
            try {
                program.parse(['node', 'cli', ...args]);
            } catch (e) {
                return err || (e as Error).message;
            }
            return '';
        };
        const E = 'EQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG';
        const cocoon: [string[], RegExp][] = [
            [['chat', 'hi', '--max-tokens', 'abc'], /--max-tokens: "abc" is not an integer/],
            [['chat', 'hi', '--max-tokens', '0'], /--max-tokens: 0 is out of range/],
            [['chat', 'hi', '--max-tokens', '2.5'], /--max-tokens: "2.5" is not an integer/],
            [['api-key', '--escrow', E, '--ttl', 'soon'], /--ttl: "soon" is not a duration/],
            [['api-key', '--escrow', E, '--ttl', '0'], /--ttl: 0 is out of range/],
            [['api-key', '--escrow', E, '--ttl', '1h', '--limit', '1.2.3'], /--limit: "1.2.3" is not a TON amount/],
            [['api-key', '--escrow', E, '--ttl', '1h', '--limit', '0'], /--limit: must be more than 0/],
            [['open-escrow', '--worker', E, '--deposit', '-1'], /--deposit: "-1" is not a TON amount/],
            [['open-escrow', '--worker', E, '--deposit', '1', '--max-price', '1e9'], /--max-price: "1e9" is not a TON amount/],
            [['top-up', '--worker', E, '--amount', 'NaN'], /--amount: "NaN" is not a TON amount/],
            [['workers', '--max-price', 'cheap'], /--max-price: "cheap" is not a TON amount/],
            [['workers', '--max-completion', '-2'], /--max-completion: "-2" is not a TON amount/],
            [['open-escrow', '--worker', E, '--deposit', '1', '--max-cached', 'x'], /--max-cached: "x" is not a TON amount/],
        ];
        for (const [args, msg] of cocoon) expect({ args, out: refusal(buildProgram(), args) }).toEqual({ args, out: expect.stringMatching(msg) });
        const worker: [string[], RegExp][] = [
            [['--port', '80abc'], /--port: "80abc" is not an integer/],
            [['--port', '-1'], /--port: -1 is out of range/],
            [['--max-inflight', '1e3'], /--max-inflight: "1e3" is not an integer/],
            [['--max-connections', '8'], /--max-connections: 8 is out of range/],
            [['--dev-tokens', 'many'], /--dev-tokens: "many" is not an integer/],
            [['--price', '0'], /--price: must be more than 0/],
            [['--price-completion', 'lots'], /--price-completion: "lots" is not a TON amount/],
            [['--deposit', 'ten'], /--deposit: "ten" is not a TON amount/],
            [['--measurement', '12'], /--measurement: "12" must be 0x/],
        ];
        for (const [args, msg] of worker) expect({ args, out: refusal(buildWorkerProgram(), args) }).toEqual({ args, out: expect.stringMatching(msg) });
        // and a good line parses
        expect(refusal(buildWorkerProgram(), ['--port', '8443', '--max-inflight', '64'])).toBe('');
    });

    it('cocoon chat against a local network of its own streams an answer and checks the receipt', () => {
        const r = run(COCOON, ['--network', 'sandbox', 'chat', 'What is TON?', '--max-tokens', '16'], { COCOON_HOME: home }, cwd);
        expect(r.code).toBe(0);
        expect(r.stdout.trim().split(/\s+/).length).toBeGreaterThanOrEqual(8);
        expect(r.stderr).toMatch(/\[receipt seq 1 verified: \d+ prompt \+ \d+ cached \+ 16 completion tokens, [\d.]+ TON; escrow total \d+ tokens/);
    });

    it('cocoon workers lists prices per class and what the chain proves of each worker (settled volume, renewals, slashes, since)', () => {
        const r = run(COCOON, ['--network', 'sandbox', 'workers', '--model', 'llama-3-8b-instruct'], { COCOON_HOME: home }, cwd);
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split('\n');
        expect(lines[0]).toMatch(/^worker\s+models\s+prompt\/cached\/completion TON\/1M\s+settled TON \(escrows\)\s+renewals\s+slashes\s+since\s+attested until\s+stake TON\s+endpoint/);
        const rows = lines.slice(2);
        expect(rows).toHaveLength(3);
        // cheapest first: the demo's three price sets, 50/12.5/150, 75/18.75/225 and 100/25/300 TON per 1M tokens
        expect(rows.map((l) => l.split(/\s+/)[2])).toEqual(['50.0/12.5/150.0', '75.0/18.75/225.0', '100.0/25.0/300.0']);
        // fresh workers: nothing settled yet, no renewal, no slash
        for (const l of rows) expect(l.split(/\s+/).slice(3, 7)).toEqual(['0.0', '(0)', '0', '0']);
        // a cap per class filters: none of them is at or below 0.1 TON per 1M completion tokens
        const none = run(COCOON, ['--network', 'sandbox', 'workers', '--max-completion', '0.1'], { COCOON_HOME: home }, cwd);
        expect(none.stderr).toMatch(/no active worker matches/);
    });

    it('cocoon --verify-quote: bad flag combinations exit 1; a sandbox worker (dev attestation, no quote) is refused before the prompt', () => {
        const coll = join(cwd, '..', 'no-such-collateral.json');
        const cases: [string[], RegExp][] = [
            [['--network', 'sandbox', '--collateral', coll, 'chat', 'hi'], /--collateral, --pccs and --accept-tcb go with --verify-quote/],
            [['--network', 'sandbox', '--verify-quote', 'chat', 'hi'], /--verify-quote needs Intel's collateral: --collateral FILE or --pccs URL/],
            [['--network', 'sandbox', '--verify-quote', '--pccs', 'https://pccs.invalid', '--accept-tcb', 'Maybe', 'chat', 'hi'], /--accept-tcb:/],
        ];
        for (const [args, msg] of cases) {
            const r = run(COCOON, args, { COCOON_HOME: home }, cwd);
            expect({ args, code: r.code }).toEqual({ args, code: 1 });
            expect(r.stderr).toMatch(msg);
        }
        const r = run(COCOON, ['--network', 'sandbox', '--verify-quote', '--pccs', 'https://pccs.invalid', 'chat', 'What is TON?', '--max-tokens', '8'], { COCOON_HOME: home }, cwd);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/the worker's TDX quote does not check out: the node serves no quote/);
        expect(r.stdout).toBe('');
    });

    it('keeps everything out of the working directory: the ledger in the data directory (0700), no key file anywhere', () => {
        expect(readdirSync(cwd)).toEqual([]);
        expect(statSync(data).mode & 0o777).toBe(0o700);
        expect(readdirSync(data).filter((f) => !/^ledger-sandbox\.sqlite(-wal|-shm)?$/.test(f))).toEqual([]);
        expect(statSync(join(home, 'client-key')).mode & 0o777).toBe(0o600);
        expect(existsSync(join(cwd, 'tee-key.seed'))).toBe(false);
    });

    it('SIGTERM: the node stops accepting, closes its ledger and exits 0', async () => {
        const exited = new Promise<number | null>((r) => worker!.once('exit', (code) => r(code)));
        worker!.kill('SIGTERM');
        expect(await exited).toBe(0);
        expect(logs).toMatch(/"msg":"worker node stopped"/);
    });

    it('a config parsed once is accepted by startWorkerNode as is (the CLI used to parse it twice and exit 1)', () => {
        const c = parseWorkerConfig({ model: 'm', backend: { url: 'http://127.0.0.1:1/v1' }, root: '0:' + '00'.repeat(32), operator: '0:' + '01'.repeat(32), measurement: '0xab', dbPath: '/tmp/x' });
        expect(parseWorkerConfig(c)).toBe(c);
        expect(c.measurement).toBe(0xabn);
    });
});

// The shipped command, started as its users start it: `cocoon-verifier check` on the real vectors
// at their pinned times, `keygen`/`pubkey`, and `serve` with the production Intel pin (real quotes,
// a key file, SIGTERM).
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4 } from '@ton/ton';

const BIN = join(__dirname, '..', 'bin', 'cocoon-verifier.js');
const WORKER_BIN = join(__dirname, '..', 'bin', 'cocoon-worker.js');
const V = join(__dirname, 'vectors', 'tdx');
const P1 = ['--quote', join(V, 'phala-dcap-qvl/tdx_quote'), '--collateral', join(V, 'phala-dcap-qvl/tdx_quote_collateral.json'), '--at', '1751328000'];
const P3 = ['--quote', join(V, 'cocoon/quote.dat'), '--collateral', join(V, 'phala-dcap-qvl/tdx_quote_outdated_collateral.json'), '--at', '1772323200'];
const G1 = ['--quote', join(V, 'zkdcap/quote_tdx_00806f050000.dat'), '--collateral', join(V, 'zkdcap/collateral.json'), '--at', '1738368000'];
const COCOON_IMAGE = '04b3afd931d28680af91a15b09d672c40ad6b141f7f9089a8d67d595220f7436';

let home: string;
beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'cocoon-verifier-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, [BIN, ...args], {
        encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: home, ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout) };
}

describe('cocoon-verifier check', () => {
    it('accepts P1 and Cocoon\'s quote at their pinned times (exit 0) and prints the verdict', () => {
        const p1 = cli(['check', ...P1, '--json']);
        expect(p1.code).toBe(0);
        expect(p1.json()).toMatchObject({ accepted: true, reason: null, status: 'UpToDate', advisories: [], debug: false, skipped: ['measurement', 'report_data'] });
        expect(Object.keys(p1.json())).toEqual(expect.arrayContaining(['accepted', 'reason', 'status', 'advisories', 'measurement', 'debug', 'reportData', 'quoteHash', 'skipped']));
        const p3 = cli(['check', ...P3, '--allow-measurement', '0x' + COCOON_IMAGE]);
        expect(p3.code).toBe(0);
        expect(p3.stdout).toMatch(/^ACCEPTED\n/);
        expect(p3.stdout).toContain(`measurement  ${COCOON_IMAGE}`);
        expect(p3.stdout).toMatch(/skipped +report_data/);
    });

    it('refuses G1 by default (exit 1, tcb_status, its advisories) and accepts it with --accept-tcb OutOfDate', () => {
        const g = cli(['check', ...G1, '--json']);
        expect(g.code).toBe(1);
        expect(g.json()).toMatchObject({ accepted: false, reason: 'tcb_status', status: 'OutOfDate', advisories: ['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986'] });
        const ok = cli(['check', ...G1, '--accept-tcb', 'UpToDate', '--accept-tcb', 'OutOfDate', '--json']);
        expect([ok.code, ok.json().status]).toEqual([0, 'OutOfDate']);
    });

    it('refuses: expired collateral, the debug quote N1 without collateral, another image, another REPORTDATA', () => {
        const expired = cli(['check', ...P1.slice(0, -1), '1753000000', '--json']);
        expect([expired.code, expired.json().reason]).toEqual([1, 'collateral_expired']);
        const n1 = cli(['check', '--quote', join(V, 'trustee/tdx_quote_4.dat'), '--json']);
        expect([n1.code, n1.json().reason, n1.json().debug]).toEqual([1, 'debug', true]);
        expect(n1.json().skipped).toEqual(['intel_chain', 'collateral_window', 'tcb_status', 'measurement', 'report_data']);
        const image = cli(['check', ...P1, '--allow-measurement', COCOON_IMAGE, '--json']);
        expect([image.code, image.json().reason]).toEqual([1, 'measurement_not_allowed']);
        const rd = cli(['check', ...P1, '--report-data', '00'.repeat(64), '--json']);
        expect([rd.code, rd.json().reason]).toEqual([1, 'report_data_mismatch']);
    });

    it('rejects bad numbers and hex with a clear message (exit 2)', () => {
        const cases: [string[], RegExp][] = [
            [['--at', '17e8'], /'--at <unix>' argument '17e8' is invalid. must be unix seconds/],
            [['--at', '99999999999'], /must be unix seconds/],
            [['--allow-measurement', 'abc'], /must be 64 hex digits \(32 bytes\)/],
            [['--report-data', '0x' + '00'.repeat(32)], /must be 128 hex digits \(64 bytes\)/],
            [['--accept-tcb', 'Fine'], /must be one of UpToDate, /],
            [['--root', 'nope'], /must be a TON address/],
            [['--max-ttl', '-5'], /must be a positive integer/],
        ];
        for (const [extra, msg] of cases) {
            const r = cli(['check', ...P1, ...extra]);
            expect([extra.join(' '), r.code]).toEqual([extra.join(' '), 2]);
            expect(r.stderr).toMatch(msg);
        }
        const missing = cli(['check', '--quote', join(home, 'none.dat')]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(/cannot read the quote file .*none\.dat/);
    });
});

describe('cocoon-verifier keygen, pubkey and serve', () => {
    let child: ChildProcessWithoutNullStreams | null = null;
    afterEach(() => {
        if (child && child.exitCode === null) child.kill('SIGKILL');
        child = null;
    });

    function startServe(args: string[], env: Record<string, string> = {}): Promise<{ url: string; logs: () => string; exit: Promise<number | null> }> {
        const c = spawn(process.execPath, [BIN, 'serve', ...args], { env: { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: home, ...env } });
        child = c;
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        const exit = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('serve did not start: ' + out)), 60_000);
            c.stdout.on('data', () => {
                const m = /"url":"(http:\/\/[^"]+)".*"msg":"verifier listening"/.exec(out);
                if (m) {
                    clearTimeout(timer);
                    resolve({ url: m[1], logs: () => out, exit });
                }
            });
            exit.then((code) => {
                clearTimeout(timer);
                reject(new Error(`serve exited with ${code}: ${out}`));
            });
        });
    }

    it('keygen writes a 0600 key file and refuses to overwrite it; pubkey prints its public key', () => {
        const file = join(home, 'keys', 'v.seed');
        const k = cli(['keygen', '--out', file]);
        expect(k.code).toBe(0);
        expect(statSync(file).mode & 0o777).toBe(0o600);
        const pub = /public key .*: (0x[0-9a-f]{64})/.exec(k.stdout)![1];
        expect(cli(['pubkey', '--key-file', file]).stdout.trim()).toBe(pub);
        const again = cli(['keygen', '--out', file]);
        expect(again.code).toBe(1);
        expect(again.stderr).toMatch(/exists: it may be a key in use/);
        expect(cli(['keygen']).stdout).toContain(join(home, 'cocoon-ton', 'verifier.seed'));
    });

    it('serve refuses a key file others can read', async () => {
        const file = join(home, 'open.seed');
        writeFileSync(file, 'ab'.repeat(32) + '\n');
        chmodSync(file, 0o644);
        const r = spawnSync(process.execPath, [BIN, 'serve', '--root', '0:' + '11'.repeat(32), '--allow-measurement', COCOON_IMAGE, '--key-file', file, '--port', '0'], {
            encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', XDG_CONFIG_HOME: home },
        });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/accessible to other users \(mode 644\): run chmod 600/);
    });

    it('serve: Intel pin, real quotes, 4xx reasons, health and metrics; the key never in its logs; SIGTERM stops it cleanly', async () => {
        const seed = 'cd'.repeat(32);
        const s = await startServe(['--root', '0:' + '11'.repeat(32), '--allow-measurement', COCOON_IMAGE, '--port', '0', '--collateral', join(V, 'phala-dcap-qvl/tdx_quote_outdated_collateral.json')], { COCOON_VERIFIER_SEED: seed });
        const health = (await (await fetch(s.url + '/healthz')).json()) as any;
        expect(health.ok).toBe(true);
        const info = (await (await fetch(s.url + '/v1/info')).json()) as any;
        expect(info.rootKeyId).toBe('46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef31463613de1570d516200993');
        expect(info.verifierKey).toBe(health.verifierKey);
        const post = async (path: string, body: unknown) => {
            const res = await fetch(s.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
            return { status: res.status, json: (await res.json()) as any };
        };
        const quote = readFileSync(join(V, 'cocoon/quote.dat')).toString('base64');
        // Cocoon's real quote with its collateral from the service's file: Intel's data expired on 2026-03-20
        const expired = await post('/v1/check', { quote });
        expect([expired.status, expired.json.reason]).toEqual([422, 'collateral_expired']);
        const statement = { root: '0:' + '11'.repeat(32), operator: '0:' + '22'.repeat(32), teeKey: '0x01', tlsKeyHash: '0x02', issuedAt: 1_000_000_000, expiresAt: 1_000_100_000 };
        const skew = await post('/v1/attest', { quote, statement });
        expect([skew.status, skew.json.reason]).toEqual([422, 'issued_at_skew']);
        const bad = await post('/v1/attest', { quote: 'AAAA', statement: { ...statement, teeKey: 'x' } });
        expect([bad.status, bad.json.reason, bad.json.issues[0].path]).toEqual([400, 'bad_request', 'statement.teeKey']);
        const metrics = await (await fetch(s.url + '/metrics')).text();
        expect(metrics).toMatch(/cocoon_verifier_requests_total\{route="\/v1\/attest",status="422"\} 1/);
        child!.kill('SIGTERM');
        expect(await s.exit).toBe(0);
        expect(s.logs()).toContain('"msg":"verifier stopped"');
        expect(s.logs()).toContain('"keyFrom":"$COCOON_VERIFIER_SEED"');
        expect(s.logs()).not.toContain(seed);
    });
});

describe('npm run scripts pass SIGTERM on', () => {
    // `npm run verifier|worker|cocoon` and `npm start` exec their command (package.json): without it,
    // npm's SIGTERM stops at the shell between npm and node, and the service never stops cleanly.
    let child: ChildProcessWithoutNullStreams | null = null;
    afterEach(() => {
        if (child && child.exitCode === null) child.kill('SIGKILL');
        child = null;
    });

    it('npm run verifier -- serve stops cleanly on SIGTERM to npm', async () => {
        const c = spawn('npm', ['run', '-s', 'verifier', '--', 'serve', '--root', '0:' + '11'.repeat(32), '--allow-measurement', COCOON_IMAGE, '--port', '0'], {
            cwd: join(__dirname, '..'), env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: home, COCOON_VERIFIER_SEED: 'ef'.repeat(32) },
        });
        child = c;
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        const exit = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('serve did not start: ' + out)), 60_000);
            c.stdout.on('data', () => { if (out.includes('"msg":"verifier listening"')) { clearTimeout(timer); resolve(); } });
            exit.then((code) => { clearTimeout(timer); reject(new Error(`npm exited with ${code}: ${out}`)); });
        });
        c.kill('SIGTERM');
        expect(await exit).toBe(0);
        expect(out).toContain('"msg":"verifier stopped"');
    });
    it('the long-running scripts exec their command', () => {
        const scripts = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).scripts as Record<string, string>;
        for (const name of ['start', 'worker', 'cocoon', 'verifier']) {
            expect([name, /(^|&& )exec ts-node /.test(scripts[name])]).toEqual([name, true]);
        }
    });
});

describe('cocoon-worker --attestation tdx: verifier flags', () => {
    // Past these checks the node starts (startWorkerNode); that the process then says "TDX is not
    // available on this machine" is tested on the provider (VerifierService.spec.ts, WorkerNode.spec.ts).
    it('names a missing verifier URL and a bad quorum before anything starts', async () => {
        const words = await mnemonicNew(24);
        const keys = await mnemonicToPrivateKey(words);
        const operator = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey }).address.toString();
        const args = [
            WORKER_BIN, '--attestation', 'tdx', '--model', 'm', '--backend-url', 'http://127.0.0.1:9/v1', '--root', '0:' + '11'.repeat(32), '--operator', operator,
            '--measurement', '0x' + COCOON_IMAGE, '--db', join(home, 'worker.db'), '--port', '0', '--log-level', 'silent',
        ];
        const env = { PATH: process.env.PATH ?? '', HOME: home, COCOON_OPERATOR_MNEMONIC: words.join(' '), COCOON_TEE_SEED_FILE: join(home, 'tee.seed'), COCOON_TSM_PATH: join(home, 'no-tsm') };
        const noUrl = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env });
        expect(noUrl.status).toBe(1);
        expect(noUrl.stderr).toMatch(/--attestation tdx needs --verifier-url or COCOON_TDX_VERIFIER_URL/);
        const bad = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, env: { ...env, COCOON_TDX_VERIFIER_URL: 'http://127.0.0.1:9', COCOON_TDX_VERIFIER_QUORUM: 'two' } });
        expect(bad.status).toBe(1);
        expect(bad.stderr).toMatch(/--verifier-quorum \/ COCOON_TDX_VERIFIER_QUORUM must be a positive integer, got "two"/);
    });
});

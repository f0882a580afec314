// The npm package as another service gets it: `npm pack`, the tarball installed into a fresh project
// (offline, from the npm cache `npm ci` filled, at the versions of this project's lockfile), and used
// there from plain Node: require and import, a TypeScript consumer, addresses, the commands.
// The README's "Use it from your service" example also runs, against a local sandbox network.
import '@ton/test-utils';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import ts from 'typescript';
import { Address, Cell, toNano } from '@ton/core';
import { paramsCell, publicKeyToBigInt, ESCROW_OPEN } from '../src/sdk';
import { createNet, openEscrow, registerWorker, GOV_DELAY, MEASUREMENT, MODEL } from './helpers/network';

const ROOT = join(__dirname, '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/**
 * The environment for the npm and node child processes: `npm test` exports its own config as npm_*
 * variables (npm_config_local_prefix names this project), which would steer an npm run elsewhere.
 */
function childEnv(): NodeJS.ProcessEnv {
    const keep = new Set(['npm_config_cache', 'npm_config_userconfig']);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_') || keep.has(k.toLowerCase())) env[k] = v;
    env.PATH = dirname(process.execPath) + delimiter + (process.env.PATH ?? '');
    env.NODE_OPTIONS = '';
    return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 120_000): SpawnSyncReturns<string> {
    return spawnSync(cmd, args, { cwd, env: childEnv(), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
}

/** Runs and returns stdout; a failure shows what the command printed. */
function ok(cmd: string, args: string[], cwd: string, timeoutMs?: number): string {
    const r = run(cmd, args, cwd, timeoutMs);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

interface LockEntry {
    version?: string;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    [k: string]: unknown;
}

/**
 * A package-lock.json for the consumer project: cocoon-ton from the tarball, and every package it
 * needs at the version and path this project's own lockfile has (so `npm ci --offline` finds each in
 * the cache). Packages are reached as Node resolves them: dependencies, optional dependencies that
 * exist, required peers; optional peers (better-sqlite3, @ton/sandbox) are left out, as npm does.
 */
function consumerLock(tarball: string, integrity: string, devDependencies: Record<string, string>) {
    const project = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages as Record<string, LockEntry>;
    const resolve = (from: string, name: string): string | null => {
        for (let base = from; ; ) {
            const at = (base ? base + '/' : '') + 'node_modules/' + name;
            if (project[at]) return at;
            if (!base) return null;
            base = base.slice(0, base.lastIndexOf('node_modules/')).replace(/\/$/, '');
        }
    };
    const closure = (from: string, entry: LockEntry): Set<string> => {
        const seen = new Set<string>();
        const queue: [string, LockEntry][] = [[from, entry]];
        while (queue.length) {
            const [at, e] = queue.shift()!;
            const required = [
                ...Object.keys(e.dependencies ?? {}),
                ...Object.keys(e.peerDependencies ?? {}).filter((n) => !e.peerDependenciesMeta?.[n]?.optional),
            ];
            const wanted = [...required.map((n) => [n, true] as const), ...Object.keys(e.optionalDependencies ?? {}).map((n) => [n, false] as const)];
            for (const [name, must] of wanted) {
                const p = resolve(at, name);
                if (!p) {
                    if (must) throw new Error(`${name}, needed by ${at || 'cocoon-ton'}, is not in package-lock.json`);
                    continue;
                }
                if (!seen.has(p)) {
                    seen.add(p);
                    queue.push([p, project[p]]);
                }
            }
        }
        return seen;
    };
    // cocoon-ton is this project's root: its dependencies resolve from the top of the project's tree.
    const prod = closure('', { dependencies: PKG.dependencies, peerDependencies: PKG.peerDependencies, peerDependenciesMeta: PKG.peerDependenciesMeta });
    const dev = closure('', { dependencies: devDependencies });
    const packages: Record<string, LockEntry> = {
        '': { name: 'consumer', version: '1.0.0', dependencies: { 'cocoon-ton': `file:${tarball}` }, devDependencies },
        'node_modules/cocoon-ton': {
            version: PKG.version, resolved: `file:${tarball}`, integrity, license: PKG.license,
            dependencies: PKG.dependencies, peerDependencies: PKG.peerDependencies, peerDependenciesMeta: PKG.peerDependenciesMeta,
            bin: PKG.bin, engines: PKG.engines,
        },
    };
    for (const p of [...prod, ...dev].sort()) {
        const { dev: _d, devOptional: _o, peer: _p, ...entry } = project[p];
        packages[p] = prod.has(p) ? entry : { ...entry, dev: true };
    }
    return { name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages };
}

let tmp: string;
let app: string;
let packed: { filename: string; size: number; unpackedSize: number; entryCount: number; files: { path: string }[] };
const timings: string[] = [];

function timed<T>(label: string, fn: () => T): T {
    const t0 = Date.now();
    try {
        return fn();
    } finally {
        timings.push(`${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
}

/** Runs a script file in the consumer project and parses the JSON it prints. */
function inApp(file: string, source: string, args: string[] = []): any {
    writeFileSync(join(app, file), source);
    return JSON.parse(ok(process.execPath, [file, ...args], app));
}

const bin = (name: string) => join(app, 'node_modules', '.bin', name);
/** better-sqlite3 for the consumer: this project's compiled copy, linked (installing it would compile it again). */
const sqliteAt = () => join(app, 'node_modules', 'better-sqlite3');
const linkSqlite = () => {
    if (!existsSync(sqliteAt())) symlinkSync(join(ROOT, 'node_modules', 'better-sqlite3'), sqliteAt(), 'dir');
};
const unlinkSqlite = () => {
    if (lstatSync(sqliteAt(), { throwIfNoEntry: false })?.isSymbolicLink()) unlinkSync(sqliteAt());
};

beforeAll(() => {
    // What `npm run build` does after the contracts (npm test compiles those before jest).
    timed('build dist', () => ok(process.execPath, [join(ROOT, 'scripts', 'build-package.mjs')], ROOT));
    tmp = mkdtempSync(join(tmpdir(), 'cocoon-package-'));
    // --ignore-scripts: prepack would build again.
    packed = JSON.parse(timed('npm pack', () => ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)))[0];
    app = join(tmp, 'app');
    mkdirSync(app);
    const tarball = `../${packed.filename}`;
    const integrity = 'sha512-' + createHash('sha512').update(readFileSync(join(tmp, packed.filename))).digest('base64');
    // A TypeScript consumer brings its own @types/node (the declarations use Buffer).
    const devDependencies = { '@types/node': PKG.devDependencies['@types/node'] as string };
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { 'cocoon-ton': `file:${tarball}` }, devDependencies }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(consumerLock(tarball, integrity, devDependencies), null, 2));
    timed('npm ci --offline', () => ok('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], app, 180_000));
}, 300_000);

afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log(`Package.spec: ${timings.join(', ')}; tarball ${(packed?.size / 1024).toFixed(0)} kB, ${packed?.entryCount} files`);
});

describe('the npm package', () => {
    it('ships the compiled SDK, wrappers, contract code, client, worker and commands, and no sources', () => {
        const files = packed.files.map((f) => f.path);
        for (const f of [
            'package.json', 'README.md', 'bin/cocoon.js', 'bin/cocoon-worker.js', 'bin/run.js',
            'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/client.js', 'dist/worker.js',
            'dist/src/sdk/ops.js', 'dist/src/sdk/ops.d.ts', 'dist/src/client/client.js', 'dist/src/worker/node.js',
            'dist/wrappers/Worker.js', 'dist/build/Worker/tact_Worker.js', 'dist/build/CocoonRoot/tact_CocoonRoot.d.ts',
            'dist/contracts/CocoonRoot.code.boc', 'dist/contracts/Worker.compiled.json', 'dist/bin/cocoon.js', 'dist/bin/cocoon-worker.js',
        ]) expect(files).toContain(f);
        const sources = files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts')) || /^(src|tests|contracts|build|scripts|bench|wrappers)\//.test(f));
        expect(sources).toEqual([]);
        expect(files.filter((f) => f.includes('.compile.'))).toEqual([]);
        expect(packed.unpackedSize).toBeLessThan(5 << 20);
    });

    it('installs without TypeScript, ts-node, the Tact compiler or a native module', () => {
        const nm = join(app, 'node_modules');
        for (const absent of ['typescript', 'ts-node', '@tact-lang/compiler', '@ton/blueprint', 'better-sqlite3', '@ton/sandbox', 'jest']) {
            expect([absent, existsSync(join(nm, absent))]).toEqual([absent, false]);
        }
        // The required peers came along, at this project's versions.
        expect(JSON.parse(readFileSync(join(nm, '@ton/core/package.json'), 'utf8')).version).toBe(require('@ton/core/package.json').version);
        expect(existsSync(join(nm, '@ton/crypto'))).toBe(true);
        expect(readdirSync(join(nm, '.bin'))).toEqual(expect.arrayContaining(Object.keys(PKG.bin)));
    });

    it('gives one module to require and to import for every entry point, exporting what its sources export', () => {
        linkSqlite(); // cocoon-ton/worker loads it (the next test checks the message without it)
        // "exports": "." is src/sdk, "./X" is src/X (scripts/build-package.mjs builds them so).
        const entries = Object.entries(PKG.exports as Record<string, unknown>).filter(([, t]) => typeof t === 'object')
            .map(([sub]) => ({ spec: sub === '.' ? 'cocoon-ton' : `cocoon-ton/${sub.slice(2)}`, src: sub === '.' ? 'src/sdk' : `src/${sub.slice(2)}` }));
        expect(entries.map((e) => e.spec)).toEqual(expect.arrayContaining(['cocoon-ton', 'cocoon-ton/client', 'cocoon-ton/worker']));
        const specs = JSON.stringify(entries.map((e) => e.spec));
        const cjs = inApp('entries.cjs', `
            const out = {};
            for (const spec of ${specs}) out[spec] = { names: Object.keys(require(spec)).sort(), file: require.resolve(spec) };
            console.log(JSON.stringify(out));
        `);
        const esm = inApp('entries.mjs', `
            import { createRequire } from 'node:module';
            import { CocoonRoot, workerAddress } from 'cocoon-ton';
            const require = createRequire(import.meta.url);
            const out = { named: CocoonRoot === require('cocoon-ton').CocoonRoot && workerAddress === require('cocoon-ton').workerAddress };
            for (const spec of ${specs}) {
                const ns = await import(spec);
                const cjs = require(spec);
                out[spec] = {
                    names: Object.keys(ns).filter((k) => k !== 'default').sort(),
                    same: ns.default === cjs && Object.keys(cjs).every((k) => k === '__esModule' || ns[k] === cjs[k]),
                };
            }
            console.log(JSON.stringify(out));
        `);
        const exportsOf = (m: object) => Object.keys(m).filter((k) => k !== '__esModule').sort();
        for (const { spec, src } of entries) {
            expect([spec, cjs[spec].names]).toEqual([spec, exportsOf(require(join(ROOT, src)))]);
            expect([spec, esm[spec].names]).toEqual([spec, cjs[spec].names]);
            expect([spec, esm[spec].same]).toEqual([spec, true]);
        }
        expect(cjs['cocoon-ton'].names).toEqual(expect.arrayContaining(['CocoonRoot', 'Worker', 'ClientEscrow', 'CocoonOps', 'workerAddress', 'verifyReceipt', 'CocoonError', 'storeParams']));
        expect(cjs['cocoon-ton/client'].names).toEqual(expect.arrayContaining(['CocoonClient', 'connectRemote', 'verifyWireReceipt']));
        expect(cjs['cocoon-ton/worker'].names).toEqual(expect.arrayContaining(['startWorkerNode', 'parseWorkerConfig']));
        expect(cjs['cocoon-ton'].file).toBe(join(app, 'node_modules', 'cocoon-ton', 'dist', 'index.js'));
        expect(esm.named).toBe(true);
    });

    it('derives the root, worker and escrow addresses the sandbox deploys, from the contract code it ships', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'package-operator');
        const e = await openEscrow(net, w, 'package-client');
        const input = {
            owner: net.owner.address.toString(), networkId: 1, params: paramsCell(net.params).toBoc().toString('base64'),
            operator: w.operator.address.toString(), client: e.client.address.toString(),
            // the fixture's genesis (createNet): it is part of the root's StateInit, hence of its address
            genesis: { governanceDelay: GOV_DELAY, measurements: [[MEASUREMENT.toString(), MODEL]], verifierKeys: [publicKeyToBigInt(net.verifier.publicKey).toString()] },
        };
        const got = inApp('addresses.cjs', `
            const { readFileSync } = require('node:fs');
            const { Address, Cell } = require('@ton/core');
            const { rootFor, Worker, emptyWorkerState, escrowForOpening, workerAddress, escrowAddress, loadParams } = require('cocoon-ton');
            const input = JSON.parse(process.argv[2]);
            (async () => {
                const g = input.genesis;
                const root = await rootFor(Address.parse(input.owner), input.networkId, loadParams(Cell.fromBase64(input.params).beginParse()), 1, {
                    governanceDelay: g.governanceDelay, measurements: g.measurements.map(([m, model]) => [BigInt(m), model]), verifierKeys: g.verifierKeys.map(BigInt),
                });
                // the wrappers with their StateInit (the SDK's workerFor/escrowFor carry none)
                const worker = await Worker.fromInit(root.address, Address.parse(input.operator), emptyWorkerState());
                const escrow = await escrowForOpening(worker.address, Address.parse(input.client));
                if (!worker.address.equals(await workerAddress(root.address, Address.parse(input.operator)))) throw new Error('workerAddress differs');
                if (!escrow.address.equals(await escrowAddress(worker.address, Address.parse(input.client)))) throw new Error('escrowAddress differs');
                const shipped = (name) => ({
                    boc: Cell.fromBoc(readFileSync(require.resolve('cocoon-ton/contracts/' + name + '.code.boc')))[0].hash().toString('hex'),
                    json: require('cocoon-ton/contracts/' + name + '.compiled.json').hash,
                });
                const code = (c) => c.init.code.hash().toString('hex');
                console.log(JSON.stringify({
                    root: root.address.toRawString(), worker: worker.address.toRawString(), escrow: escrow.address.toRawString(),
                    wrapperCode: { CocoonRoot: code(root), Worker: code(worker), ClientEscrow: code(escrow) },
                    shippedCode: { CocoonRoot: shipped('CocoonRoot'), Worker: shipped('Worker'), ClientEscrow: shipped('ClientEscrow') },
                }));
            })().catch((e) => { console.error(e); process.exit(1); });
        `, [JSON.stringify(input)]);

        // The sandbox deployed the root, and the root deployed the Worker, at the derived addresses.
        expect(got.root).toBe(net.root.address.toRawString());
        const worker = Address.parseRaw(got.worker);
        const escrow = Address.parseRaw(got.escrow);
        expect(w.result.transactions).toHaveTransaction({ from: net.root.address, to: worker, deploy: true, success: true });
        expect(e.result.transactions).toHaveTransaction({ to: escrow, deploy: true, success: true });

        // The code the package ships is the code running on-chain, and the code its wrappers derive from.
        const onChain = async (a: Address) => {
            const st = (await net.chain.getContract(a)).accountState;
            if (st?.type !== 'active') throw new Error(`${a} is not active`);
            return (st.state.code as Cell).hash().toString('hex');
        };
        const chainCode = { CocoonRoot: await onChain(net.root.address), Worker: await onChain(worker), ClientEscrow: await onChain(escrow) };
        expect(new Set(Object.values(chainCode)).size).toBe(3);
        expect(got.wrapperCode).toEqual(chainCode);
        for (const [name, hash] of Object.entries(chainCode)) expect([name, got.shippedCode[name]]).toEqual([name, { boc: hash, json: hash }]);
    });

    it('type-checks a TypeScript consumer (and the README example) against the declarations', () => {
        const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
        const section = readme.slice(readme.indexOf('## Use it from your service'));
        const example = /```ts\n([\s\S]*?)```/.exec(section)![1];
        const consumer = (kind: string) => `
            import { Address, toNano, type Sender } from '@ton/core';
            import { CocoonOps, CocoonRoot, workerAddress, verifyReceipt, errorForExitCode, type WorkerInfo, type Chain } from 'cocoon-ton';
            import { CocoonClient, verifyWireReceipt, type WireReceipt } from 'cocoon-ton/client';
            import { startWorkerNode, parseWorkerConfig } from 'cocoon-ton/worker';
            export async function derive(root: Address, operator: Address): Promise<string> {
                const worker: Address = await workerAddress(root, operator);
                return worker.toString() + '${kind}';
            }
            export async function state(chain: Chain, sender: Sender, worker: Address): Promise<bigint | null> {
                const info: WorkerInfo | null = await new CocoonOps(chain, sender).workerInfo(worker);
                return info ? info.prices.completion + toNano('1') : null;
            }
            export function notAny(): void {
                // @ts-expect-error: an address is an Address (the declarations are real types, not any)
                void workerAddress('EQ-not-an-address', 'x');
                // @ts-expect-error: the wire receipt needs every field
                verifyWireReceipt({ escrow: 'x' } satisfies Partial<WireReceipt>, {} as any);
            }
            export const used = [CocoonRoot, CocoonClient, startWorkerNode, parseWorkerConfig, verifyReceipt, errorForExitCode.name];
        `;
        writeFileSync(join(app, 'consumer.ts'), consumer('cjs'));
        writeFileSync(join(app, 'consumer.mts'), consumer('esm'));
        writeFileSync(join(app, 'readme.mts'), example);
        const base = { target: 'ES2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: true };
        // node16: .ts is CommonJS (require condition), .mts is ESM (import condition).
        writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.ts', 'consumer.mts', 'readme.mts'] }));
        // module commonjs resolves like node10: no "exports", so typesVersions maps the subpaths.
        writeFileSync(join(app, 'tsconfig.node10.json'), JSON.stringify({ compilerOptions: { ...base, module: 'commonjs' }, files: ['consumer.ts'] }));
        expect(timed('tsc node16', () => ok(process.execPath, [TSC, '-p', 'tsconfig.json'], app))).toBe('');
        expect(timed('tsc node10', () => ok(process.execPath, [TSC, '-p', 'tsconfig.node10.json'], app))).toBe('');
        // With skipLibCheck off, the only complaint is the optional peer @ton/sandbox, whose Blockchain
        // type three declarations name (SandboxChain, sandboxEventSource, ProviderLike.sandbox).
        writeFileSync(join(app, 'tsconfig.strict.json'), JSON.stringify({ compilerOptions: { ...base, skipLibCheck: false, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.ts', 'consumer.mts'] }));
        const strict = timed('tsc libcheck', () => run(process.execPath, [TSC, '-p', 'tsconfig.strict.json'], app));
        const complaints = strict.stdout.split('\n').filter((l) => l.trim() && !l.includes("error TS2307: Cannot find module '@ton/sandbox'"));
        expect(complaints).toEqual([]);
        // And the checks bite: a wrong name is an error.
        writeFileSync(join(app, 'wrong.ts'), `import { workerAdress } from 'cocoon-ton';\nexport const x = workerAdress;\n`);
        writeFileSync(join(app, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: { ...base, module: 'node16', moduleResolution: 'node16' }, files: ['wrong.ts'] }));
        const wrong = run(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], app);
        expect(wrong.status).not.toBe(0);
        expect(wrong.stdout).toContain("has no exported member named 'workerAdress'");
    });

    it('cocoon-ton/worker and cocoon-worker say what to install without better-sqlite3, and load with it', () => {
        unlinkSqlite();
        for (const [file, source] of [['worker.cjs', `require('cocoon-ton/worker');`], ['worker.mjs', `import 'cocoon-ton/worker';`]]) {
            writeFileSync(join(app, file), source);
            const r = run(process.execPath, [file], app);
            expect(r.status).not.toBe(0);
            expect(r.stderr).toContain('cocoon-ton/worker needs better-sqlite3');
            expect(r.stderr).toContain('npm install better-sqlite3');
        }
        const cmd = run(bin('cocoon-worker'), ['--help'], app);
        expect(cmd.status).toBe(1);
        expect(cmd.stderr).toContain('cocoon-worker needs better-sqlite3');

        // With it installed, the worker node loads and better-sqlite3 opens a database.
        linkSqlite();
        const got = inApp('worker-ok.cjs', `
            const w = require('cocoon-ton/worker');
            const Database = require('better-sqlite3');
            const db = new Database(':memory:');
            console.log(JSON.stringify({ start: typeof w.startWorkerNode, sqlite: db.prepare('select sqlite_version() as v').get().v.split('.')[0] }));
            db.close();
        `);
        expect(got).toEqual({ start: 'function', sqlite: '3' });
    });

    it('runs every command of the package from node_modules/.bin, compiled (no ts-node)', () => {
        linkSqlite();
        const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'cocoon-ton', 'package.json'), 'utf8'));
        expect(Object.keys(installed.bin)).toEqual(expect.arrayContaining(['cocoon', 'cocoon-worker']));
        for (const name of Object.keys(installed.bin)) {
            const r = timed(`${name} --help`, () => run(bin(name), ['--help'], app));
            expect([name, r.status, r.stderr]).toEqual([name, 0, '']);
            expect(r.stdout).toContain(`Usage: ${name}`);
        }
        expect(run(bin('cocoon'), ['--help'], app).stdout).toContain('open-escrow');
        expect(run(bin('cocoon-worker'), ['--help'], app).stdout).toContain('COCOON_OPERATOR_MNEMONIC');
    });
});

describe('the README example', () => {
    it('runs against a local sandbox network, with only connectRemote swapped for it', async () => {
        const { startLocalNetwork, senderOf } = await import('../src/demo/localNetwork');
        const sdk = await import('../src/sdk');
        const client = await import('../src/client');
        const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
        const section = readme.slice(readme.indexOf('## Use it from your service'));
        const example = /```ts\n([\s\S]*?)```/.exec(section)![1];
        const js = ts.transpileModule(example, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;

        const net = await startLocalNetwork({ workers: 1, prices: [toNano('100')], stake: toNano('100'), completionTokens: 12, extraWallets: ['client'] });
        // the example keeps its client key under COCOON_HOME (~/.cocoon by default): a temporary one here
        const home = mkdtempSync(join(tmpdir(), 'cocoon-readme-home-'));
        const homeBefore = process.env.COCOON_HOME;
        process.env.COCOON_HOME = home;
        try {
            const wallet = senderOf(net.wallets.client);
            const modules: Record<string, unknown> = {
                '@ton/core': require('@ton/core'),
                'cocoon-ton': sdk,
                'cocoon-ton/client': {
                    ...client,
                    connectRemote: async () => ({ chain: net.chain, client: null, wallet }),
                    remoteEventSource: () => client.sandboxEventSource(net.bc, net.root),
                },
            };
            const printed: string[] = [];
            const env = { COCOON_ROOT: net.root.toString(), COCOON_OPERATOR: net.operators[0].address.toString(), COCOON_CLIENT_MNEMONIC: 'unused here' };
            const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor;
            await new AsyncFunction('require', 'exports', 'process', 'console', js)(
                (m: string) => { if (!(m in modules)) throw new Error(`the README example imports ${m}`); return modules[m]; },
                {}, { env }, { log: (...a: unknown[]) => printed.push(a.join(' ')) },
            );

            expect(printed).toHaveLength(1);
            expect(printed[0]).toMatch(/\S \| [1-9]\d* prompt \+ \d+ cached \+ [1-9]\d* completion tokens, [1-9]\d* nanoton so far, receipt signature ok: true$/);
            const escrow = await sdk.escrowAddress(await sdk.workerAddress(net.root, net.operators[0].address), wallet.address);
            const st = await net.chain.open(sdk.ClientEscrow.fromAddress(escrow)).getState();
            expect(st.state).toBe(ESCROW_OPEN);
            expect(st.deposit).toBe(toNano('1'));
            // the key the example created went where COCOON_HOME says, mode 0600, and the escrow holds it
            expect(statSync(join(home, 'client-key')).mode & 0o777).toBe(0o600);
            expect(st.clientKey).toBe(client.loadClientKey().publicKey);
        } finally {
            await net.stop();
            if (homeBefore === undefined) delete process.env.COCOON_HOME;
            else process.env.COCOON_HOME = homeBefore;
            rmSync(home, { recursive: true, force: true });
        }
    });
});

// Later root versions for the upgrade tests, made from today's sources the way a real successor is
// written (docs/ARCHITECTURE.md, Upgrades): CocoonRoot becomes an init-style contract whose
// `init(prev: Cell)` reads its predecessor's RootSnapshot, copies every field and takes the
// governance state over with successorGov; ROOT_VERSION grows. Optionally the Worker changes too (a
// getter more), so the Workers deployed before become Workers of an earlier code, and the migration
// can carry a line of its own (a deliberate bug, for the refusal tests). Compiled with the Tact
// compiler in memory and cached under build/root-versions/ by a hash of the sources.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cell } from '@ton/core';
import { build, createVirtualFileSystem, stdLibFiles } from '@tact-lang/compiler';
// Blueprint's own in-memory file system for the Tact compiler (reads the sources, keeps the outputs)
import { OverwritableVirtualFileSystem } from '@ton/blueprint/dist/compile/tact/OverwritableVirtualFileSystem';

const CONTRACTS = join(__dirname, '..', '..', 'contracts');
const CACHE = join(__dirname, '..', '..', 'build', 'root-versions');

export interface RootVersionOptions {
    /** ROOT_VERSION of the new code (the predecessor's is this - 1). */
    version: number;
    /** The new code deploys another Worker code (W<version>: Worker plus a getter `codeVersion`). */
    newWorker?: boolean;
    /** Statements appended to the migration, after every field is copied (e.g. a bug). */
    migrationExtra?: string;
    /** What the `version` getter says, if not `version` (a code that lies about what it is). */
    reportVersion?: number;
}

export interface RootVersion {
    root: Cell;
    worker: Cell;
    /** The generated root.tact, for a reader of a failing test. */
    source: string;
}

/** The fields of `contract CocoonRoot(...)`: name and type, in order. */
export function rootFields(rootSource: string): { name: string; type: string }[] {
    const m = /contract CocoonRoot\(([\s\S]*?)\n\)\s*\{/.exec(rootSource);
    if (!m) throw new Error('contracts/root.tact: no `contract CocoonRoot(...) {` header');
    const out: { name: string; type: string }[] = [];
    for (const line of m[1].split('\n')) {
        const code = line.replace(/\/\/.*$/, '').trim();
        if (!code) continue;
        const f = /^(\w+)\s*:\s*(.+?),?$/.exec(code);
        if (!f) throw new Error(`contracts/root.tact: cannot read the field line "${line.trim()}"`);
        out.push({ name: f[1], type: f[2].trim() });
    }
    return out;
}

/** The fields of `struct RootSnapshot { ... }` (governance.tact). */
export function snapshotFields(governanceSource: string): string[] {
    const m = /struct RootSnapshot \{([\s\S]*?)\n\}/.exec(governanceSource);
    if (!m) throw new Error('contracts/governance.tact: no RootSnapshot struct');
    return m[1].split('\n').map((l) => l.replace(/\/\/.*$/, '').trim()).filter(Boolean).map((l) => /^(\w+)\s*:/.exec(l)![1]);
}

/** The sources of a later version: file name -> text. */
export function rootVersionSources(o: RootVersionOptions): Record<string, string> {
    const files: Record<string, string> = {};
    for (const f of readdirSync(CONTRACTS).filter((n) => n.endsWith('.tact'))) files[f] = readFileSync(join(CONTRACTS, f), 'utf8');
    const replaceOnce = (file: string, from: string | RegExp, to: string) => {
        const before = files[file];
        files[file] = before.replace(from, to);
        if (files[file] === before) throw new Error(`${file}: "${from}" not found`);
    };
    replaceOnce('constants.tact', /const ROOT_VERSION: Int = \d+;/, `const ROOT_VERSION: Int = ${o.version};`);
    if (o.newWorker) {
        const w = files['worker.tact'];
        const end = w.lastIndexOf('}');
        files['worker.tact'] = w.slice(0, end) + `\n    get fun codeVersion(): Int { return ${o.version}; }\n` + w.slice(end);
    }
    const fields = rootFields(files['root.tact']);
    const copy = fields.map((f) => f.name === 'gov'
        ? '        self.gov = successorGov(s);'
        : `        self.${f.name} = s.${f.name};`).join('\n');
    const header = `contract CocoonRoot {\n${fields.map((f) => `    ${f.name}: ${f.type};`).join('\n')}

    // Version ${o.version}: the predecessor (version ${o.version - 1}) handed its state over as a RootSnapshot.
    init(prev: Cell) {
        let s = RootSnapshot.fromCell(prev);
        throwUnless(ERR_BAD_UPGRADE, s.version == ${o.version - 1});
${copy}
${o.migrationExtra ?? ''}
    }
`;
    replaceOnce('root.tact', /contract CocoonRoot\(([\s\S]*?)\n\)\s*\{/, header);
    if (o.reportVersion !== undefined) {
        replaceOnce('root.tact', 'get fun version(): Int { return ROOT_VERSION; }', `get fun version(): Int { return ${o.reportVersion}; }`);
    }
    return files;
}

/** Compiles a later version (cached by the hash of its sources). */
export async function compileRootVersion(o: RootVersionOptions): Promise<RootVersion> {
    const files = rootVersionSources(o);
    const key = createHash('sha256').update(JSON.stringify(Object.entries(files).sort())).digest('hex').slice(0, 16);
    const dir = join(CACHE, key);
    const cached = (name: string) => join(dir, `${name}.code.boc`);
    if (!existsSync(cached('CocoonRoot'))) {
        const src = mkdtempSync(join(tmpdir(), 'cocoon-root-v'));
        try {
            for (const [f, text] of Object.entries(files)) writeFileSync(join(src, f), text);
            const fs = new OverwritableVirtualFileSystem(src);
            const res = await build({
                config: { name: 'CocoonRoot', path: 'root.tact', output: 'out', options: { debug: false } },
                stdlib: createVirtualFileSystem('@stdlib', stdLibFiles),
                project: fs,
            });
            if (!res.ok) throw new Error(`root version ${o.version} does not compile: ${res.error.map((e) => e.message).join('; ')}`);
            const out = (name: string) => {
                for (const [k, v] of fs.overwrites) if (k.endsWith(`_${name}.code.boc`)) return v;
                throw new Error(`no code for ${name} in the compiler's output`);
            };
            mkdirSync(dir, { recursive: true });
            // written under temporary names and renamed: jest workers compiling the same version at
            // once never read a half-written file (the root's code, written last, marks the entry done)
            const put = (file: string, data: Buffer | string) => {
                const tmp = `${file}.${process.pid}.tmp`;
                writeFileSync(tmp, data);
                renameSync(tmp, file);
            };
            put(join(dir, 'root.tact'), files['root.tact']);
            put(cached('Worker'), out('Worker'));
            put(cached('CocoonRoot'), out('CocoonRoot'));
        } finally {
            rmSync(src, { recursive: true, force: true });
        }
    }
    return {
        root: Cell.fromBoc(readFileSync(cached('CocoonRoot')))[0],
        worker: Cell.fromBoc(readFileSync(cached('Worker')))[0],
        source: files['root.tact'],
    };
}

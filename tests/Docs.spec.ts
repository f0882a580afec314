// Keeps the docs true: every message opcode of contracts/messages.tact is in docs/ARCHITECTURE.md,
// and every exit code of contracts/errors.tact is in docs/ERRORS.md and in the SDK's error map.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_CODES, errorForExitCode } from '../src/sdk/errors';

const root = join(__dirname, '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('docs match the contracts', () => {
    const messages = [...read('contracts/messages.tact').matchAll(/message\((0x[0-9a-f]{8})\)\s+(\w+)/g)].map((m) => ({ op: m[1], name: m[2] }));
    const errors = [...read('contracts/errors.tact').matchAll(/const (ERR_\w+): Int = (\d+);/g)].map((m) => ({ name: m[1], code: Number(m[2]) }));

    it('finds the contracts vocabulary', () => {
        expect(messages.length).toBeGreaterThan(40);
        expect(errors.length).toBeGreaterThan(30);
    });

    it('lists every opcode with its message in ARCHITECTURE.md', () => {
        const doc = read('docs/ARCHITECTURE.md');
        const missing = messages.filter((m) => !doc.includes('`' + m.op + '`') || !doc.includes(m.name));
        expect(missing).toEqual([]);
    });

    it('has no two messages with one opcode', () => {
        const ops = messages.map((m) => m.op);
        expect(new Set(ops).size).toBe(ops.length);
    });

    it('documents every exit code in ERRORS.md', () => {
        const doc = read('docs/ERRORS.md');
        const missing = errors.filter((e) => !doc.includes(`| ${e.code} | \`${e.name}\``));
        expect(missing).toEqual([]);
    });

    it('maps every exit code to a named SDK error, and nothing else', () => {
        expect(Object.keys(EXIT_CODES).map(Number).sort()).toEqual(errors.map((e) => e.code).sort());
        for (const e of errors) {
            const err = errorForExitCode(e.code);
            expect(err.exitCode).toBe(e.code);
            expect(err.message).toContain(`exit ${e.code}`);
        }
    });
});

// Keeps docs/HTTP-API.md true: every error code the node can answer, with its status and type, is in
// its table, and every route is listed.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROUTE_METHODS } from '../src/worker';

const root = join(__dirname, '..');
const doc = readFileSync(join(root, 'docs/HTTP-API.md'), 'utf8');

function sources(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
        const p = join(dir, f);
        return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [readFileSync(p, 'utf8')] : [];
    });
}

describe('docs/HTTP-API.md matches the node', () => {
    // new HttpError(status, message, type, code …): status, type and code of every one in src/worker
    const src = sources(join(root, 'src/worker')).join('\n');
    const errors = [...src.matchAll(/HttpError\(\s*(\d{3}),(?:(?!HttpError\()[\s\S])*?'(\w+_error|payment_required|permission_denied|service_unavailable|insufficient_quota)',\s*'([a-z_]+)'/g)]
        .map((m) => ({ status: m[1], type: m[2], code: m[3] }));

    it('finds the codes', () => {
        expect(new Set(errors.map((e) => e.code)).size).toBeGreaterThan(30);
    });

    it('lists every status, type and code in the errors table', () => {
        const missing = errors.filter((e) => !doc.includes(`| ${e.status} | ${e.type} | \`${e.code}\` |`));
        expect(missing).toEqual([]);
    });

    it('lists every route', () => {
        for (const [path, method] of Object.entries(ROUTE_METHODS)) expect(doc).toContain(`| ${method} | \`${path}\` |`);
    });

    it('no source comment points to a document that does not exist', () => {
        const all = [...sources(join(root, 'src')), ...sources(join(root, 'bin'))].join('\n');
        for (const m of all.matchAll(/\b(docs\/[A-Z-]+\.md)\b/g)) expect(() => statSync(join(root, m[1]))).not.toThrow();
        expect(all).not.toMatch(/notes\/http-api\.md/);
    });
});

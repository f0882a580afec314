// The verifier's ed25519 signing key: a 32-byte seed (64 hex digits) from a file readable by its
// owner only, or from the environment. It is never logged or returned; only its public key is.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Ed25519Key, keyFromSeed } from '../sdk/ed25519';

export const SEED_ENV = 'COCOON_VERIFIER_SEED';
export const KEY_FILE_ENV = 'COCOON_VERIFIER_KEY_FILE';

/** Outside any checkout: ~/.config/cocoon-ton/verifier.seed (or $XDG_CONFIG_HOME/cocoon-ton/…). */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
    const base = env.XDG_CONFIG_HOME || join(homedir(), '.config');
    return join(base, 'cocoon-ton', 'verifier.seed');
}

function seedFromHex(hex: string, where: string): Buffer {
    const h = hex.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new Error(`${where} must hold exactly 64 hex digits (a 32-byte ed25519 seed)`);
    return Buffer.from(h, 'hex');
}

/** Reads a seed file; refuses one that group or others may read or write (chmod 600 it). */
export function readKeyFile(file: string): Ed25519Key {
    let mode: number;
    try {
        mode = statSync(file).mode;
    } catch (e) {
        throw new Error(`cannot read the verifier key file ${file}: ${(e as Error).message}. Create one with: cocoon-verifier keygen --out ${file}`);
    }
    if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
        throw new Error(`the verifier key file ${file} is accessible to other users (mode ${(mode & 0o777).toString(8)}): run chmod 600 ${file}`);
    }
    return keyFromSeed(seedFromHex(readFileSync(file, 'utf8'), `the verifier key file ${file}`));
}

export interface KeySource {
    /** Explicit file (flag); else $COCOON_VERIFIER_KEY_FILE; else the seed in $COCOON_VERIFIER_SEED; else defaultKeyFile(). */
    file?: string;
    env?: NodeJS.ProcessEnv;
}

export function loadSigningKey(src: KeySource = {}): { key: Ed25519Key; from: string } {
    const env = src.env ?? process.env;
    const file = src.file ?? env[KEY_FILE_ENV];
    if (file) return { key: readKeyFile(file), from: `file ${file}` };
    const seed = env[SEED_ENV];
    if (seed) return { key: keyFromSeed(seedFromHex(seed, `$${SEED_ENV}`)), from: `$${SEED_ENV}` };
    const def = defaultKeyFile(env);
    return { key: readKeyFile(def), from: `file ${def}` };
}

/** Creates a new seed file (mode 0600, its directory 0700); refuses to overwrite one. */
export function generateKeyFile(file: string): Ed25519Key {
    if (existsSync(file)) throw new Error(`${file} exists: it may be a key in use; remove it yourself to replace it`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const seed = randomBytes(32);
    writeFileSync(file, seed.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return keyFromSeed(seed);
}

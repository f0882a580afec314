// The client key: the ed25519 key a client's escrows hold (`clientKey`) and that signs its API keys.
// It never leaves this machine; the escrow stores only its public half. Kept as a 32-byte seed in
// hex, in a file of mode 0600 under ~/.cocoon/ (created on first use), or given by the environment.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { keyFromSeed, publicKeyToBigInt, type Ed25519Key } from '../sdk';
import { ClientError } from './errors';

/** Environment variable with the seed (64 hex digits); wins over the file. */
export const CLIENT_KEY_ENV = 'COCOON_CLIENT_KEY_SEED';

export function defaultClientKeyFile(): string {
    return join(process.env.COCOON_HOME ?? join(homedir(), '.cocoon'), 'client-key');
}

export interface ClientKey {
    key: Ed25519Key;
    /** The public key as the escrow stores it. */
    publicKey: bigint;
    /** Where it came from (a path or the env variable's name), never the secret itself. */
    source: string;
    created: boolean;
}

function fromHex(hex: string, source: string): Ed25519Key {
    const h = hex.trim();
    if (!/^[0-9a-fA-F]{64}$/.test(h)) {
        throw new ClientError('CONFIG', `${source} must hold exactly 64 hex digits (a 32-byte ed25519 seed)`, `fix or remove it; a new key is created when the file is missing.`);
    }
    return keyFromSeed(Buffer.from(h, 'hex'));
}

/**
 * The client key: from COCOON_CLIENT_KEY_SEED, else from `file` (default ~/.cocoon/client-key),
 * created there with mode 0600 when `create` and missing. A file readable by others is refused.
 */
export function loadClientKey(opts: { file?: string; create?: boolean; env?: NodeJS.ProcessEnv } = {}): ClientKey {
    const env = opts.env ?? process.env;
    if (env[CLIENT_KEY_ENV]) {
        const key = fromHex(env[CLIENT_KEY_ENV]!, CLIENT_KEY_ENV);
        return { key, publicKey: publicKeyToBigInt(key.publicKey), source: CLIENT_KEY_ENV, created: false };
    }
    const file = opts.file ?? defaultClientKeyFile();
    let created = false;
    if (!existsSync(file)) {
        if (!opts.create) {
            throw new ClientError('CONFIG', `no client key at ${file}`, `open an escrow first (cocoon open-escrow creates the key), or set ${CLIENT_KEY_ENV}.`);
        }
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
        created = true;
    }
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
        throw new ClientError('CONFIG', `the client key file ${file} is readable by others (mode ${mode.toString(8)})`, `run: chmod 600 ${file}`);
    }
    const key = fromHex(readFileSync(file, 'utf8'), file);
    return { key, publicKey: publicKeyToBigInt(key.publicKey), source: file, created };
}

/** Writes a new random client key to `file` (mode 0600), replacing what is there; returns it. */
export function newClientKeyFile(file: string = defaultClientKeyFile()): ClientKey {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    const key = fromHex(readFileSync(file, 'utf8'), file);
    return { key, publicKey: publicKeyToBigInt(key.publicKey), source: file, created: true };
}

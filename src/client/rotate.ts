// Rotating the client key (`cocoon rotate-key`): a new key file (the old one kept as a dated backup,
// mode 0600), then SetClientKey on every escrow of this client that exists and holds another key.
// API keys signed by the old key stop working at each worker node within its escrow cache TTL
// (2 s by default) after SetClientKey lands; a key signed by the new one works at once.
import { chmodSync, copyFileSync, existsSync } from 'node:fs';
import type { Address } from '@ton/core';
import { ESCROW_NONE } from '../sdk';
import type { CocoonClient } from './client';
import { loadClientKey, newClientKeyFile, defaultClientKeyFile, CLIENT_KEY_ENV, type ClientKey } from './clientKey';
import { ClientError } from './errors';

export interface RotateOptions {
    /** The key file (default ~/.cocoon/client-key). */
    file?: string;
    /** No new key: bring every escrow to the key in the file (after a rotation that did not finish). */
    resume?: boolean;
    /** Workers whose escrows to include besides those found from receipts and the root's events. */
    workers?: Address[];
    env?: NodeJS.ProcessEnv;
    /** Progress lines. */
    say?: (line: string) => void;
    /** The clock for the backup's name. */
    now?: () => Date;
}

export interface RotateResult {
    key: ClientKey;
    /** Where the old key was kept (none with resume or when there was no key). */
    backup: string | null;
    updated: Address[];
    already: Address[];
    failed: { escrow: Address; error: string }[];
}

/** The backup name for a key file: `<file>.<UTC yyyymmddThhmmss>.bak`. */
export function backupName(file: string, at: Date): string {
    return `${file}.${at.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}.bak`;
}

export async function rotateClientKey(client: CocoonClient, o: RotateOptions = {}): Promise<RotateResult> {
    const env = o.env ?? process.env;
    const say = o.say ?? (() => undefined);
    if (env[CLIENT_KEY_ENV]) {
        throw new ClientError('CONFIG', `your client key comes from ${CLIENT_KEY_ENV}`, 'put a new 64-hex-digit seed there yourself, then run cocoon rotate-key --resume with it.');
    }
    const file = o.file ?? defaultClientKeyFile();
    let backup: string | null = null;
    let key: ClientKey;
    if (o.resume) {
        key = loadClientKey({ file, env });
    } else {
        if (existsSync(file)) {
            backup = backupName(file, (o.now ?? (() => new Date()))());
            copyFileSync(file, backup);
            chmodSync(backup, 0o600);
            say(`old client key kept in ${backup} (mode 0600)`);
        }
        key = newClientKeyFile(file);
        say(`new client key in ${key.source} (mode 0600)`);
    }
    const result: RotateResult = { key, backup, updated: [], already: [], failed: [] };
    for (const escrow of await client.knownEscrows(o.workers ?? [])) {
        const st = await client.escrows.ops.escrowState(escrow);
        if (!st || st.state === ESCROW_NONE) continue;
        if (st.clientKey === key.publicKey) {
            result.already.push(escrow);
            say(`escrow ${escrow.toString()}: already holds this key`);
            continue;
        }
        try {
            await client.escrows.ops.setClientKey(escrow, key.publicKey);
            result.updated.push(escrow);
            say(`escrow ${escrow.toString()}: client key set`);
        } catch (e) {
            result.failed.push({ escrow, error: (e as Error).message });
            say(`escrow ${escrow.toString()}: SetClientKey failed: ${(e as Error).message}`);
        }
    }
    return result;
}

// RA-TLS-like pinning: the worker's attestation (on-chain) carries tlsKeyHash = sha256 of its TLS
// certificate's public key (SPKI DER). The client's agent hands a socket to an HTTP request only
// after the handshake finished AND the peer's key hashed to that value, so not one byte of a
// request (prompt, escrow address) is ever written to an impostor.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { RequestOptions } from 'node:http';
import { ClientError } from './errors';
import { tlsKeyHashOfCert, hex256 } from '../sdk/tls';

/** sha256(SPKI DER) of the certificate the handshake showed (DER), through the SDK's one definition. */
export function tlsKeyHashOfDer(der: Buffer): bigint {
    return tlsKeyHashOfCert(der);
}

export function tlsMismatchError(host: string, expected: bigint, got: bigint | null): ClientError {
    return new ClientError(
        'TLS_KEY_MISMATCH',
        `refused to talk to ${host}: its TLS key hash ${got === null ? '(no certificate)' : hex256(got)} is not the attested ${hex256(expected)}`,
        'the endpoint is not the attested worker (or it restarted with a new key and has not re-attested); nothing was sent. Pick another worker or wait for the operator to re-attest.',
        { host, expected: hex256(expected), got: got === null ? null : hex256(got), beforeSend: true },
    );
}

/** Checks a connected TLS socket against the pin; returns the error to fail with, or undefined. */
export function checkPinnedSocket(socket: tls.TLSSocket, expected: bigint, host: string): ClientError | undefined {
    const cert = socket.getPeerCertificate(true);
    if (!cert || !cert.raw) return tlsMismatchError(host, expected, null);
    const got = tlsKeyHashOfDer(cert.raw);
    return got === expected ? undefined : tlsMismatchError(host, expected, got);
}

type CreateCb = (err: Error | null, stream: Duplex) => void;

/**
 * An https.Agent pinned to one tlsKeyHash. The certificate is self-signed (trust comes from the
 * attestation, not from a CA), so chain validation is off and the pin is the whole check:
 * - createConnection waits for 'secureConnect', checks the key and only then gives the socket to
 *   the request (the request's bytes are queued in the request object until then);
 * - checkServerIdentity checks the same pin for the case where a CA does validate the chain.
 * TLS session resumption is disabled so every new connection presents its certificate.
 */
export class PinnedAgent extends https.Agent {
    constructor(readonly tlsKeyHash: bigint, opts: https.AgentOptions = {}) {
        super({ keepAlive: true, maxSockets: 8, ...opts, rejectUnauthorized: false, maxCachedSessions: 0 });
    }

    override createConnection(options: RequestOptions, cb?: CreateCb): undefined {
        const host = `${options.host ?? 'localhost'}:${options.port ?? 443}`;
        const connectOpts: tls.ConnectionOptions = {
            ...(options as tls.ConnectionOptions),
            rejectUnauthorized: false,
            checkServerIdentity: (_name, cert) => {
                const got = cert?.raw ? tlsKeyHashOfDer(cert.raw) : null;
                return got === this.tlsKeyHash ? undefined : tlsMismatchError(host, this.tlsKeyHash, got);
            },
        };
        if (!connectOpts.servername || net.isIP(connectOpts.servername)) delete connectOpts.servername;
        let done = false;
        const finish = (err: Error | null, s?: tls.TLSSocket) => {
            if (done) return;
            done = true;
            if (!cb) throw new Error('PinnedAgent needs the asynchronous createConnection callback');
            cb(err, s as unknown as Duplex);
        };
        const socket = tls.connect(connectOpts);
        socket.once('error', (e) => finish(new ClientError('WORKER_UNAVAILABLE', `cannot connect to ${host}: ${e.message}`,
            'check that the worker node runs and its on-chain endpoint is right; or pick another worker.', { host, beforeSend: true })));
        socket.once('secureConnect', () => {
            const err = checkPinnedSocket(socket, this.tlsKeyHash, host);
            if (err) {
                socket.destroy();
                finish(err);
                return;
            }
            finish(null, socket);
        });
        return undefined;
    }
}

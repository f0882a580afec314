// The HTTPS server and its connections: bounded in number and in idle time, so neither raw
// connections nor slow TLS handshakes nor idle keep-alive sockets can exhaust the process's file
// descriptors or hold memory.
//
//   - a TLS handshake must finish within headersTimeoutMs, the request headers likewise;
//   - a connection with no request in progress is closed after idleTimeoutMs (the timer stops while
//     a request runs, however long its backend takes, and starts again when it ends);
//   - at most maxConnections (and never closer than 256 to the file limit): a new connection beyond
//     makes room by closing the oldest one with no request in progress, else it is closed itself.
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { WorkerMetrics } from './metrics';

/** The soft limit of open files of this process (Linux /proc; null when unknown). */
export function openFileLimit(): number | null {
    try {
        const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
        if (!m || m[1] === 'unlimited') return null;
        return Number(m[1]);
    } catch {
        return null;
    }
}

/** maxConnections, kept 256 below the file limit (the ledger, the backend's sockets, logs need some). */
export function connectionCap(configured: number, fileLimit = openFileLimit()): number {
    if (fileLimit === null) return configured;
    return Math.max(16, Math.min(configured, fileLimit - 256));
}

export interface NodeServerOptions {
    tls: { certPem: string; keyPem: string };
    host: string;
    port: number;
    headersTimeoutMs: number;
    idleTimeoutMs: number;
    maxConnections: number;
    handler: (req: IncomingMessage, res: ServerResponse) => void;
    log: Logger;
    metrics: WorkerMetrics;
    /**
     * True for a peer address whose new connections are dropped before the TLS handshake (a peer
     * out of failed-authentication tokens: its requests would be refused anyway, and a handshake
     * costs the node more CPU than anything else such a request does).
     */
    refusePeer?: (remoteAddress: string | undefined) => boolean;
    /** Open connections from one peer address at most (default 256). */
    maxConnectionsPerPeer?: number;
}

interface Conn {
    raw: Socket;
    tls: TLSSocket | null;
    active: number;
    peer: string;
}

export class NodeServer {
    readonly server: Server;
    readonly cap: number;
    private readonly conns = new Map<Socket, Conn>();
    private readonly perPeer = new Map<string, number>();
    /** Connections closed to make room or refused at the cap (tests, metrics). */
    readonly stats = { evicted: 0, refused: 0, idleClosed: 0, refusedPeer: 0 };
    url = '';
    port = 0;

    constructor(private readonly o: NodeServerOptions) {
        this.cap = connectionCap(o.maxConnections);
        const server = createHttpsServer({ cert: o.tls.certPem, key: o.tls.keyPem, handshakeTimeout: o.headersTimeoutMs }, o.handler);
        server.headersTimeout = o.headersTimeoutMs;
        server.requestTimeout = 0; // the body has its own deadline (readBody); answers may take long
        server.keepAliveTimeout = o.idleTimeoutMs;
        server.timeout = 0;
        server.on('connection', (s: Socket) => this.onConnection(s));
        server.on('secureConnection', (t: TLSSocket) => this.onSecure(t));
        server.on('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
        server.on('tlsClientError', (e) => o.log.debug({ err: e.message }, 'TLS handshake failed'));
        this.server = server;
    }

    get connections(): number {
        return this.conns.size;
    }

    private onConnection(s: Socket): void {
        const peer = s.remoteAddress ?? 'unknown';
        if ((this.perPeer.get(peer) ?? 0) >= (this.o.maxConnectionsPerPeer ?? 256) || this.o.refusePeer?.(s.remoteAddress)) {
            this.stats.refusedPeer++;
            s.destroy();
            return;
        }
        if (this.conns.size >= this.cap && !this.makeRoom()) {
            this.stats.refused++;
            s.destroy();
            return;
        }
        const c: Conn = { raw: s, tls: null, active: 0, peer };
        this.conns.set(s, c);
        this.perPeer.set(peer, (this.perPeer.get(peer) ?? 0) + 1);
        this.o.metrics.connections.set(this.conns.size);
        // until the handshake is done, the raw socket's own idle timer guards it
        s.setTimeout(this.o.headersTimeoutMs, () => {
            if (!c.tls) {
                this.stats.idleClosed++;
                s.destroy();
            }
        });
        s.on('close', () => {
            this.conns.delete(s);
            const left = (this.perPeer.get(peer) ?? 1) - 1;
            if (left > 0) this.perPeer.set(peer, left);
            else this.perPeer.delete(peer);
            this.o.metrics.connections.set(this.conns.size);
        });
    }

    /** Closes the oldest connection with no request in progress; false if there is none. */
    private makeRoom(): boolean {
        for (const c of this.conns.values()) {
            if (c.active === 0) {
                this.stats.evicted++;
                this.conns.delete(c.raw);
                c.raw.destroy();
                return true;
            }
        }
        return false;
    }

    private onSecure(t: TLSSocket): void {
        const raw = (t as unknown as { _parent?: Socket })._parent;
        const c = raw ? this.conns.get(raw) : undefined;
        if (c) {
            c.tls = t;
            raw!.setTimeout(0);
        }
        // Node's HTTP layer destroys a socket whose timeout fires with no request to tell
        t.setTimeout(this.o.idleTimeoutMs);
    }

    private onRequest(req: IncomingMessage, res: ServerResponse): void {
        const t = req.socket as TLSSocket;
        const raw = (t as unknown as { _parent?: Socket })._parent;
        const c = raw ? this.conns.get(raw) : undefined;
        if (c) {
            c.active++;
            // refresh its place: the least recently used idle connection goes first
            this.conns.delete(c.raw);
            this.conns.set(c.raw, c);
        }
        t.setTimeout(0);
        res.once('close', () => {
            if (c) c.active--;
            if (!c || c.active === 0) t.setTimeout(this.o.idleTimeoutMs);
        });
    }

    listen(): Promise<{ url: string; port: number }> {
        return new Promise((resolve, reject) => {
            this.server.once('error', reject);
            this.server.listen(this.o.port, this.o.host, () => {
                this.server.off('error', reject);
                this.port = (this.server.address() as AddressInfo).port;
                const host = this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host;
                this.url = `https://${host}:${this.port}`;
                resolve({ url: this.url, port: this.port });
            });
        });
    }

    /** Stops accepting and closes the connections with no request in progress; resolves when the server is closed. */
    stopAccepting(): Promise<void> {
        const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
        this.server.closeIdleConnections();
        for (const c of this.conns.values()) if (c.active === 0) c.raw.destroy();
        return closed;
    }

    /** Closes every connection at once. */
    destroyAll(): void {
        this.server.closeAllConnections();
        for (const c of this.conns.values()) c.raw.destroy();
    }
}

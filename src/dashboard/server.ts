// The dashboard's HTTP server: the page's static files (from web/dashboard, and @tonconnect/ui's
// browser bundle from node_modules), the TonConnect manifest, and a small JSON API over the SDK.
// Local by default (127.0.0.1); requests are checked at the edge: Host and Origin (no DNS rebinding or
// cross-site POST), JSON bodies of at most 16 KiB validated with zod, at most MAX_INFLIGHT API reads
// at once, every list bounded (views.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { Address } from '@ton/core';
import type { ZodType } from 'zod';
import { HttpError, readBody, sendJson } from '../worker/http';
import type { DashboardSource } from './source';
import { DashboardViews } from './views';
import { buildAction, ActionRefused, CHAIN_ID, type ActionInput } from './txBuilder';
import { DevWallet, WalletError } from './devWallet';
import { actionSchema, addressSchema, advanceSchema, devSendSchema, eventsQuerySchema, firstIssue } from './schemas';

export const BODY_LIMIT = 16 * 1024;
export const MAX_INFLIGHT = 8;

export interface DashboardOptions {
    source: DashboardSource;
    /** The sandbox's development wallet (absent on testnet/mainnet: the page uses TonConnect). */
    devWallet?: DevWallet;
    /** Sandbox only: moves the local chain clock by `seconds`; returns the new chain time. */
    advanceClock?: (seconds: number) => number;
    host?: string;
    /** 0 picks a free port. */
    port?: number;
    /** Where people reach the page (the TonConnect manifest's url); default http://host:port. */
    publicUrl?: string;
    /** The page's files (default: web/dashboard of this checkout or package). */
    webRoot?: string;
    /** Where errors the API hides from the page go (default stderr); never request bodies. */
    log?: (line: string) => void;
}

export interface DashboardHandle {
    url: string;
    port: number;
    server: Server;
    views: DashboardViews;
    stop(): Promise<void>;
}

const TYPES: Record<string, string> = {
    '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json', '.ico': 'image/x-icon',
};

/** web/dashboard beside src/ (a checkout) or beside dist/ (the package). */
export function defaultWebRoot(): string {
    for (let d = __dirname, i = 0; i < 5; i++, d = dirname(d)) {
        const c = join(d, 'web', 'dashboard');
        if (existsSync(join(c, 'index.html'))) return c;
    }
    throw new Error('the dashboard\'s web files (web/dashboard/index.html) are not found beside this installation');
}

function tonConnectBundle(): string {
    // @tonconnect/ui exports only its entry point; its browser bundle sits in dist/ beside lib/
    const entry = require.resolve('@tonconnect/ui');
    return join(dirname(entry), '..', 'dist', 'tonconnect-ui.min.js');
}

/** Every file the page may load, read once at start: nothing else on disk is reachable. */
function loadStatic(webRoot: string): Map<string, { body: Buffer; type: string }> {
    const files = new Map<string, { body: Buffer; type: string }>();
    const walk = (dir: string, prefix: string) => {
        for (const name of readdirSync(dir)) {
            const p = join(dir, name);
            if (statSync(p).isDirectory()) walk(p, `${prefix}${name}/`);
            else if (TYPES[extname(name)]) files.set(`/${prefix}${name}`, { body: readFileSync(p), type: TYPES[extname(name)] });
        }
    };
    walk(webRoot, '');
    files.set('/vendor/tonconnect-ui.min.js', { body: readFileSync(tonConnectBundle()), type: TYPES['.js'] });
    return files;
}

export async function startDashboard(o: DashboardOptions): Promise<DashboardHandle> {
    const host = o.host ?? '127.0.0.1';
    const views = new DashboardViews(o.source);
    const files = loadStatic(o.webRoot ?? defaultWebRoot());
    const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
    const sandbox = o.source.network === 'sandbox';
    let base = '';
    let allowedHosts = new Set<string>();
    let inflight = 0;

    const csp = [
        "default-src 'self'", "script-src 'self'", "img-src 'self' data:" + (sandbox ? '' : ' https:'),
        // @tonconnect/ui injects its styles and talks to wallet bridges (HTTPS + server-sent events)
        "style-src 'self' 'unsafe-inline'", "connect-src 'self'" + (sandbox ? '' : ' https:'), "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'",
    ].join('; ');
    const security = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'content-security-policy': csp };

    const parse = <T>(schema: ZodType<T, any, any>, v: unknown): T => {
        const r = schema.safeParse(v);
        if (!r.success) throw new HttpError(400, firstIssue(r.error));
        return r.data;
    };
    const addressParam = (s: string): Address => parse(addressSchema, decodeURIComponent(s));
    const json = async (req: IncomingMessage): Promise<unknown> => {
        if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send the body as application/json');
        const text = (await readBody(req, BODY_LIMIT)).toString('utf8');
        try {
            return JSON.parse(text);
        } catch {
            throw new HttpError(400, 'the body is not JSON');
        }
    };
    const needDev = (): DevWallet => {
        if (!o.devWallet) throw new HttpError(404, 'the development wallet exists in the sandbox only; connect a wallet with TonConnect');
        return o.devWallet;
    };

    const manifest = () => ({
        url: (o.publicUrl ?? base).replace(/\/+$/, ''),
        name: 'Cocoon dashboard',
        iconUrl: `${(o.publicUrl ?? base).replace(/\/+$/, '')}/icon-180.png`,
    });

    async function api(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
        const get = req.method === 'GET' || req.method === 'HEAD';
        let m: RegExpMatchArray | null;
        if (get && path === '/api/config') {
            return sendJson(res, 200, {
                network: o.source.network, chain: CHAIN_ID[o.source.network], root: views.contract(o.source.root),
                wallet: o.devWallet ? 'development' : 'tonconnect', manifestUrl: `${base}/tonconnect-manifest.json`,
                explorer: o.source.network === 'mainnet' ? 'https://tonviewer.com' : o.source.network === 'testnet' ? 'https://testnet.tonviewer.com' : null,
                fees: views.feeTable(), now: await views.now(), canAdvanceClock: Boolean(o.advanceClock),
            });
        }
        if (get && path === '/api/network') return sendJson(res, 200, await views.network());
        if (get && path === '/api/workers') return sendJson(res, 200, { workers: await views.workers(), now: await views.now() });
        if (get && (m = path.match(/^\/api\/workers\/([^/]+)$/))) {
            const w = await views.worker(addressParam(m[1]));
            if (!w) throw new HttpError(404, 'no Worker of this network at that address');
            return sendJson(res, 200, { worker: w, now: await views.now() });
        }
        if (get && (m = path.match(/^\/api\/operators\/([^/]+)$/))) return sendJson(res, 200, await views.operator(addressParam(m[1])));
        if (get && (m = path.match(/^\/api\/clients\/([^/]+)$/))) return sendJson(res, 200, await views.client(addressParam(m[1])));
        if (get && path === '/api/events') {
            const { limit } = parse(eventsQuerySchema, Object.fromEntries(query));
            return sendJson(res, 200, { events: await views.events(limit) });
        }
        if (get && path === '/api/series') return sendJson(res, 200, await views.series());
        if (req.method === 'POST' && path === '/api/tx') {
            const input = parse(actionSchema, await json(req)) as ActionInput;
            return sendJson(res, 200, await buildAction(o.source, input));
        }
        if (get && path === '/api/dev/accounts') {
            const dev = needDev();
            const accounts = await Promise.all(dev.accounts().map(async (a) => ({ name: a.name, ...views.wallet(a.address), balance: (await dev.balance(a.address)).toString() })));
            return sendJson(res, 200, { accounts });
        }
        if (req.method === 'POST' && path === '/api/dev/send') {
            const dev = needDev();
            const body = parse(devSendSchema, await json(req));
            return sendJson(res, 200, await dev.sendTransaction(body.account, body.request));
        }
        if (req.method === 'POST' && path === '/api/dev/advance') {
            if (!o.advanceClock) throw new HttpError(404, 'the clock can be moved in the sandbox only');
            const { seconds } = parse(advanceSchema, await json(req));
            return sendJson(res, 200, { now: o.advanceClock(seconds) });
        }
        throw new HttpError(404, `no such endpoint: ${req.method} ${path}`);
    }

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
        const hostHeader = (req.headers.host ?? '').toLowerCase();
        if (!allowedHosts.has(hostHeader)) throw new HttpError(421, `unexpected Host "${hostHeader}": open ${base}`);
        const url = new URL(req.url ?? '/', base);
        const path = url.pathname;
        if (req.method !== 'GET' && req.method !== 'HEAD') {
            const origin = req.headers.origin;
            if (origin !== undefined && !allowedHosts.has(origin.replace(/^https?:\/\//, '').toLowerCase())) throw new HttpError(403, 'cross-origin requests are refused');
        }
        if (path === '/tonconnect-manifest.json' && req.method === 'GET') {
            // wallets fetch it from anywhere: no auth, CORS open
            return sendJson(res, 200, manifest(), { 'access-control-allow-origin': '*', 'cache-control': 'no-cache' });
        }
        if (path === '/healthz') return sendJson(res, 200, { ok: true, network: o.source.network });
        if (path.startsWith('/api/')) {
            if (inflight >= MAX_INFLIGHT) throw new HttpError(503, 'busy: too many requests in flight, try again in a moment');
            inflight++;
            try {
                return await api(req, res, path, url.searchParams);
            } finally {
                inflight--;
            }
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'only GET here');
        const f = files.get(path === '/' ? '/index.html' : path);
        if (!f) throw new HttpError(404, `not found: ${path}`);
        res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length.toString(), 'cache-control': 'no-cache', ...security });
        res.end(req.method === 'HEAD' ? undefined : f.body);
    }

    const sockets = new Set<Socket>();
    const server = createServer((req, res) => {
        handle(req, res).catch((e: unknown) => {
            if (res.headersSent) {
                res.destroy();
                return;
            }
            if (e instanceof HttpError) return sendJson(res, e.status, { error: { message: e.message } }, security);
            if (e instanceof ActionRefused) return sendJson(res, e.status, { error: { message: e.message } }, security);
            if (e instanceof WalletError) return sendJson(res, 400, { error: { message: e.message, walletCode: e.code } }, security);
            const msg = (e as Error)?.message ?? String(e);
            log(`dashboard: ${req.method} ${(req.url ?? '').split('?')[0]} failed: ${msg}`);
            sendJson(res, 502, { error: { message: `reading the chain failed: ${msg}` } }, security);
        });
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    server.maxConnections = 256;
    server.on('connection', (s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port ?? 0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    base = `http://${shownHost}:${port}`;
    allowedHosts = new Set([`${shownHost}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
    if (o.publicUrl) allowedHosts.add(new URL(o.publicUrl).host.toLowerCase());

    let stopping: Promise<void> | null = null;
    const stop = () => (stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // requests in flight get a moment to finish, then their connections are cut
        const t = setTimeout(() => { for (const s of sockets) s.destroy(); }, 2_000);
        t.unref();
    }));
    return { url: base, port, server, views, stop };
}

// Throughput benchmark of the worker node (issue 6). One run measures, at a fixed concurrency and for
// a fixed number of requests, the worker node over loopback HTTPS in front of the development
// backend, and the same requests straight at the development backend over plain HTTP.
//
// Layout (three event loops, as in production three processes):
//   - main thread: the @ton/sandbox chain (a registered worker, open escrows) and the worker node
//     started in-process with startWorkerNode, exactly as tests/WorkerNode.spec.ts runs it;
//   - a worker thread: the development backend (src/backend/devBackend.ts);
//   - a worker thread: the load generator (keep-alive agents, latencies measured client-side).
// Everything listens on 127.0.0.1 and everything is stopped at the end, also on failure.
import { Worker } from 'node:worker_threads';
import { Session } from 'node:inspector';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import pino from 'pino';
import Database from 'better-sqlite3';
import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano, type Sender } from '@ton/core';
import {
    CocoonOps, CocoonRoot, Worker as WorkerContract, SandboxChain, defaultParams, escrowForOpening, keyFromSeed, publicKeyToBigInt, parseSignedReceiptCell,
    verifyReceipt, ESCROW_OPEN, bigIntToPublicKey, mintApiKey, asPrices
} from '../src/sdk';
import { hex256 } from '../src/sdk/tls';
import { startWorkerNode, DevAttestationProvider, createLogger, type WorkerNodeHandle, type ChatTiming } from '../src/worker';
import { fastSelfSignedCert } from '../src/demo/certs';

// ------------------------------------------------------------------------------------------ options

export interface NodeBenchOptions {
    /** Measured requests per target and mode (default 2000). */
    requests?: number;
    /** Requests in flight at any time (default 64). */
    concurrency?: number;
    /** Completion tokens of every answer (default 50). */
    tokens?: number;
    /** Backend delay per token in ms (default 1). */
    delayMs?: number;
    /** Modes to measure: non-stream always, stream unless false (default true). */
    stream?: boolean;
    /**
     * Warm-up requests per target and mode, not measured (default min(3000, 1.5 x requests)): until
     * V8 has compiled the hot paths, its compiler threads compete for the two cores and the node is
     * measured at start-up rather than in its steady state.
     */
    warmup?: number;
    /** The measured requests are split in this many alternating backend/node rounds (default 2). */
    rounds?: number;
    /** Client escrows the requests are spread over (default 4). */
    escrows?: number;
    /** Directory of the node's SQLite ledger (default: a fresh directory under os.tmpdir()). */
    ledgerDir?: string;
    /** The node's log level; logs go to /dev/null (default `info`, what production runs). */
    logLevel?: 'info' | 'warn' | 'silent';
    /**
     * Also measure added latency with few requests in flight (non-stream), where the machine is not
     * saturated: the node's own per-request latency, apart from queueing (default true; 0 = off).
     */
    probeRequests?: number;
    /** Requests in flight in the probe (default 4). */
    probeConcurrency?: number;
    /** Write a V8 CPU profile of the main thread (the worker node) over its measured phases to this file. */
    cpuProfile?: string;
    /** Progress lines. */
    print?: (line: string) => void;
}

export interface PhaseStats {
    requests: number;
    ok: number;
    failed: number;
    seconds: number;
    rps: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
    /** Time to the first response byte, median. */
    ttfbP50Ms: number;
    /** CPU time of the whole process (all threads) per wall second during the phase. */
    cpuCores: number;
    /** CPU time of the whole process (all threads: load generator, backend, node) per request, ms. */
    cpuMsPerRequest: number;
    /**
     * The same by thread (Linux /proc, 10 ms ticks): node = the main thread (the worker node's event
     * loop; idle in the backend phases), other = everything else in the process (the ledger writer
     * thread, libuv's threadpool signing receipts, V8's GC helpers).
     */
    cpuMsPerRequestByThread: { node: number; loadGenerator: number; backend: number; other: number } | null;
    /** The first few failures, for the report. */
    errors: string[];
}

export interface ModeResult {
    stream: boolean;
    backend: PhaseStats;
    node: PhaseStats;
    /** node rps / backend rps. */
    ratio: number;
    addedP50Ms: number;
    addedP99Ms: number;
    /** Busy share of the node's event loop (main thread) during its measured phases. */
    nodeEventLoopUtilization: number;
    /** CPU time of the node's thread per request (Linux /proc, 10 ms ticks; null elsewhere). */
    nodeThreadCpuMsPerRequest: number | null;
    /** Where a node request's time goes inside the node's handler (WorkerDeps.onChatTiming), measured phases. */
    nodeStages: NodeStages;
}

/** Medians (and the receipt's p90) of the steps of the node's handler, ms. */
export interface NodeStages {
    /** Body read and parsed, escrow checked from the cache, worst case reserved. */
    admitP50Ms: number;
    /** The backend leg: request to the backend until its answer is complete. */
    backendP50Ms: number;
    /** Receipt computed, signed and durably committed (group commit, one fsync per transaction). */
    receiptP50Ms: number;
    receiptP90Ms: number;
    /** Response serialised and handed to the TLS socket. */
    respondP50Ms: number;
    /** Handler start to end. */
    handlerP50Ms: number;
}

export interface NodeBenchChecks {
    /** Node requests sent (warm-up + measured, every mode). */
    nodeRequests: number;
    nodeOk: number;
    receiptsReturned: number;
    /** Receipts whose TEE signature verifies and whose escrow is the one the request named. */
    receiptsVerified: number;
    /** Receipts in the node's ledger after the run, over every escrow. */
    ledgerReceipts: number;
    /** Every escrow's ledger sequence is 1..n without a hole. */
    ledgerSeqsConsecutive: boolean;
    /** Every receipt a client got is in the ledger, byte for byte, and no two clients got the same one. */
    allReceiptsInLedger: boolean;
}

export interface NodeBenchResult {
    /** Headline (non-stream): requests/s through the node. */
    nodeRps: number;
    /** Headline (non-stream): requests/s straight at the backend. */
    backendRps: number;
    ratio: number;
    addedP50Ms: number;
    addedP99Ms: number;
    target: { ratio: number; addedP50Ms: number };
    meetsTarget: { ratio: boolean; addedP50Ms: boolean };
    /** Median latency of one WAL commit with synchronous=FULL in the ledger's directory: the durability floor. */
    fsyncP50Ms: number;
    config: Required<Omit<NodeBenchOptions, 'print' | 'ledgerDir' | 'cpuProfile' | 'probeRequests' | 'probeConcurrency'>> & { ledgerDir: string; escrowCacheMs: number };
    modes: { nonStream: ModeResult; stream?: ModeResult };
    /** Non-stream at low concurrency: added latency without queueing (absent when disabled). */
    probe?: { requests: number; concurrency: number; backendP50Ms: number; nodeP50Ms: number; addedP50Ms: number; backendP99Ms: number; nodeP99Ms: number; addedP99Ms: number };
    checks: NodeBenchChecks;
    env: { node: string; cpus: number; cpuModel: string; loadavgBefore: number[]; loadavgAfter: number[]; date: string };
}

export const TARGET_RATIO = 0.9;
export const TARGET_ADDED_P50_MS = 2;

const MODEL = 'llama-3-8b-instruct';
const BACKEND_MODEL = 'dev-model';
const PRICE = toNano('0.5'); // nanoton per 1M tokens
const ESCROW_CACHE_MS = 60_000;

// ------------------------------------------------------------------------------------------ stats

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
    if (sorted.length === 0) return NaN;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[i];
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

// ------------------------------------------------------------------------------------------ load generator

/**
 * What the load thread runs: `count` POSTs, `concurrency` at a time, request i using bodies[i % n]
 * (with #REQ# replaced by a number unique in the run) and headers[i % m].
 */
interface LoadJob {
    id: number;
    url: string;
    ca?: string;
    path: string;
    bodies: string[];
    headers: Record<string, string>[];
    count: number;
    concurrency: number;
    stream: boolean;
    /** Node answers: extract the cocoon_receipt BOC (and check the X-Cocoon-Receipt header). */
    receipts: boolean;
}

interface LoadResult {
    id: number;
    seconds: number;
    lat: number[];
    ttfb: number[];
    ok: number;
    failed: number;
    errors: string[];
    /** [index of the header set used, receipt BOC base64] per successful node request. */
    receipts: [number, string][];
    /** CPU time of the load thread during the run (Linux, 10 ms ticks; null elsewhere). */
    cpuMs: number | null;
}

// Plain JavaScript: the thread needs no TypeScript and stays cheap. One keep-alive agent per target.
const LOAD_THREAD = String.raw`
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const https = require('node:https');
const { performance } = require('node:perf_hooks');
const agents = new Map();
function threadCpuMs() {
    try {
        const st = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        return (Number(f[11]) + Number(f[12])) * 10;
    } catch { return null; }
}
let served = 0; // every request gets its own question: no cache in the node may answer for a repeat
function agentFor(job) {
    let a = agents.get(job.url);
    if (!a) {
        const o = { keepAlive: true, maxSockets: job.concurrency, maxFreeSockets: job.concurrency };
        a = job.url.startsWith('https:') ? new https.Agent({ ...o, ca: job.ca }) : new http.Agent(o);
        agents.set(job.url, a);
    }
    return a;
}
function check(job, status, headers, text) {
    if (status !== 200) return { error: 'HTTP ' + status + ': ' + text.slice(0, 200) };
    if (job.stream) {
        if (!text.endsWith('data: [DONE]\n\n')) return { error: 'stream did not end with [DONE]' };
        if (text.indexOf('"content":"') < 0) return { error: 'stream carried no content' };
        if (!job.receipts) return {};
        const events = text.split('\n\n');
        const last = events[events.length - 3];
        if (!last || !last.startsWith('data: ')) return { error: 'no usage chunk before [DONE]' };
        const chunk = JSON.parse(last.slice(6));
        if (!chunk.cocoon_receipt || !chunk.usage) return { error: 'the last chunk carries no receipt' };
        return { receipt: chunk.cocoon_receipt.boc };
    }
    const j = JSON.parse(text);
    if (!j.choices || !j.choices[0] || !j.choices[0].message || !j.choices[0].message.content) return { error: 'answer without content' };
    if (!job.receipts) return {};
    if (!j.cocoon_receipt) return { error: 'answer without cocoon_receipt' };
    if (headers['x-cocoon-receipt'] !== j.cocoon_receipt.boc) return { error: 'X-Cocoon-Receipt differs from cocoon_receipt.boc' };
    return { receipt: j.cocoon_receipt.boc };
}
function one(job, agent, u, i) {
    return new Promise((resolve) => {
        const body = job.bodies[i % job.bodies.length].replace('#REQ#', String(++served));
        const h = i % job.headers.length;
        const t0 = performance.now();
        let first = 0;
        const mod = u.protocol === 'https:' ? https : http;
        const req = mod.request({
            host: u.hostname, port: u.port, path: job.path, method: 'POST', agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...job.headers[h] },
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => { if (!first) first = performance.now(); chunks.push(c); });
            res.on('end', () => {
                const t1 = performance.now();
                let r;
                try { r = check(job, res.statusCode, res.headers, Buffer.concat(chunks).toString('utf8')); } catch (e) { r = { error: 'bad answer: ' + e.message }; }
                resolve({ lat: t1 - t0, ttfb: (first || t1) - t0, h, ...r });
            });
            res.on('error', (e) => resolve({ lat: performance.now() - t0, ttfb: 0, h, error: e.message }));
        });
        req.setTimeout(30000, () => req.destroy(new Error('request timed out after 30 s')));
        req.on('error', (e) => resolve({ lat: performance.now() - t0, ttfb: 0, h, error: e.message }));
        req.end(body);
    });
}
async function run(job) {
    const agent = agentFor(job);
    const u = new URL(job.url);
    const out = { id: job.id, seconds: 0, lat: [], ttfb: [], ok: 0, failed: 0, errors: [], receipts: [] };
    let next = 0;
    const lane = async () => {
        for (;;) {
            const i = next++;
            if (i >= job.count) return;
            const r = await one(job, agent, u, i);
            if (r.error) {
                out.failed++;
                if (out.errors.length < 5) out.errors.push(r.error);
                continue;
            }
            out.ok++;
            out.lat.push(r.lat);
            out.ttfb.push(r.ttfb);
            if (r.receipt) out.receipts.push([r.h, r.receipt]);
        }
    };
    const t0 = performance.now();
    const c0 = threadCpuMs();
    await Promise.all(Array.from({ length: job.concurrency }, lane));
    const c1 = threadCpuMs();
    out.seconds = (performance.now() - t0) / 1000;
    out.cpuMs = c0 === null || c1 === null ? null : c1 - c0;
    return out;
}
parentPort.on('message', (m) => {
    if (m === 'close') {
        for (const a of agents.values()) a.destroy();
        parentPort.postMessage({ closed: true });
        return;
    }
    run(m).then((r) => parentPort.postMessage(r), (e) => parentPort.postMessage({ id: m.id, fatal: String(e && e.stack || e) }));
});
`;

class LoadThread {
    private readonly worker = new Worker(LOAD_THREAD, { eval: true });
    private nextId = 1;
    private readonly pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();

    constructor() {
        this.worker.on('message', (m: LoadResult & { fatal?: string; closed?: boolean }) => {
            if (m.closed) return;
            const p = this.pending.get(m.id);
            if (!p) return;
            this.pending.delete(m.id);
            if (m.fatal) p.reject(new Error('load generator failed: ' + m.fatal));
            else p.resolve(m);
        });
        this.worker.on('error', (e) => {
            for (const p of this.pending.values()) p.reject(e);
            this.pending.clear();
        });
    }

    run(job: Omit<LoadJob, 'id'>): Promise<LoadResult> {
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            this.worker.postMessage({ ...job, id });
        });
    }

    async close(): Promise<void> {
        await this.worker.terminate();
    }
}

// ------------------------------------------------------------------------------------------ backend thread

// The development backend in its own thread (a separate server in production). It is TypeScript,
// so the thread registers ts-node first (transpile only).
const BACKEND_THREAD = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
require(workerData.tsNode).register({ transpileOnly: true, project: workerData.tsconfig });
const { DevBackend } = require(workerData.module);
DevBackend.start(workerData.opts).then((b) => {
    parentPort.on('message', (m) => {
        if (m === 'stop') b.stop().then(() => parentPort.postMessage({ stopped: true, requests: b.requests }));
        if (m === 'cpu') {
            let cpuMs = null;
            try {
                const st = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
                const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
                cpuMs = (Number(f[11]) + Number(f[12])) * 10;
            } catch {}
            parentPort.postMessage({ cpuMs });
        }
    });
    parentPort.postMessage({ url: b.url });
}, (e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

class BackendThread {
    private constructor(private readonly worker: Worker, readonly url: string) {}

    static async start(opts: { tokens: number; delayMs: number }): Promise<BackendThread> {
        const worker = new Worker(BACKEND_THREAD, {
            eval: true,
            workerData: {
                tsNode: require.resolve('ts-node'),
                tsconfig: resolve(__dirname, '..', 'tsconfig.json'),
                module: resolve(__dirname, '..', 'src', 'backend', 'devBackend.ts'),
                opts: { ...opts, model: BACKEND_MODEL, host: '127.0.0.1', port: 0 },
            },
        });
        const url = await new Promise<string>((res, rej) => {
            worker.once('message', (m: { url?: string; error?: string }) => (m.url ? res(m.url) : rej(new Error('development backend failed: ' + m.error))));
            worker.once('error', rej);
        });
        return new BackendThread(worker, url);
    }

    /** CPU time of the backend's thread so far (Linux, 10 ms ticks; null elsewhere). */
    cpuMs(): Promise<number | null> {
        return new Promise((res) => {
            this.worker.once('message', (m: { cpuMs: number | null }) => res(m.cpuMs));
            this.worker.postMessage('cpu');
        });
    }

    /** Stops the server; returns how many chat requests it served. */
    async stop(): Promise<number> {
        let served = -1;
        try {
            served = await new Promise<number>((res) => {
                const t = setTimeout(() => res(-1), 5_000);
                this.worker.once('message', (m: { requests: number }) => {
                    clearTimeout(t);
                    res(m.requests);
                });
                this.worker.postMessage('stop');
            });
        } finally {
            await this.worker.terminate();
        }
        return served;
    }
}

// ------------------------------------------------------------------------------------------ sandbox

type Wallet = SandboxContract<TreasuryContract>;
const senderOf = (t: Wallet) => t.getSender() as Sender & { address: Address };
const seed = (label: string) => createHash('sha256').update('cocoon-bench-node:' + label).digest();

interface BenchNetwork {
    node: WorkerNodeHandle;
    /** The node's TEE key (public; the node makes it at start). */
    tee: { publicKey: Buffer };
    escrows: { address: Address; epoch: bigint; apiKey: string }[];
    certPem: string;
}

async function startNetworkAndNode(o: { escrows: number; backendUrl: string; dbPath: string; logLevel: string; concurrency: number; onChatTiming: (t: ChatTiming) => void }): Promise<BenchNetwork> {
    const bc = await Blockchain.create();
    bc.now = Math.floor(Date.now() / 1000);
    const chain = new SandboxChain(bc);
    const owner = await bc.treasury('owner');
    const operator = await bc.treasury('operator');
    const measurement = BigInt('0x' + createHash('sha256').update('cocoon-worker-image:v1|' + MODEL).digest('hex'));
    const verifier = keyFromSeed(seed('verifier'));
    const { root } = await new CocoonOps(chain, senderOf(owner)).deployRoot({
        networkId: 1, params: defaultParams({ maxPrice: PRICE * 2n }),
        measurements: [[measurement, MODEL]], verifierKeys: [publicKeyToBigInt(verifier.publicKey)],
    });

    const tls = fastSelfSignedCert('cocoon-bench');
    const logger = createLogger(o.logLevel, pino.destination({ dest: '/dev/null', sync: true }));
    const node = await startWorkerNode({
        model: MODEL, host: '127.0.0.1', port: 0,
        backend: { url: o.backendUrl, model: BACKEND_MODEL, timeoutMs: 30_000 },
        root: root.toString(), operator: operator.address.toString(), measurement: hex256(measurement),
        dbPath: o.dbPath, maxInflight: o.concurrency,
        // the escrow check is served from the cache (a sandbox getter runs the TVM on this thread;
        // in production a refresh is an asynchronous API call)
        escrowCacheMs: ESCROW_CACHE_MS, workerCacheMs: ESCROW_CACHE_MS,
        claim: { threshold: 10n ** 15n, intervalMs: 3_600_000 }, shutdownGraceMs: 5_000, logLevel: o.logLevel as 'info',
    }, {
        chain, operatorSender: senderOf(operator), attestationProvider: new DevAttestationProvider(verifier), tls, logger, onChatTiming: o.onChatTiming,
    });
    try {
        // Plain sends with generous values, as tests/helpers/network.ts does; each effect is checked.
        const rootC = bc.openContract(CocoonRoot.fromAddress(root));
        await rootC.send(operator.getSender(), { value: toNano('100.2') }, { $$type: 'RegisterWorker', queryId: 1n, stake: toNano('100'), attestation: node.attestation.cell });
        const workerC = bc.openContract(WorkerContract.fromAddress(node.worker));
        await workerC.send(operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 2n, prices: asPrices(PRICE) });
        const info = await workerC.getInfo();
        if (!info.active || info.prices.completion !== PRICE) throw new Error(`bench setup: the worker is not active at the price (active ${info.active}, completion price ${info.prices.completion})`);
        const escrows: { address: Address; epoch: bigint; apiKey: string }[] = [];
        for (let i = 0; i < o.escrows; i++) {
            const client = await bc.treasury(`client-${i + 1}`);
            const clientKey = keyFromSeed(seed(`client-key-${i + 1}`));
            const e = bc.openContract(await escrowForOpening(node.worker, client.address));
            await e.send(client.getSender(), { value: toNano('100.2') }, {
                $$type: 'OpenEscrow', queryId: 3n, deposit: toNano('100'), caps: asPrices(PRICE), clientKey: publicKeyToBigInt(clientKey.publicKey), root,
            });
            const st = await e.getState();
            if (st.state !== ESCROW_OPEN) throw new Error(`bench setup: escrow ${i + 1} is not open (state ${st.state})`);
            // each client's API key for its escrow (one day, no spend limit)
            escrows.push({ address: e.address, epoch: st.epoch, apiKey: mintApiKey({ escrow: e.address, notAfter: (bc.now ?? 0) + 86_400, limit: 0n }, clientKey) });
        }
        node.refresh();
        return { node, tee: { publicKey: bigIntToPublicKey(node.teeKey) }, escrows, certPem: tls.certPem };
    } catch (e) {
        await node.stop();
        throw e;
    }
}

// ------------------------------------------------------------------------------------------ main-thread CPU

/**
 * CPU time (user + system, ms) of this process's main thread, the worker node's event loop, from
 * /proc (Linux; null elsewhere). process.cpuUsage() counts every thread.
 */
export function mainThreadCpuMs(): number | null {
    try {
        const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // fields 14 and 15 (utime, stime) are at 11 and 12 after the command name
        return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
    } catch {
        return null;
    }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

// ------------------------------------------------------------------------------------------ profiler

/** The V8 sampling profiler of this thread, resumed only around the node's measured phases. */
class PhaseProfiler {
    private readonly session = new Session();
    private profiles: CpuProfile[] = [];

    private post<T>(method: string, params: object = {}): Promise<T> {
        return new Promise((res, rej) => this.session.post(method, params, (e, r) => (e ? rej(e) : res(r as T))));
    }

    async start(): Promise<void> {
        this.session.connect();
        await this.post('Profiler.enable');
        await this.post('Profiler.setSamplingInterval', { interval: 200 });
    }

    async resume(): Promise<void> {
        await this.post('Profiler.start');
    }

    async pause(): Promise<void> {
        const { profile } = await this.post<{ profile: CpuProfile }>('Profiler.stop');
        this.profiles.push(profile);
    }

    /** Writes the measured phases as one profile (samples of every phase, nodes merged by id). */
    async write(path: string): Promise<void> {
        this.session.disconnect();
        if (this.profiles.length === 0) return;
        const merged = mergeProfiles(this.profiles);
        writeFileSync(path, JSON.stringify(merged));
    }
}

interface CpuProfileNode {
    id: number;
    children?: number[];
    [k: string]: unknown;
}

interface CpuProfile {
    nodes: CpuProfileNode[];
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
}

/** Concatenates CPU profiles, renumbering each one's node ids (the gaps between them are dropped). */
function mergeProfiles(ps: CpuProfile[]): CpuProfile {
    const out: CpuProfile = { nodes: [], startTime: ps[0].startTime, endTime: ps[0].startTime, samples: [], timeDeltas: [] };
    let base = 0;
    for (const p of ps) {
        let max = 0;
        for (const n of p.nodes) {
            out.nodes.push({ ...n, id: n.id + base, children: (n.children ?? []).map((c: number) => c + base) });
            if (n.id > max) max = n.id;
        }
        // the roots of later profiles hang under the first root
        if (base > 0) (out.nodes[0].children ??= []).push(p.nodes[0].id + base);
        out.samples.push(...p.samples.map((s) => s + base));
        out.timeDeltas.push(...p.timeDeltas.map((d, i) => (i === 0 ? 0 : d)));
        out.endTime += p.endTime - p.startTime;
        base += max;
    }
    return out;
}

// ------------------------------------------------------------------------------------------ fsync floor

/** Median latency of a one-row WAL commit with synchronous=FULL in `dir`, i.e. one fsync of the WAL. */
export function measureCommitFloorMs(dir: string, commits = 40): number {
    const path = join(dir, 'fsync-probe.db');
    const db = new Database(path);
    try {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.exec('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
        const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
        const blob = Buffer.alloc(300, 7);
        const times: number[] = [];
        for (let i = 0; i < commits; i++) {
            const t0 = performance.now();
            ins.run(blob);
            times.push(performance.now() - t0);
        }
        times.sort((a, b) => a - b);
        return percentile(times, 0.5);
    } finally {
        db.close();
        for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
    }
}

// ------------------------------------------------------------------------------------------ the run

function chatBodies(model: string, stream: boolean, maxTokens: number): string[] {
    return Array.from({ length: 64 }, (_, k) =>
        JSON.stringify({
            model, max_tokens: maxTokens, stream,
            ...(stream ? { stream_options: { include_usage: true } } : {}),
            messages: [
                { role: 'system', content: 'You are a helpful assistant.' },
                { role: 'user', content: `Question ${k}.#REQ#: how does a Cocoon worker get paid for request #REQ#?` },
            ],
        }),
    );
}

interface Sample {
    lat: number[];
    ttfb: number[];
    ok: number;
    failed: number;
    errors: string[];
    seconds: number;
    cpuMicros: number;
    /** Per-thread CPU ms (null when /proc is not there). */
    threads: { node: number; loadGenerator: number; backend: number } | null;
}

interface CpuSnapshot {
    process: NodeJS.CpuUsage;
    main: number | null;
    backend: number | null;
}

const emptySample = (): Sample => ({ lat: [], ttfb: [], ok: 0, failed: 0, errors: [], seconds: 0, cpuMicros: 0, threads: { node: 0, loadGenerator: 0, backend: 0 } });

function addTo(s: Sample, r: LoadResult, before: CpuSnapshot, after: CpuSnapshot) {
    const cpu = process.cpuUsage(before.process);
    const cpuMicros = cpu.user + cpu.system;
    if (s.threads && before.main !== null && after.main !== null && before.backend !== null && after.backend !== null && r.cpuMs !== null) {
        s.threads.node += after.main - before.main;
        s.threads.backend += after.backend - before.backend;
        s.threads.loadGenerator += r.cpuMs;
    } else {
        s.threads = null;
    }
    for (const x of r.lat) s.lat.push(x);
    for (const x of r.ttfb) s.ttfb.push(x);
    s.ok += r.ok;
    s.failed += r.failed;
    for (const e of r.errors) if (s.errors.length < 5) s.errors.push(e);
    s.seconds += r.seconds;
    s.cpuMicros += cpuMicros;
}

function sampleOf(r: LoadResult): Sample {
    const s = emptySample();
    s.threads = null;
    for (const x of r.lat) s.lat.push(x);
    for (const x of r.ttfb) s.ttfb.push(x);
    s.ok = r.ok;
    s.failed = r.failed;
    s.errors = r.errors.slice(0, 5);
    s.seconds = r.seconds;
    return s;
}

function statsOf(s: Sample): PhaseStats {
    const lat = Float64Array.from(s.lat).sort();
    const ttfb = Float64Array.from(s.ttfb).sort();
    return {
        requests: s.ok + s.failed, ok: s.ok, failed: s.failed, seconds: round3(s.seconds),
        rps: round2(s.ok / s.seconds),
        p50Ms: round2(percentile(lat, 0.5)), p90Ms: round2(percentile(lat, 0.9)), p99Ms: round2(percentile(lat, 0.99)), maxMs: round2(lat[lat.length - 1] ?? NaN),
        ttfbP50Ms: round2(percentile(ttfb, 0.5)),
        cpuCores: round2(s.cpuMicros / 1e6 / s.seconds),
        cpuMsPerRequest: round3(s.cpuMicros / 1e3 / Math.max(1, s.ok + s.failed)),
        cpuMsPerRequestByThread: s.threads ? perRequestByThread(s, s.threads) : null,
        errors: s.errors,
    };
}

function stagesOf(ts: ChatTiming[]): NodeStages {
    const q = (f: (t: ChatTiming) => number, p = 0.5) => round2(percentile(Float64Array.from(ts, f).sort(), p));
    return {
        admitP50Ms: q((t) => t.admitted - t.start),
        backendP50Ms: q((t) => t.backendDone - t.admitted),
        receiptP50Ms: q((t) => t.receipt - t.backendDone),
        receiptP90Ms: q((t) => t.receipt - t.backendDone, 0.9),
        respondP50Ms: q((t) => t.end - t.receipt),
        handlerP50Ms: q((t) => t.end - t.start),
    };
}

function cpuText(s: PhaseStats): string {
    const t = s.cpuMsPerRequestByThread;
    return t ? `${s.cpuMsPerRequest} (node ${t.node}, load ${t.loadGenerator}, backend ${t.backend}, other ${t.other})` : String(s.cpuMsPerRequest);
}

function perRequestByThread(s: Sample, t: NonNullable<Sample['threads']>): NonNullable<PhaseStats['cpuMsPerRequestByThread']> {
    const n = Math.max(1, s.ok + s.failed);
    const other = s.cpuMicros / 1e3 - t.node - t.loadGenerator - t.backend;
    return { node: round3(t.node / n), loadGenerator: round3(t.loadGenerator / n), backend: round3(t.backend / n), other: round3(other / n) };
}

/** Runs the whole benchmark and stops everything it started. */
export async function runNodeBench(opts: NodeBenchOptions = {}): Promise<NodeBenchResult> {
    const requests = opts.requests ?? 2000;
    const concurrency = opts.concurrency ?? 64;
    const tokens = opts.tokens ?? 50;
    const delayMs = opts.delayMs ?? 1;
    const withStream = opts.stream ?? true;
    const warmup = opts.warmup ?? Math.min(3000, Math.ceil(requests * 1.5));
    const rounds = Math.max(1, Math.min(opts.rounds ?? 2, requests));
    const nEscrows = opts.escrows ?? 4;
    const logLevel = opts.logLevel ?? 'info';
    const say = opts.print ?? (() => undefined);
    for (const [k, v] of Object.entries({ requests, concurrency, tokens, escrows: nEscrows })) {
        if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
    }
    if (!Number.isInteger(warmup) || warmup < 0) throw new Error('warmup must be a non-negative integer');

    const ownDir = opts.ledgerDir ? null : mkdtempSync(join(tmpdir(), 'cocoon-bench-node-'));
    const dir = opts.ledgerDir ?? ownDir!;
    const loadavgBefore = loadavg().map(round2);
    let backend: BackendThread | null = null;
    let load: LoadThread | null = null;
    let net: BenchNetwork | null = null;
    const profiler = opts.cpuProfile ? new PhaseProfiler() : null;
    try {
        await profiler?.start();
        const fsyncP50Ms = round2(measureCommitFloorMs(dir));
        say(`ledger directory ${dir}: one WAL commit with synchronous=FULL takes ${fsyncP50Ms} ms (median)`);
        backend = await BackendThread.start({ tokens, delayMs });
        load = new LoadThread();
        // the node's handler timings of the phase being measured (none are kept during warm-up)
        let timings: ChatTiming[] | null = null;
        const onChatTiming = (t: ChatTiming) => timings?.push(t);
        net = await startNetworkAndNode({ escrows: nEscrows, backendUrl: backend.url, dbPath: join(dir, `ledger-${process.pid}-${Date.now()}.db`), logLevel, concurrency, onChatTiming });
        const { node } = net;
        say(`node ${node.url} (worker ${node.worker.toString()}), backend ${backend.url}, ${nEscrows} escrows`);

        const escrowHeaders = net.escrows.map((e) => ({ authorization: `Bearer ${e.apiKey}` }));
        const checks: NodeBenchChecks = {
            nodeRequests: 0, nodeOk: 0, receiptsReturned: 0, receiptsVerified: 0, ledgerReceipts: 0, ledgerSeqsConsecutive: false, allReceiptsInLedger: false,
        };
        const returned = new Map<string, string>(); // boc -> escrow raw address
        const teePublic = net.tee.publicKey;

        const nodeJob = (stream: boolean, count: number): Omit<LoadJob, 'id'> => ({
            url: node.url, ca: net!.certPem, path: '/v1/chat/completions', bodies: chatBodies(MODEL, stream, tokens), headers: escrowHeaders,
            count, concurrency, stream, receipts: true,
        });
        const backendJob = (stream: boolean, count: number): Omit<LoadJob, 'id'> => ({
            url: backend!.url.replace(/\/v1$/, ''), path: '/v1/chat/completions', bodies: chatBodies(BACKEND_MODEL, stream, tokens), headers: [{}],
            count, concurrency, stream, receipts: false,
        });
        const collectReceipts = (r: LoadResult) => {
            checks.nodeRequests += r.ok + r.failed;
            checks.nodeOk += r.ok;
            for (const [h, boc] of r.receipts) {
                checks.receiptsReturned++;
                const escrow = net!.escrows[h].address;
                const s = parseSignedReceiptCell(Cell.fromBoc(Buffer.from(boc, 'base64'))[0]);
                if (verifyReceipt(s, teePublic) && s.receipt.escrow.equals(escrow)) checks.receiptsVerified++;
                returned.set(boc, escrow.toRawString());
            }
        };

        const measureMode = async (stream: boolean): Promise<ModeResult> => {
            const label = stream ? 'stream' : 'non-stream';
            if (warmup > 0) {
                say(`${label}: warm-up ${warmup} requests each`);
                await load!.run(backendJob(stream, warmup));
                collectReceipts(await load!.run(nodeJob(stream, warmup)));
            }
            const b = emptySample();
            const n = emptySample();
            let elu = { idle: 0, active: 0 };
            const stageTimings: ChatTiming[] = [];
            const snapshot = async (): Promise<CpuSnapshot> => ({ process: process.cpuUsage(), main: mainThreadCpuMs(), backend: await backend!.cpuMs() });
            for (let i = 0; i < rounds; i++) {
                const count = Math.floor(requests / rounds) + (i < requests % rounds ? 1 : 0);
                let before = await snapshot();
                const rb = await load!.run(backendJob(stream, count));
                addTo(b, rb, before, await snapshot());
                await profiler?.resume();
                before = await snapshot();
                const e0 = performance.eventLoopUtilization();
                timings = stageTimings;
                const rn = await load!.run(nodeJob(stream, count));
                timings = null;
                const e1 = performance.eventLoopUtilization(e0);
                addTo(n, rn, before, await snapshot());
                await profiler?.pause();
                elu = { idle: elu.idle + e1.idle, active: elu.active + e1.active };
                collectReceipts(rn);
            }
            const backendStats = statsOf(b);
            const nodeStats = statsOf(n);
            const m: ModeResult = {
                stream, backend: backendStats, node: nodeStats,
                ratio: round3(nodeStats.rps / backendStats.rps),
                addedP50Ms: round2(nodeStats.p50Ms - backendStats.p50Ms),
                addedP99Ms: round2(nodeStats.p99Ms - backendStats.p99Ms),
                nodeEventLoopUtilization: round3(elu.active / (elu.active + elu.idle)),
                nodeThreadCpuMsPerRequest: nodeStats.cpuMsPerRequestByThread?.node ?? null,
                nodeStages: stagesOf(stageTimings),
            };
            const st = m.nodeStages;
            say(`${label}: in the node's handler (p50 ms): admission ${st.admitP50Ms}, backend leg ${st.backendP50Ms}, receipt ${st.receiptP50Ms} (p90 ${st.receiptP90Ms}), response ${st.respondP50Ms}; handler ${st.handlerP50Ms}`);
            say(`${label}: backend ${backendStats.rps} req/s p50 ${backendStats.p50Ms} ms p99 ${backendStats.p99Ms} ms | node ${nodeStats.rps} req/s p50 ${nodeStats.p50Ms} ms p99 ${nodeStats.p99Ms} ms | ratio ${m.ratio}, added p50 ${m.addedP50Ms} ms | node loop busy ${Math.round(m.nodeEventLoopUtilization * 100)}%, CPU ms/request backend-direct ${cpuText(backendStats)} vs through node ${cpuText(nodeStats)}`);
            return m;
        };

        const nonStream = await measureMode(false);
        const stream = withStream ? await measureMode(true) : undefined;
        let probe: NodeBenchResult['probe'];
        const probeRequests = opts.probeRequests ?? 200;
        if (probeRequests > 0) {
            const pc = opts.probeConcurrency ?? 4;
            const rb = await load.run({ ...backendJob(false, probeRequests), concurrency: pc });
            const rn = await load.run({ ...nodeJob(false, probeRequests), concurrency: pc });
            collectReceipts(rn);
            const sb = statsOf(sampleOf(rb));
            const sn = statsOf(sampleOf(rn));
            probe = {
                requests: probeRequests, concurrency: pc, backendP50Ms: sb.p50Ms, nodeP50Ms: sn.p50Ms, addedP50Ms: round2(sn.p50Ms - sb.p50Ms),
                backendP99Ms: sb.p99Ms, nodeP99Ms: sn.p99Ms, addedP99Ms: round2(sn.p99Ms - sb.p99Ms),
            };
            if (rb.failed + rn.failed > 0) throw new Error(`latency probe: ${rb.failed + rn.failed} requests failed: ${[...rb.errors, ...rn.errors].join('; ')}`);
            say(`probe (${pc} in flight, non-stream): backend p50 ${sb.p50Ms} ms, node p50 ${sn.p50Ms} ms -> added p50 ${probe.addedP50Ms} ms, p99 ${probe.addedP99Ms} ms`);
        }
        if (profiler && opts.cpuProfile) {
            await profiler.write(opts.cpuProfile);
            say(`CPU profile of the node's measured phases: ${opts.cpuProfile}`);
        }

        // The ledger: one receipt per successful node request, consecutive per escrow, holding
        // exactly the receipts the clients got.
        let consecutive = true;
        const inLedger = new Set<string>();
        for (const e of net.escrows) {
            const rs = node.ledger.receipts(e.address, e.epoch);
            checks.ledgerReceipts += rs.length;
            rs.forEach((r, i) => {
                if (r.seq !== BigInt(i + 1)) consecutive = false;
                inLedger.add(r.boc.toString('base64'));
            });
        }
        checks.ledgerSeqsConsecutive = consecutive;
        checks.allReceiptsInLedger = returned.size === checks.receiptsReturned && [...returned.keys()].every((b) => inLedger.has(b));

        return {
            nodeRps: nonStream.node.rps, backendRps: nonStream.backend.rps, ratio: nonStream.ratio, addedP50Ms: nonStream.addedP50Ms, addedP99Ms: nonStream.addedP99Ms,
            target: { ratio: TARGET_RATIO, addedP50Ms: TARGET_ADDED_P50_MS },
            meetsTarget: { ratio: nonStream.ratio >= TARGET_RATIO, addedP50Ms: nonStream.addedP50Ms < TARGET_ADDED_P50_MS },
            fsyncP50Ms,
            config: { requests, concurrency, tokens, delayMs, stream: withStream, warmup, rounds, escrows: nEscrows, logLevel, ledgerDir: ownDir ? '(os.tmpdir)' : dir, escrowCacheMs: ESCROW_CACHE_MS },
            modes: { nonStream, ...(stream ? { stream } : {}) },
            ...(probe ? { probe } : {}),
            checks,
            env: {
                node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown',
                loadavgBefore, loadavgAfter: loadavg().map(round2), date: new Date().toISOString(),
            },
        };
    } finally {
        await net?.node.stop().catch(() => undefined);
        await backend?.stop().catch(() => undefined);
        await load?.close().catch(() => undefined);
        if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    }
}

// ------------------------------------------------------------------------------------------ report

export interface HistoryEntry {
    label: string;
    date: string;
    nodeRps: number;
    backendRps: number;
    ratio: number;
    addedP50Ms: number;
    streamRatio?: number;
    streamAddedP50Ms?: number;
    fsyncP50Ms: number;
}

export function historyEntry(label: string, r: NodeBenchResult): HistoryEntry {
    return {
        label, date: r.env.date, nodeRps: r.nodeRps, backendRps: r.backendRps, ratio: r.ratio, addedP50Ms: r.addedP50Ms,
        ...(r.modes.stream ? { streamRatio: r.modes.stream.ratio, streamAddedP50Ms: r.modes.stream.addedP50Ms } : {}),
        fsyncP50Ms: r.fsyncP50Ms,
    };
}

export function renderNodeMd(r: NodeBenchResult, history: HistoryEntry[] = []): string {
    const c = r.config;
    const lines = [
        '# Worker node throughput',
        '',
        `Generated by \`npm run bench:node\` (bench/node.ts) on ${r.env.date}: ${r.env.cpus} × ${r.env.cpuModel}, Node ${r.env.node}, load average before/after ${r.env.loadavgBefore.join(' ')} / ${r.env.loadavgAfter.join(' ')}.`,
        '',
        `${c.requests} measured requests per target and mode (${c.rounds} alternating rounds, after ${c.warmup} warm-up requests), ${c.concurrency} in flight, ` +
            `keep-alive agents; the development backend streams ${c.tokens} tokens at ${c.delayMs} ms each. The node runs in-process on the sandbox chain ` +
            `(escrow check from its cache), ${c.escrows} client escrows, logs at \`${c.logLevel}\`; backend and load generator run in their own threads. ` +
            'Node = HTTPS to the worker node; backend = plain HTTP straight to the development backend, same requests.',
        '',
        '| mode | target | req/s | p50 ms | p90 ms | p99 ms | ttfb p50 ms | failed | CPU ms/request: process (node thread, load, backend, other) |',
        '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ];
    const modes = [r.modes.nonStream, ...(r.modes.stream ? [r.modes.stream] : [])];
    for (const m of modes) {
        for (const [name, s] of [['backend', m.backend], ['node', m.node]] as const) {
            lines.push(`| ${m.stream ? 'stream' : 'non-stream'} | ${name} | ${s.rps} | ${s.p50Ms} | ${s.p90Ms} | ${s.p99Ms} | ${s.ttfbP50Ms} | ${s.failed} | ${cpuText(s)} |`);
        }
    }
    lines.push('', '| mode | node / backend req/s | added p50 ms | added p99 ms | node event loop busy |', '|---|---:|---:|---:|---:|');
    for (const m of modes) {
        lines.push(`| ${m.stream ? 'stream' : 'non-stream'} | ${m.ratio} | ${m.addedP50Ms} | ${m.addedP99Ms} | ${Math.round(m.nodeEventLoopUtilization * 100)}% |`);
    }
    lines.push(
        '',
        'Where a node request\'s time goes (medians, ms): the node\'s handler timed by its own clock (WorkerDeps.onChatTiming); ' +
            '"outside" = the client\'s median latency minus the handler\'s: TLS on both ends, HTTP parsing, and waiting for the node\'s and the load generator\'s event loops and for a core.',
        '',
        '| mode | admission | backend leg (direct: backend p50) | receipt signed + durable (p90) | response | handler | client latency | outside the handler |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const m of modes) {
        const st = m.nodeStages;
        lines.push(`| ${m.stream ? 'stream' : 'non-stream'} | ${st.admitP50Ms} | ${st.backendP50Ms} (${m.backend.p50Ms}) | ${st.receiptP50Ms} (${st.receiptP90Ms}) | ${st.respondP50Ms} | ${st.handlerP50Ms} | ${m.node.p50Ms} | ${round2(m.node.p50Ms - st.handlerP50Ms)} |`);
    }
    lines.push(
        '',
        `Target (non-stream, the headline): ratio ≥ ${r.target.ratio} — ${r.meetsTarget.ratio ? 'met' : 'NOT met'}; added p50 < ${r.target.addedP50Ms} ms — ${r.meetsTarget.addedP50Ms ? 'met' : 'NOT met'}.`,
        ...(r.modes.stream
            ? [`Streamed answers against the same targets: ratio ${r.modes.stream.ratio} — ${r.modes.stream.ratio >= r.target.ratio ? 'met' : 'NOT met'}; added p50 ${r.modes.stream.addedP50Ms} ms — ${r.modes.stream.addedP50Ms < r.target.addedP50Ms ? 'met' : 'NOT met'}.`]
            : []),
        'Hot spots found with the profiler, what was changed, and what is left: [PROFILE.md](PROFILE.md).',
        ...(r.probe
            ? [`With ${r.probe.concurrency} requests in flight (${r.probe.requests} non-stream requests, no saturation): backend p50 ${r.probe.backendP50Ms} ms, node p50 ${r.probe.nodeP50Ms} ms, added p50 ${r.probe.addedP50Ms} ms, added p99 ${r.probe.addedP99Ms} ms.`]
            : []),
        `Durability floor on this disk: one WAL commit with synchronous=FULL (one fsync) takes ${r.fsyncP50Ms} ms at the median; a receipt is never returned before its commit is durable, so the added latency cannot go below it.`,
        '',
        `Checks: ${r.checks.nodeOk}/${r.checks.nodeRequests} node requests succeeded, ${r.checks.receiptsVerified}/${r.checks.receiptsReturned} receipts verified against the TEE key, ` +
            `${r.checks.ledgerReceipts} receipts in the ledger (seq consecutive per escrow: ${r.checks.ledgerSeqsConsecutive ? 'yes' : 'NO'}; every returned receipt in the ledger: ${r.checks.allReceiptsInLedger ? 'yes' : 'NO'}).`,
    );
    if (history.length) {
        lines.push('', '## History', '', '| label | date | node req/s | backend req/s | ratio | added p50 ms | stream ratio | stream added p50 ms | fsync ms |', '|---|---|---:|---:|---:|---:|---:|---:|---:|');
        for (const h of history) {
            lines.push(`| ${h.label} | ${h.date.slice(0, 16)} | ${h.nodeRps} | ${h.backendRps} | ${h.ratio} | ${h.addedP50Ms} | ${h.streamRatio ?? ''} | ${h.streamAddedP50Ms ?? ''} | ${h.fsyncP50Ms} |`);
        }
    }
    return lines.join('\n') + '\n';
}

// Worker nodes in tests: started in-process against the sandbox network of tests/helpers/network.ts,
// talked to over real HTTPS (raw requests, or the stock `openai` client with an API key).
import { request as httpsRequest, Agent } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { Address, toNano } from '@ton/core';
import { SandboxChain, generateSelfSignedCert, hex256, mintApiKey, tlsKeyHashOfCert, type Ed25519Key } from '../../src/sdk';
import { DevBackend } from '../../src/backend';
import { startWorkerNode, DevAttestationProvider, type ClaimOutcome, type WorkerConfigInput, type WorkerNodeHandle, type WorkerDeps } from '../../src/worker';
import { MODEL, MEASUREMENT, clientKeyOf, type Net, type WorkerHandle, type EscrowHandle } from './network';

export interface RawResponse {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    text: string;
    json: any;
    peerCertDer: Buffer | null;
}

export interface NodeFixture {
    dir: string;
    certPem: string;
    keyPem: string;
    agent: Agent;
    claims: ClaimOutcome[];
    config(w: WorkerHandle, dev: DevBackend, over?: Partial<WorkerConfigInput>): WorkerConfigInput;
    start(w: WorkerHandle, dev: DevBackend, over?: Partial<WorkerConfigInput>, deps?: Partial<WorkerDeps>): Promise<WorkerNodeHandle>;
    cleanup(): void;
}

/** A temp directory, a TLS certificate (its hash is what registerWorker attests), an agent that trusts it. */
export async function nodeFixture(net: Net): Promise<NodeFixture> {
    const dir = mkdtempSync(join(tmpdir(), 'cocoon-node-'));
    const cert = await generateSelfSignedCert();
    writeFileSync(join(dir, 'cert.pem'), cert.certPem);
    writeFileSync(join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
    const agent = new Agent({ ca: cert.certPem, keepAlive: true });
    const claims: ClaimOutcome[] = [];
    const config = (w: WorkerHandle, dev: DevBackend, over: Partial<WorkerConfigInput> = {}): WorkerConfigInput => ({
        model: MODEL, host: '127.0.0.1', port: 0,
        backend: { url: dev.url, model: 'dev-model', timeoutMs: 10_000 },
        root: net.root.address.toString(), operator: w.operator.address.toString(), measurement: hex256(MEASUREMENT),
        tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
        dbPath: join(dir, `ledger-${w.operator.address.toRawString().slice(2, 10)}.db`), maxBodyBytes: 64 * 1024,
        escrowCacheMs: 60_000, workerCacheMs: 60_000,
        claim: { threshold: 10n ** 12n, intervalMs: 3_600_000, value: toNano('0.05') },
        shutdownGraceMs: 5_000, logLevel: 'silent',
        ...over,
    });
    return {
        dir, certPem: cert.certPem, keyPem: cert.keyPem, agent, claims, config,
        start: (w, dev, over = {}, deps = {}) => startWorkerNode(config(w, dev, over), {
            chain: new SandboxChain(net.chain), operatorSender: w.operator.getSender(),
            attestationProvider: new DevAttestationProvider(net.verifier), onClaim: (c) => claims.push(c), ...deps,
        }),
        cleanup: () => {
            agent.destroy();
            rmSync(dir, { recursive: true, force: true });
        },
    };
}

export { tlsKeyHashOfCert };

/** An API key for an escrow opened with openEscrow(net, w, clientName, …): signed by that client's key. */
export function apiKeyFor(net: Net, e: EscrowHandle | Address, clientName: string, o: { ttlSec?: number; limit?: bigint; key?: Ed25519Key; notAfter?: number } = {}): string {
    const escrow = e instanceof Address ? e : e.escrow.address;
    const now = net.chain.now ?? Math.floor(Date.now() / 1000);
    return mintApiKey({ escrow, notAfter: o.notAfter ?? now + (o.ttlSec ?? 3600), limit: o.limit ?? 0n }, o.key ?? clientKeyOf(clientName));
}

/** The stock openai client with only baseURL and apiKey set (and the agent that trusts the test certificate). */
export function openai(node: WorkerNodeHandle, apiKey: string, agent: Agent, headers: Record<string, string> = {}): OpenAI {
    return new OpenAI({ baseURL: node.url + '/v1', apiKey, maxRetries: 0, httpAgent: agent, defaultHeaders: headers });
}

export function raw(node: WorkerNodeHandle, certPem: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
        const u = new URL(node.url + path);
        const req = httpsRequest({ hostname: u.hostname, port: u.port, path: u.pathname, method, headers: opts.headers, ca: certPem, agent: false }, (res) => {
            const peer = (res.socket as any).getPeerCertificate?.();
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (text += d));
            res.on('end', () => {
                let json: any = null;
                try {
                    json = JSON.parse(text);
                } catch {
                    json = null;
                }
                resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, peerCertDer: peer?.raw ?? null });
            });
        });
        req.on('error', reject);
        if (opts.body !== undefined) req.write(opts.body);
        req.end();
    });
}

/** Awaits a call that must fail with an OpenAI APIError of this status and code. */
export async function refused(p: Promise<unknown>, status: number, code: string): Promise<APIError> {
    const err = await p.then(() => null, (e) => e);
    expect(err).toBeInstanceOf(APIError);
    expect({ status: (err as APIError).status, code: (err as APIError).code }).toEqual({ status, code });
    expect((err as APIError).message.length).toBeGreaterThan(10);
    return err as APIError;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

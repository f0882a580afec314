// Issue 10: only the holder of a valid API key for an escrow can spend it. A stranger knows the
// victim's escrow address (public, derivable from worker and client) and tries every way in; each
// attempt is refused and leaves no receipt in the ledger and no TON moved on-chain. Then the stock
// `openai` package with only baseURL and an API key gets a whole and a streamed answer.
import '@ton/test-utils';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Agent, request as httpsRequest } from 'node:https';
import { Address, toNano } from '@ton/core';
import { SandboxChain, escrowAddress, keyFromSeed, publicKeyToBigInt, tlsKeyHashOfCert, parseApiKey, mintApiKey, type Ed25519Key, asPrices } from '../src/sdk';
import { CocoonClient, loadClientKey, rotateClientKey, sandboxEventSource } from '../src/client';
import { DevBackend, devAnswerTokens } from '../src/backend';
import { Authenticator, EscrowView, type WorkerNodeHandle } from '../src/worker';
import { createNet, registerWorker, openEscrow, seededKey, clientKeyOf, MODEL, type Net, type WorkerHandle, type EscrowHandle } from './helpers/network';
import { nodeFixture, apiKeyFor, openai, raw as rawOn, refused, sleep, type NodeFixture } from './helpers/node';

const PRICE = toNano('0.5');
const messages = [{ role: 'user' as const, content: 'Bill this to somebody else, please.' }];

describe('API keys: only the holder of a key for the escrow is served or billed', () => {
    let net: Net;
    let w: WorkerHandle;
    let dev: DevBackend;
    let fx: NodeFixture;
    let node: WorkerNodeHandle;
    let victim: EscrowHandle;
    let strangerOwn: EscrowHandle;
    let limited: EscrowHandle;
    const ESCROW_CACHE_MS = 400;

    const start = () => fx.start(w, dev, { escrowCacheMs: ESCROW_CACHE_MS, workerCacheMs: 60_000, auth: { failures: { burst: 1000, perSec: 1000 }, rereadMinAgeMs: 100 } });

    /** Everything that could have moved: balances of the victim's escrow and wallet, the operator, the Worker; the victim's ledger rows. */
    async function snapshot(extra: Address[] = []) {
        const accounts = [victim.escrow.address, victim.client.address, w.operator.address, w.worker.address, ...extra];
        const balances = await Promise.all(accounts.map(async (a) => (await net.chain.getContract(a)).balance));
        const st = await victim.escrow.getState();
        return { balances, receipts: node.ledger.receipts(victim.escrow.address, st.epoch).length, lastSeq: st.lastSeq, paid: st.paid, deposit: st.deposit };
    }

    /** Runs the attack, then checks that nothing was written or moved (the claim loop runs too). */
    async function nothingMoves(attack: () => Promise<void>, extra: Address[] = []) {
        const before = await snapshot(extra);
        const served = dev.requests;
        await attack();
        await node.runClaims();
        expect(dev.requests).toBe(served);
        expect(await snapshot(extra)).toEqual(before);
    }

    const ask = (apiKey: string, headers: Record<string, string> = {}, over: Record<string, unknown> = {}) =>
        openai(node, apiKey, fx.agent, headers).chat.completions.create({ model: MODEL, messages, max_tokens: 20, ...over } as any);

    beforeAll(async () => {
        net = await createNet();
        fx = await nodeFixture(net);
        w = await registerWorker(net, 'op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
        dev = await DevBackend.start({ tokens: 20, delayMs: 0 });
        node = await start();
        // opened after the node's start: they hold its key (no refresh involved)
        victim = await openEscrow(net, w, 'victim', toNano('5'), PRICE);
        strangerOwn = await openEscrow(net, w, 'stranger', toNano('1'), PRICE);
        limited = await openEscrow(net, w, 'limited', toNano('5'), PRICE);
        expect((await victim.escrow.getState()).teeKey).toBe(node.teeKey);
    });

    afterAll(async () => {
        await node?.stop();
        await dev?.stop();
        fx?.cleanup();
    });

    it('the stranger derives the victim escrow address from public facts', async () => {
        expect((await escrowAddress(w.worker.address, victim.client.address)).equals(victim.escrow.address)).toBe(true);
    });

    it('no token, only X-Cocoon-Escrow: 401 invalid_api_key, nothing billed', async () => {
        await nothingMoves(async () => {
            const r = await rawOn(node, fx.certPem, 'POST', '/v1/chat/completions', {
                headers: { 'content-type': 'application/json', 'x-cocoon-escrow': victim.escrow.address.toString() },
                body: JSON.stringify({ model: MODEL, messages, max_tokens: 20 }),
            });
            expect(r.status).toBe(401);
            expect(r.json.error.code).toBe('invalid_api_key');
            expect(r.json.error.message).toMatch(/cocoon api-key/);
            expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
        });
    });

    it('a random token (OpenAI-style, or cocoon_ with random bytes): 401 invalid_api_key, nothing billed', async () => {
        await nothingMoves(async () => {
            const header = { 'X-Cocoon-Escrow': victim.escrow.address.toString() };
            await refused(ask('sk-' + randomBytes(24).toString('hex'), header), 401, 'invalid_api_key');
            await refused(ask('cocoon_' + randomBytes(122).toString('base64url'), header), 401, 'invalid_api_key');
            // well-formed payload for the victim's escrow, random signature bytes
            const k = parseApiKey(apiKeyFor(net, victim, 'victim'));
            const forged = 'cocoon_' + Buffer.concat([k.payload, randomBytes(64)]).toString('base64url');
            await refused(ask(forged, header), 401, 'invalid_api_key');
        });
    });

    it("a valid token for another escrow of the same worker (the stranger's own), with X-Cocoon-Escrow naming the victim's: 401, nothing billed to either", async () => {
        const own = apiKeyFor(net, strangerOwn, 'stranger');
        const ownEpoch = (await strangerOwn.escrow.getState()).epoch;
        await nothingMoves(async () => {
            const e = await refused(ask(own, { 'X-Cocoon-Escrow': victim.escrow.address.toString() }), 401, 'invalid_api_key');
            expect(e.message).toMatch(/X-Cocoon-Escrow/);
        }, [strangerOwn.escrow.address]);
        expect(node.ledger.receipts(strangerOwn.escrow.address, ownEpoch)).toHaveLength(0);
    });

    it("tokens for the victim's escrow signed by the operator's wallet key, the TEE key it registered, the verifier key or another client's key: 401, nothing billed", async () => {
        const signers: [string, Ed25519Key][] = [
            ['operator wallet key', seededKey('operator-wallet:op')],
            ['registered TEE key', w.tee],
            ['verifier key', net.verifier],
            ["another client's key", clientKeyOf('stranger')],
        ];
        await nothingMoves(async () => {
            for (const [, key] of signers) {
                const token = apiKeyFor(net, victim, 'victim', { key });
                await refused(ask(token), 401, 'invalid_api_key');
                await refused(ask(token, { 'X-Cocoon-Escrow': victim.escrow.address.toString() }), 401, 'invalid_api_key');
            }
        });
    });

    it("an expired token signed by the victim's own key: 401 expired_api_key, nothing billed", async () => {
        const now = net.chain.now!;
        await nothingMoves(async () => {
            await refused(ask(apiKeyFor(net, victim, 'victim', { notAfter: now - 1 })), 401, 'expired_api_key');
            await refused(ask(apiKeyFor(net, victim, 'victim', { notAfter: now })), 401, 'expired_api_key');
        });
    });

    it('tokens naming the Worker contract, the root or a made-up address: 401, not 500', async () => {
        await nothingMoves(async () => {
            for (const a of [w.worker.address, net.root.address, new Address(0, randomBytes(32))]) {
                const e = await refused(ask(apiKeyFor(net, a, 'victim')), 401, 'invalid_api_key');
                expect(e.message).toMatch(/ClientEscrow/);
            }
        });
    });

    it('a token past its spend limit: 402 spend_limit_reached, also after a node restart; what was spent stays within the limit', async () => {
        const first = await ask(apiKeyFor(net, limited, 'limited'), {}, { max_tokens: 20 });
        const oneRequest = BigInt((first as any).cocoon_receipt.requestCost);
        // worst case of a request: (prompt + max_tokens) x price; a limit that holds one such request, not two
        const limit = oneRequest + oneRequest / 2n;
        const token = apiKeyFor(net, limited, 'limited', { limit, ttlSec: 86400 });
        const epoch = (await limited.escrow.getState()).epoch;
        const served = await ask(token, {}, { max_tokens: 20 });
        expect(BigInt((served as any).cocoon_receipt.requestCost)).toBeLessThanOrEqual(limit);
        const keyId = parseApiKey(token).id;
        expect(node.ledger.spentBy(keyId)).toBe(BigInt((served as any).cocoon_receipt.requestCost));
        const rows = () => node.ledger.receipts(limited.escrow.address, epoch).length;
        const before = rows();
        const e = await refused(ask(token, {}, { max_tokens: 20 }), 402, 'spend_limit_reached');
        expect(e.message).toContain(`limit of ${limit} nanoton`);
        expect(rows()).toBe(before);
        // a restart does not reset it: the spend is in the ledger
        await node.stop();
        node = await start();
        expect(node.ledger.spentBy(keyId)).toBe(BigInt((served as any).cocoon_receipt.requestCost));
        await refused(ask(token, {}, { max_tokens: 20 }), 402, 'spend_limit_reached');
        expect(node.ledger.receipts(limited.escrow.address, epoch).length).toBe(before);
        // concurrent requests count each other's worst case: of three at once, at most one fits
        const fresh = apiKeyFor(net, limited, 'limited', { limit, ttlSec: 86400 });
        const results = await Promise.allSettled([0, 1, 2].map(() => ask(fresh, {}, { max_tokens: 20 })));
        expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
        expect(node.ledger.spentBy(parseApiKey(fresh).id)).toBeLessThanOrEqual(limit);
    });

    it('after SetClientKey, a token signed by the old key is refused once the escrow cache TTL has passed; the new key works at once', async () => {
        const oldToken = apiKeyFor(net, victim, 'victim', { ttlSec: 86400 });
        const ok = await ask(oldToken);
        expect((ok as any).cocoon_receipt.seq).toBe('1');
        const newKey = keyFromSeed(randomBytes(32));
        const set = await victim.escrow.send(victim.client.getSender(), { value: toNano('0.05') }, { $$type: 'SetClientKey', queryId: 0n, clientKey: publicKeyToBigInt(newKey.publicKey) });
        expect(set.transactions).toHaveTransaction({ to: victim.escrow.address, success: true });
        // the new key works at once: its bad signature against the cached (old) client key re-reads
        // the escrow, since the cached state is older than rereadMinAgeMs (100 ms here) and within its TTL
        await sleep(150);
        const reads = node.admission.auth.stats.rereads;
        const viaNew = await ask(apiKeyFor(net, victim, 'victim', { key: newKey }));
        expect((viaNew as any).cocoon_receipt.seq).toBe('2');
        expect(node.admission.auth.stats.rereads).toBe(reads + 1);
        // the old key: void now that the node read the new one, and in any case within escrowCacheMs of SetClientKey
        await nothingMoves(async () => {
            await refused(ask(oldToken), 401, 'invalid_api_key');
            await sleep(ESCROW_CACHE_MS + 50);
            await refused(ask(oldToken), 401, 'invalid_api_key');
        });
    });

    it('the stock openai package with only baseURL and apiKey gets a whole and a streamed answer', async () => {
        const apiKey = apiKeyFor(net, strangerOwn, 'stranger', { ttlSec: 3600 });
        // baseURL and apiKey; the agent only trusts the test's self-signed certificate (transport, not API)
        const client = new OpenAI({ baseURL: node.url + '/v1', apiKey, httpAgent: fx.agent });
        const whole = await client.chat.completions.create({ model: MODEL, messages });
        expect(whole.choices[0].message.content).toBe(devAnswerTokens(messages, 20).join(''));
        expect((whole as any).cocoon_receipt.seq).toBe('1');
        const stream = await client.chat.completions.create({ model: MODEL, messages, stream: true });
        let text = '';
        let receipt: any = null;
        for await (const c of stream) {
            text += c.choices[0]?.delta?.content ?? '';
            receipt = (c as any).cocoon_receipt ?? receipt;
        }
        expect(text).toBe(devAnswerTokens(messages, 20).join(''));
        expect(receipt.seq).toBe('2');
    });

    it('failed authentications are rate-limited per peer address; a valid key from another address still works', async () => {
        // (the last test of this block: this node takes over the Worker with its own key)
        const tight = await fx.start(w, dev, { auth: { failures: { burst: 3, perSec: 0.2 } }, dbPath: fx.dir + '/tight.db' });
        const here = new Agent({ ca: fx.certPem, keepAlive: true, localAddress: '127.0.0.1' });
        const there = new Agent({ ca: fx.certPem, keepAlive: true, localAddress: '127.0.0.2' });
        try {
            // a connection opened before the failures (kept alive by a request that needs no key)
            const kept = new Agent({ ca: fx.certPem, keepAlive: true, maxSockets: 1, localAddress: '127.0.0.1' });
            const via = (agent: Agent, method: string, path: string, headers: Record<string, string> = {}, body?: string) => new Promise<{ status: number; json: any; headers: any }>((resolve, reject) => {
                const u = new URL(tight.url + path);
                const r = httpsRequest({ hostname: u.hostname, port: u.port, path: u.pathname, method, agent, headers }, (res) => {
                    let t = '';
                    res.on('data', (d) => (t += d));
                    res.on('end', () => resolve({ status: res.statusCode ?? 0, json: t ? JSON.parse(t) : null, headers: res.headers }));
                });
                r.on('error', reject);
                r.end(body);
            });
            expect((await via(kept, 'GET', '/v1/models')).status).toBe(200);
            const bad = openai(tight, 'sk-nope', here);
            for (let i = 0; i < 3; i++) await refused(bad.chat.completions.create({ model: MODEL, messages }), 401, 'invalid_api_key');
            expect(tight.admission.auth.stats.failures).toBe(3);
            // on the connection that was already open: 429 with Retry-After, before any work
            const e = await via(kept, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', authorization: 'Bearer sk-nope' }, JSON.stringify({ model: MODEL, messages }));
            expect([e.status, e.json.error.code]).toEqual([429, 'too_many_auth_failures']);
            expect(Number(e.headers['retry-after'])).toBeGreaterThanOrEqual(1);
            kept.destroy();
            // a new connection from that address is dropped before the TLS handshake; a valid key from it waits too
            const dropped = await openai(tight, apiKeyFor(net, strangerOwn, 'stranger'), new Agent({ ca: fx.certPem, localAddress: '127.0.0.1' }))
                .chat.completions.create({ model: MODEL, messages }).then(() => null, (x) => x);
            expect(dropped?.constructor?.name).toBe('APIConnectionError');
            expect(tight.server.stats.refusedPeer).toBeGreaterThanOrEqual(1);
            // another address is not affected
            const ok = await openai(tight, apiKeyFor(net, strangerOwn, 'stranger'), there).chat.completions.create({ model: MODEL, messages });
            expect(ok.choices).toHaveLength(1);
            expect(tight.admission.auth.trackedPeers).toBe(1);
        } finally {
            here.destroy();
            there.destroy();
            await tight.stop();
        }
    });
});

describe('API key checks: cost and bounds', () => {
    it('one signature check costs well under a millisecond, a repeat of a verified key a map lookup; the failure table stays bounded', async () => {
        // an escrow view that answers from a fixed snapshot (no chain): only the check itself is measured
        const client = keyFromSeed(randomBytes(32));
        const worker = new Address(0, Buffer.alloc(32, 1));
        const escrow = new Address(0, Buffer.alloc(32, 2));
        const snap = { address: escrow, worker, fetchedAt: Date.now(), state: { clientKey: publicKeyToBigInt(client.publicKey) } } as any;
        const view = { lookup: async () => ({ kind: 'escrow', snap }), age: () => 0 } as unknown as EscrowView;
        const auth = new Authenticator({
            escrows: view, worker, now: async () => 1_800_000_000,
            config: { failures: { burst: 5, perSec: 1 }, maxPeers: 100, unknownEscrows: { burst: 10, perSec: 10 }, rereads: { burst: 1, perSec: 1 }, rereadMinAgeMs: 1000, verifiedCache: 10_000 },
        });
        const N = 2000;
        const tokens = Array.from({ length: N }, () => mintApiKey({ escrow, notAfter: 1_900_000_000, limit: 0n }, client));
        const req = (t: string, ip = '10.0.0.1') => ({ headers: { authorization: `Bearer ${t}` }, socket: { remoteAddress: ip } }) as any;
        for (const t of tokens.slice(0, 200)) await auth.authenticate(req(t)); // warm up
        let t0 = performance.now();
        for (const t of tokens.slice(200)) await auth.authenticate(req(t));
        const fresh = ((performance.now() - t0) * 1000) / (N - 200);
        t0 = performance.now();
        for (let i = 0; i < N; i++) await auth.authenticate(req(tokens[i % 50]));
        const cached = ((performance.now() - t0) * 1000) / N;
        // eslint-disable-next-line no-console
        console.log(`API key check: ${fresh.toFixed(1)} µs with the ed25519 verification, ${cached.toFixed(1)} µs for a key verified before`);
        expect(auth.stats.verifications).toBe(N);
        expect(fresh).toBeLessThan(1000);
        expect(cached).toBeLessThan(fresh);
        // 500 peers failing: the table keeps at most maxPeers
        for (let i = 0; i < 500; i++) await auth.authenticate(req('sk-x', `10.1.${i >> 8}.${i & 255}`)).catch(() => undefined);
        expect(auth.trackedPeers).toBeLessThanOrEqual(100);
    });
});

describe('cocoon rotate-key (rotateClientKey)', () => {
    it('a new key file (the old one kept, dated, 0600), SetClientKey on every escrow of the client; old API keys stop working, new ones work', async () => {
        const net = await createNet();
        const fx = await nodeFixture(net);
        const dev = await DevBackend.start({ tokens: 8, delayMs: 0 });
        const w1 = await registerWorker(net, 'rot-op1', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fx.certPem) });
        const w2 = await registerWorker(net, 'rot-op2');
        for (const w of [w1, w2]) await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(PRICE) });
        const node = await fx.start(w1, dev, { escrowCacheMs: 300 });
        const file = join(fx.dir, 'home', 'client-key');
        const old = loadClientKey({ file, create: true, env: {} });
        const wallet = await net.chain.treasury('rot-client');
        const client = new CocoonClient({
            chain: new SandboxChain(net.chain), root: net.root.address, wallet: wallet.getSender() as any, events: sandboxEventSource(net.chain, net.root.address), clientKey: old.key,
        });
        try {
            for (const w of [w1, w2]) await client.escrows.open(w.worker.address, toNano('1'), PRICE, old.publicKey);
            const oldKey = (await client.apiKey(w1.worker.address, { ttlSec: 3600 })).token;
            expect((await openai(node, oldKey, fx.agent).chat.completions.create({ model: MODEL, messages })).choices).toHaveLength(1);

            const lines: string[] = [];
            const r = await rotateClientKey(client, { file, env: {}, say: (l) => lines.push(l), now: () => new Date('2026-12-01T10:20:30Z') });
            expect(r.backup).toBe(`${file}.20261201T102030.bak`);
            expect(statSync(r.backup!).mode & 0o777).toBe(0o600);
            expect(readFileSync(r.backup!, 'utf8')).not.toBe(readFileSync(file, 'utf8'));
            expect(loadClientKey({ file: r.backup!, env: {} }).publicKey).toBe(old.publicKey);
            expect(statSync(file).mode & 0o777).toBe(0o600);
            expect(r.key.publicKey).not.toBe(old.publicKey);
            expect(r.updated.map((a) => a.toRawString()).sort()).toEqual([
                (await client.escrows.addressFor(w1.worker.address)).toRawString(), (await client.escrows.addressFor(w2.worker.address)).toRawString(),
            ].sort());
            for (const w of [w1, w2]) expect((await client.escrows.view(w.worker.address)).state!.clientKey).toBe(r.key.publicKey);
            // old API keys: refused within the escrow cache TTL; keys signed by the new key work
            await sleep(350);
            await refused(openai(node, oldKey, fx.agent).chat.completions.create({ model: MODEL, messages }), 401, 'invalid_api_key');
            const escrow = await client.escrows.addressFor(w1.worker.address);
            const fresh = mintApiKey({ escrow, notAfter: net.chain.now! + 3600, limit: 0n }, r.key.key);
            expect((await openai(node, fresh, fx.agent).chat.completions.create({ model: MODEL, messages })).choices).toHaveLength(1);
            // resume: nothing left to do
            const again = await rotateClientKey(client, { file, env: {}, resume: true });
            expect([again.updated.length, again.already.length, again.backup]).toEqual([0, 2, null]);
            // a key from the environment is the user's to rotate
            await expect(rotateClientKey(client, { file, env: { COCOON_CLIENT_KEY_SEED: 'ab'.repeat(32) } })).rejects.toThrow(/COCOON_CLIENT_KEY_SEED/);
        } finally {
            client.close();
            await node.stop();
            await dev.stop();
            fx.cleanup();
        }
    });
});

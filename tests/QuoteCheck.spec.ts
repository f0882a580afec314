// Issue 13: a client that trusts no verifier checks the worker's TDX quote itself (verifyQuote),
// with the verifier's own code, before its first prompt to each TEE key. A real node attests
// through a verifier service (fake configfs-tsm, quotes under a test Intel root); the client
// accepts it, refuses a node with a development attestation, and refuses every quote that does
// not bind exactly the on-chain statement.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { SandboxChain, hex256, keyBinding, publicKeyToBigInt, tlsKeyHashOfCert, TCB_STATUS, asPrices, type WorkerInfo } from '../src/sdk';
import { DevBackend } from '../src/backend';
import { CocoonClient, checkWorkerQuote, isClientError, sandboxEventSource, type QuoteCheckOptions } from '../src/client';
import { parseTdxQuote, startVerifierService, type VerifierServiceHandle } from '../src/verifier';
import { HttpQuoteVerifier, TdxAttestationProvider, type WorkerNodeHandle } from '../src/worker';
import { createNet, registerWorker, seededKey, clientKeyOf, MODEL, type Net, type WorkerHandle } from './helpers/network';
import { nodeFixture, type NodeFixture } from './helpers/node';
import { syntheticTdx, fakeTsm } from './helpers/syntheticTdx';

const NOW = 1_800_000_000; // createNet's chain.now
type Tdx = Awaited<ReturnType<typeof syntheticTdx>>;

const refusal = (e: unknown) => (isClientError(e) && e.code === 'QUOTE_REFUSED' ? e.message : `not refused: ${String(e)}`);

describe('verifyQuote: the client checks the TDX quote itself', () => {
    let tdx: Tdx;
    let image: bigint;
    let net: Net;
    let svc: VerifierServiceHandle;
    let tsmDir: string;
    let dev: DevBackend;
    let fxTdx: NodeFixture;
    let fxDev: NodeFixture;
    let wTdx: WorkerHandle;
    let wDev: WorkerHandle;
    let nodes: WorkerNodeHandle[] = [];
    let client: CocoonClient;
    let check: QuoteCheckOptions;

    const live = async (w: WorkerHandle, node: WorkerNodeHandle) => {
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetPrice', queryId: 0n, prices: asPrices(toNano('0.5')) });
        await w.worker.send(w.operator.getSender(), { value: toNano('0.05') }, { $$type: 'SetEndpoint', queryId: 0n, endpoint: node.url });
        await client.escrows.open(w.worker.address, toNano('5'), toNano('1'), publicKeyToBigInt(clientKeyOf('client').publicKey));
    };

    beforeAll(async () => {
        tdx = await syntheticTdx(NOW);
        image = BigInt('0x' + parseTdxQuote(tdx.quote({ reportData: Buffer.alloc(64) })).measurement.toString('hex'));
        net = await createNet({ moreMeasurements: [[image, MODEL]] });
        // the sandbox's verifier key (whitelisted by the root) runs a real verifier service
        svc = await startVerifierService(
            { port: 0, root: net.root.address.toString(), policy: { allowedMeasurements: [hex256(image).slice(2)] }, logLevel: 'silent', collateral: { acceptFromRequest: false } },
            { key: net.verifier, anchor: tdx.pki.anchor, clock: () => NOW * 1000, collateralSource: { describe: 'test', get: async () => tdx.collateral } },
        );
        tsmDir = mkdtempSync(join(tmpdir(), 'cocoon-tsm-'));
        dev = await DevBackend.start({ tokens: 8, delayMs: 0 });
        fxTdx = await nodeFixture(net);
        fxDev = await nodeFixture(net);
        wTdx = await registerWorker(net, 'tdx-op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fxTdx.certPem), measurement: image });
        wDev = await registerWorker(net, 'dev-op', toNano('100'), { tlsKeyHash: tlsKeyHashOfCert(fxDev.certPem) });
        const tdxProvider = new TdxAttestationProvider(new HttpQuoteVerifier({ urls: [svc.url], quorum: 1 }), { tsmPath: tsmDir, fs: fakeTsm(tdx) });
        nodes.push(await fxTdx.start(wTdx, dev, { measurement: hex256(image), workerCacheMs: 0, escrowCacheMs: 0 }, { attestationProvider: tdxProvider }));
        nodes.push(await fxDev.start(wDev, dev, { workerCacheMs: 0, escrowCacheMs: 0 }));
        check = { collateral: { describe: 'test', get: async () => tdx.collateral }, anchor: tdx.pki.anchor };
        client = new CocoonClient({
            chain: new SandboxChain(net.chain), root: net.root.address, wallet: (await net.chain.treasury('client')).getSender() as any,
            events: sandboxEventSource(net.chain, net.root.address), clientKey: clientKeyOf('client'), requestTimeoutMs: 10_000, verifyQuote: check,
        });
        await live(wTdx, nodes[0]);
        await live(wDev, nodes[1]);
    });

    afterAll(async () => {
        client?.close();
        await Promise.all(nodes.map((n) => n.stop()));
        await dev?.stop();
        await svc?.stop();
        fxTdx?.cleanup();
        fxDev?.cleanup();
        if (tsmDir) rmSync(tsmDir, { recursive: true, force: true });
    });

    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'is this a TD?' }], max_tokens: 8 };

    it('a node attested through a verifier: its quote checks out and the prompt is served', async () => {
        const info = await wTdx.worker.getInfo();
        expect([info.measurement, info.tcbStatus]).toEqual([image, BigInt(TCB_STATUS.UpToDate)]);
        const s = await client.session(wTdx.worker.address);
        const v = await s.checkQuote();
        expect(v.accepted).toBe(true);
        expect(v.measurement).toBe(hex256(image).slice(2));
        const r = await s.chat(body);
        expect(r.receipt.tokens).toBeGreaterThan(0n);
    });

    it('a node with a development attestation (no quote) is refused before the prompt leaves', async () => {
        const before = dev.requests;
        const s = await client.session(wDev.worker.address);
        const err = await s.chat(body).then(() => null, (e) => e);
        expect(refusal(err)).toMatch(/serves no quote/);
        expect(dev.requests).toBe(before); // nothing reached the inference engine
    });

    describe('checkWorkerQuote refuses every quote that does not bind the statement', () => {
        const root = Address.parse('0:' + '11'.repeat(32));
        const operator = Address.parse('0:' + '22'.repeat(32));
        const tee = publicKeyToBigInt(seededKey('quote-check-tee').publicKey);
        const binding = { root, operator, teeKey: tee, tlsKeyHash: 0x1234n };
        const sha = (q: Buffer) => BigInt('0x' + createHash('sha256').update(q).digest('hex'));
        const infoFor = (q: Buffer, over: Partial<WorkerInfo> = {}) =>
            ({ root, operator, teeKey: tee, tlsKeyHash: 0x1234n, measurement: image, quoteHash: sha(q), ...over }) as WorkerInfo;
        const run = (q: Buffer | null, info: WorkerInfo, o: { allowed?: boolean; opts?: Partial<QuoteCheckOptions> } = {}) =>
            checkWorkerQuote({ quote: q, root, operator, info, now: NOW, measurementAllowed: async () => o.allowed ?? true }, { ...check, ...o.opts })
                .then((v) => `accepted ${v.measurement}`, refusal);

        it('accepts the honest quote', async () => {
            const q = tdx.quote({ reportData: keyBinding(binding) });
            expect(await run(q, infoFor(q))).toBe(`accepted ${hex256(image).slice(2)}`);
        });

        it.each([
            ['REPORTDATA binds another TEE key', () => tdx.quote({ reportData: keyBinding({ ...binding, teeKey: tee + 1n }) }), {}, {}, /report_data_mismatch/],
            ['REPORTDATA binds another TLS key', () => tdx.quote({ reportData: keyBinding({ ...binding, tlsKeyHash: 0x9999n }) }), {}, {}, /report_data_mismatch/],
            ['REPORTDATA binds another root', () => tdx.quote({ reportData: keyBinding({ ...binding, root: operator }) }), {}, {}, /report_data_mismatch/],
            ['a debug TD', () => tdx.quote({ reportData: keyBinding(binding), tdAttributes: Buffer.from('0100001000000000', 'hex') }), {}, {}, /debug/],
            ['an image the root does not whitelist', () => tdx.quote({ reportData: keyBinding(binding) }), {}, { allowed: false }, /measurement_not_allowed/],
            ['an image other than the statement names', () => tdx.quote({ reportData: keyBinding(binding), rtmr3: Buffer.alloc(48, 9) }), {}, {}, /the statement names/],
        ] as const)('%s', async (_name, make, infoOver, o, msg) => {
            const q = make();
            expect(await run(q, infoFor(q, infoOver), o)).toMatch(msg);
        });

        it('a quote other than the one the statement names (hash), or none', async () => {
            const q = tdx.quote({ reportData: keyBinding(binding) });
            expect(await run(q, infoFor(q, { quoteHash: sha(q) + 1n }))).toMatch(/not the quote the on-chain statement names/);
            expect(await run(null, infoFor(q))).toMatch(/serves no quote/);
        });

        it('a quote under a root other than the pinned one, or with no collateral', async () => {
            const other = await syntheticTdx(NOW);
            const q = other.quote({ reportData: keyBinding(binding) });
            expect(await run(q, infoFor(q))).toMatch(/does not check out: (untrusted_root|bad_certificate_chain|bad_signature):/);
            const q2 = tdx.quote({ reportData: keyBinding(binding) });
            const down = { collateral: { describe: 'pccs.example', get: async () => { throw new Error('503'); } } };
            expect(await run(q2, infoFor(q2), { opts: down })).toMatch(/no collateral to check it with \(pccs\.example\): 503/);
        });
    });
});

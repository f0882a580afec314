// The verifier service (startVerifierService, what `cocoon-verifier serve` runs) and the worker
// node's quorum client (HttpQuoteVerifier): quotes built under a test root whose REPORTDATA is the
// SDK's key binding, services with a fixed clock, and a 2-of-3 registration in the sandbox.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@ton/test-utils';
import { Address, Cell, toNano } from '@ton/core';
import {
    keyBinding, parseStatementCell, buildStatementCell, verifyHash, bigIntToPublicKey, publicKeyToBigInt, verifySignedAttestation,
    registerWorkerRequired, NO_QUOTE, TCB_STATUS, ERR_QUORUM_NOT_MET, type Statement, type Ed25519Key,
} from '../src/sdk';
import {
    startVerifierService, createVerifierLogger, parseTdxQuote, collateralToJson, type VerifierServiceHandle, type VerifierServiceDeps, type ServiceConfigInput,
} from '../src/verifier';
import { TdxAttestationProvider, HttpQuoteVerifier, DevAttestationProvider, TdxUnavailableError } from '../src/worker';
import { syntheticTdx, fakeTsm } from './helpers/syntheticTdx';
import { createNet, makeStatement, seededKey, type Net } from './helpers/network';
import { operatorOf, register, type Operator } from './helpers/rootWorker';

const NOW = 1_800_000_000;
const ROOT = '0:' + '11'.repeat(32);

type Tdx = Awaited<ReturnType<typeof syntheticTdx>>;

function statementFor(root: Address, operator: Address, tee: Ed25519Key, over: Partial<Statement> = {}): Statement {
    return {
        root, operator, issuedAt: NOW, expiresAt: NOW + 7 * 86400, teeKey: publicKeyToBigInt(tee.publicKey), measurement: 0n,
        tlsKeyHash: 0x1234n, ...NO_QUOTE, ...over,
    };
}

const hex = (v: bigint) => '0x' + v.toString(16).padStart(64, '0');

describe('verifier service', () => {
    let tdx: Tdx;
    let svc: VerifierServiceHandle;
    let image: string;
    const key = seededKey('verifier-service');
    const logLines: string[] = [];
    const logSink = new Writable({ write(chunk, _e, cb) { logLines.push(chunk.toString()); cb(); } });
    const operator = Address.parse('0:' + '22'.repeat(32));
    const tee = seededKey('tee-service');

    const config = (over: Partial<ServiceConfigInput> = {}): ServiceConfigInput => ({
        port: 0, root: ROOT, policy: { allowedMeasurements: [image] }, rateLimit: { burst: 1000, perSec: 1000 }, logLevel: 'info', ...over,
    });
    const start = (over: Partial<ServiceConfigInput> = {}, deps: Partial<VerifierServiceDeps> = {}) =>
        startVerifierService(config(over), {
            key, anchor: tdx.pki.anchor, clock: () => NOW * 1000, collateralSource: null, logger: createVerifierLogger('info', logSink), ...deps,
        });

    beforeAll(async () => {
        tdx = await syntheticTdx(NOW);
        image = parseTdxQuote(tdx.quote({ reportData: Buffer.alloc(64) })).measurement.toString('hex');
        svc = await start();
    });
    afterAll(() => svc.stop());

    const binding = (over: Partial<Statement> = {}) => {
        const s = statementFor(Address.parse(ROOT), operator, tee, over);
        return { root: s.root.toRawString(), operator: s.operator.toRawString(), teeKey: hex(s.teeKey), tlsKeyHash: hex(s.tlsKeyHash) };
    };
    const quoteB64 = (over: Partial<Statement> = {}) => tdx.quote({ reportData: keyBinding(statementFor(Address.parse(ROOT), operator, tee, over)) }).toString('base64');
    const post = async (path: string, body: unknown, url = svc.url) => {
        const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
        return { status: res.status, headers: res.headers, json: (await res.json()) as any };
    };
    const attestBody = (over: Record<string, unknown> = {}) => ({
        quote: quoteB64(), collateral: collateralToJson(tdx.collateral), statement: { ...binding(), issuedAt: NOW, expiresAt: NOW + 86400, ...over },
    });

    it('POST /v1/check: the facts of an accepted quote and the latest expiresAt it would sign', async () => {
        const r = await post('/v1/check', { quote: quoteB64(), collateral: collateralToJson(tdx.collateral), statement: binding() });
        expect(r.status).toBe(200);
        expect(r.json).toMatchObject({
            accepted: true, maxExpiresAt: NOW + 7 * 86400,
            facts: { measurement: '0x' + image, tcbStatus: TCB_STATUS.UpToDate, tcbStatusName: 'UpToDate', fmspc: '0x00906ed50000', maxExpiresAt: NOW + 7 * 86400 },
        });
        expect(r.json.checked).toContain('report_data');
        // without a statement REPORTDATA is not checked, and the answer says so
        const bare = await post('/v1/check', { quote: quoteB64(), collateral: collateralToJson(tdx.collateral) });
        expect(bare.json.skipped).toEqual(['report_data']);
    });

    it('POST /v1/attest: signs the statement with every field, the quote facts included', async () => {
        const body = attestBody();
        const r = await post('/v1/attest', body);
        expect(r.status).toBe(200);
        const cell = Cell.fromBoc(Buffer.from(r.json.statementBoc, 'base64'))[0];
        const st = parseStatementCell(cell);
        const quoteHash = BigInt('0x' + require('node:crypto').createHash('sha256').update(Buffer.from(body.quote, 'base64')).digest('hex'));
        expect({ ...st, root: st.root.toRawString(), operator: st.operator.toRawString() }).toEqual({
            root: ROOT, operator: operator.toRawString(), issuedAt: NOW, expiresAt: NOW + 86400, teeKey: publicKeyToBigInt(tee.publicKey), tlsKeyHash: 0x1234n,
            measurement: BigInt('0x' + image), quoteHash, tcbStatus: TCB_STATUS.UpToDate, fmspc: 0x00906ed50000n,
        });
        expect(r.json.verifierKey).toBe(hex(publicKeyToBigInt(key.publicKey)));
        expect(verifyHash(buildStatementCell(st).hash(), Buffer.from(r.json.signature, 'hex'), key.publicKey)).toBe(true);
        expect(r.json.facts.quoteHash).toBe(hex(quoteHash));
    });

    it('refuses with a clear 4xx reason', async () => {
        const cases: [string, unknown, number, string][] = [
            ['/v1/attest', attestBody({ root: '0:' + '33'.repeat(32) }), 422, 'wrong_root'],
            ['/v1/attest', attestBody({ issuedAt: NOW - 3600, expiresAt: NOW + 60 }), 422, 'issued_at_skew'],
            ['/v1/attest', attestBody({ expiresAt: NOW + 8 * 86400 }), 422, 'expires_too_late'],
            ['/v1/attest', { ...attestBody(), quote: quoteB64({ tlsKeyHash: 0x999n }) }, 422, 'report_data_mismatch'],
            ['/v1/attest', { ...attestBody(), quote: tdx.quote({ reportData: Buffer.alloc(64), rtmr3: Buffer.alloc(48, 9) }).toString('base64') }, 422, 'measurement_not_allowed'],
            ['/v1/attest', attestBody({ teeKey: 'abc' }), 400, 'bad_request'],
            ['/v1/attest', attestBody({ expiresAt: NOW - 1 }), 400, 'bad_request'],
            ['/v1/attest', { ...attestBody(), quote: 'AAAA' }, 422, 'bad_quote'],
            ['/v1/attest', { ...attestBody(), collateral: { tcb_info: 'x' } }, 422, 'bad_collateral'],
            ['/v1/attest', { ...attestBody(), extra: 1 }, 400, 'bad_request'],
            ['/v1/attest', '{not json', 400, 'bad_request'],
            ['/v1/check', { quote: quoteB64() }, 422, 'collateral_missing'],
        ];
        for (const [path, body, status, reason] of cases) {
            const r = await post(path, body);
            expect([reason, r.status, r.json.accepted, r.json.reason]).toEqual([reason, status, false, reason]);
            expect(typeof r.json.message).toBe('string');
        }
        const late = await post('/v1/attest', attestBody({ expiresAt: NOW + 8 * 86400 }));
        expect(late.json.maxExpiresAt).toBe(NOW + 7 * 86400);
        const bad = await post('/v1/attest', attestBody({ teeKey: 'abc' }));
        expect(bad.json.issues).toEqual([{ path: 'statement.teeKey', message: 'must be 0x followed by 1 to 64 hex digits' }]);
        expect((await fetch(svc.url + '/nope')).status).toBe(404);
        expect((await fetch(svc.url + '/v1/attest')).status).toBe(405);
    });

    it('limits the body size (413) and each peer\'s rate (429 with Retry-After)', async () => {
        const small = await start({ maxBodyBytes: 1024, rateLimit: { burst: 2, perSec: 0.5 } });
        try {
            const big = await post('/v1/check', { quote: 'A'.repeat(4096) }, small.url);
            expect([big.status, big.json.reason]).toEqual([413, 'body_too_large']);
            const second = await post('/v1/check', {}, small.url);
            expect([second.status, second.json.reason]).toEqual([400, 'bad_request']);
            const limited = await post('/v1/check', {}, small.url);
            expect([limited.status, limited.json.reason]).toEqual([429, 'rate_limited']);
            expect(limited.headers.get('retry-after')).toBe('2');
            const metrics = await (await fetch(small.url + '/metrics')).text();
            expect(metrics).toMatch(/cocoon_verifier_rate_limited_total 1/);
        } finally {
            await small.stop();
        }
    });

    it('serves /healthz, /v1/info and /metrics, and never logs the key', async () => {
        const h = await (await fetch(svc.url + '/healthz')).json();
        expect(h).toEqual({ ok: true, verifierKey: hex(publicKeyToBigInt(key.publicKey)) });
        const info = (await (await fetch(svc.url + '/v1/info')).json()) as any;
        expect(info).toMatchObject({ root: Address.parse(ROOT).toString(), rootKeyId: tdx.pki.anchor.keyId, whitelist: 'static list (1)', collateral: null });
        const m = await (await fetch(svc.url + '/metrics')).text();
        expect(m).toMatch(/cocoon_verifier_signatures_total [1-9]/);
        expect(m).toMatch(/cocoon_verifier_verdicts_total\{route="\/v1\/attest",result="refused",reason="report_data_mismatch"\} [1-9]/);
        expect(m).toMatch(/cocoon_verifier_verify_seconds_count [1-9]/);
        const logs = logLines.join('');
        expect(logs).toContain('"route":"/v1/attest"');
        const seed = require('node:crypto').createHash('sha256').update('cocoon-test:verifier-service').digest('hex');
        expect(logs).not.toContain(seed);
        expect(logs).not.toContain(Buffer.from(seed, 'hex').toString('base64'));
    });

    it('refuses to start without an image whitelist or a root', async () => {
        await expect(start({ policy: {} })).rejects.toThrow(/no image whitelist/);
        await expect(start({ root: 'nope' })).rejects.toThrow(/root: must be a TON address/);
    });

    it('finishes a request in flight when stopped, then refuses connections', async () => {
        // the request waits inside the service (for its collateral) while stop() begins
        let entered!: () => void;
        const inside = new Promise<void>((r) => (entered = r));
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const s = await start({}, { collateralSource: { describe: 'gated', get: async () => { entered(); await gate; return tdx.collateral; } } });
        const { collateral: _c, ...noCollateral } = attestBody();
        const inflight = post('/v1/attest', noCollateral, s.url);
        await inside;
        const stopped = s.stop();
        release();
        expect((await inflight).status).toBe(200);
        await stopped;
        await expect(fetch(s.url + '/healthz')).rejects.toThrow();
    });
});

describe('worker node attestation through a quorum of verifier services', () => {
    let tdx: Tdx;
    let dir: string;
    let net: Net;
    let verifiers: Ed25519Key[];
    let services: VerifierServiceHandle[];
    let op: Operator;
    let image: bigint;

    beforeAll(async () => {
        tdx = await syntheticTdx(NOW);
        image = BigInt('0x' + parseTdxQuote(tdx.quote({ reportData: Buffer.alloc(64) })).measurement.toString('hex'));
    });

    beforeEach(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-tsm-'));
        verifiers = [seededKey('q-verifier-1'), seededKey('q-verifier-2'), seededKey('q-verifier-3')];
        // the verifiers and the image are in the root's genesis (later additions are timelocked)
        net = await createNet({ moreVerifiers: verifiers, moreMeasurements: [[image, 'synthetic']] }); // chain.now = NOW
        await net.root.send(net.owner.getSender(), { value: toNano('0.05') }, { $$type: 'SetVerifierQuorum', queryId: 0n, quorum: 2n });
        // three independent services; the third grants shorter leases
        services = await Promise.all(verifiers.map((key, i) => startVerifierService(
            { port: 0, root: net.root.address.toString(), policy: { allowedMeasurements: [image.toString(16).padStart(64, '0')], maxAttestationTtlSec: i === 2 ? 3 * 86400 : 7 * 86400 }, logLevel: 'silent', collateral: { acceptFromRequest: false } },
            { key, anchor: tdx.pki.anchor, clock: () => NOW * 1000, collateralSource: { describe: 'test', get: async () => tdx.collateral } },
        )));
        op = await operatorOf(net, 'tdx-op');
    });
    afterEach(async () => {
        await Promise.all(services.map((s) => s.stop()));
        rmSync(dir, { recursive: true, force: true });
    });

    const provider = (urls: string[], quorum: number | (() => Promise<number>)) =>
        new TdxAttestationProvider(new HttpQuoteVerifier({ urls, quorum }), { tsmPath: dir, fs: fakeTsm(tdx) });
    const wanted = () => makeStatement(net, op.wallet.address, op.tee);

    it('2-of-3: one statement with the quote facts and the shortest lease, two signatures; the root admits it', async () => {
        const { signed, evidence } = await provider(services.map((s) => s.url), async () => Number(await net.root.getVerifierQuorum())).attest(wanted());
        expect(verifySignedAttestation(signed)).toBe(true);
        expect(signed.signatures.map((s) => s.verifierKey).sort()).toEqual(verifiers.slice(0, 2).map((k) => publicKeyToBigInt(k.publicKey)).sort());
        const st = signed.statement;
        expect(st.expiresAt).toBe(NOW + 3 * 86400); // the third verifier's lease bounds everyone's
        expect([st.measurement, st.tcbStatus, st.fmspc]).toEqual([image, TCB_STATUS.UpToDate, 0x00906ed50000n]);
        expect(st.quoteHash).toBe(BigInt('0x' + require('node:crypto').createHash('sha256').update(evidence!).digest('hex')));
        expect(parseTdxQuote(evidence!).report.reportData).toEqual(keyBinding(wanted()));
        const res = await register(net, op, signed.cell, toNano('100'), toNano('100') + registerWorkerRequired(2) + toNano('0.05'));
        expect(res.transactions).toHaveTransaction({ from: net.root.address, to: op.worker.address, deploy: true, success: true });
        const info = await op.worker.getInfo();
        expect([info.active, info.quoteHash, info.tcbStatus, info.fmspc, info.measurement]).toEqual([true, st.quoteHash, BigInt(TCB_STATUS.UpToDate), st.fmspc, image]);
    });

    it('1-of-3 is refused by the root at quorum 2', async () => {
        const { signed } = await provider([services[1].url], 1).attest(wanted());
        expect(signed.signatures).toHaveLength(1);
        const res = await register(net, op, signed.cell, toNano('100'), toNano('100') + registerWorkerRequired(1) + toNano('0.05'));
        expect(res.transactions).toHaveTransaction({ from: op.wallet.address, to: net.root.address, success: false, exitCode: Number(ERR_QUORUM_NOT_MET) });
    });

    it('a verifier that is down is replaced by the next; with too few left the error names each one', async () => {
        await services[0].stop();
        const { signed } = await provider(services.map((s) => s.url), 2).attest(wanted());
        expect(signed.signatures.map((s) => s.verifierKey).sort()).toEqual(verifiers.slice(1).map((k) => publicKeyToBigInt(k.publicKey)).sort());
        const err = await provider(services.map((s) => s.url), 3).attest(wanted()).then(() => null, (e) => e as Error);
        expect(err!.message).toMatch(/^attestation needs 3 verifier\(s\) to accept the quote, 2 did/);
        expect(err!.message).toContain(`the verifier at ${services[0].url} refused: unreachable`);
    });

    it('a quote no verifier accepts fails with their reasons (statement for another root)', async () => {
        const other = { ...wanted(), root: Address.parse('0:' + '44'.repeat(32)) };
        const err = await provider(services.map((s) => s.url), 2).attest(other).then(() => null, (e) => e as Error);
        expect(err!.message).toMatch(/needs 2 verifier\(s\) to accept the quote, 0 did/);
        expect(err!.message.match(/refused: wrong_root/g)).toHaveLength(3);
    });

    it('a quorum larger than the URLs given, or a URL given twice, is a configuration error', async () => {
        await expect(provider([services[0].url], 2).attest(wanted())).rejects.toThrow(/quorum is 2 verifiers but only 1 verifier URL/);
        expect(() => new HttpQuoteVerifier({ urls: [services[0].url, services[0].url], quorum: 1 })).toThrow(/listed twice/);
    });

    it('without TDX the node says why it cannot attest; the dev provider signs with no quote facts', async () => {
        const p = new TdxAttestationProvider(new HttpQuoteVerifier({ urls: [services[0].url], quorum: 1 }), { tsmPath: join(dir, 'absent') });
        await expect(p.attest(wanted())).rejects.toThrow(TdxUnavailableError);
        await expect(p.attest(wanted())).rejects.toThrow(/^TDX is not available on this machine: the configfs-tsm report directory does not exist/);
        const { signed } = await new DevAttestationProvider(net.verifier).attest({ ...wanted(), quoteHash: 5n, tcbStatus: 0, fmspc: 7n });
        expect([signed.statement.quoteHash, signed.statement.tcbStatus, signed.statement.fmspc]).toEqual([0n, 255, 0n]);
        expect(verifySignedAttestation(signed)).toBe(true);
    });
});

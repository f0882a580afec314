// The TDX quote verifier (src/verifier): real Intel-signed quotes and collateral at their pinned
// times (tests/vectors/tdx, see its NOTICE), and quotes built in the test under a test-only root
// (tests/helpers/syntheticTdx.ts) for what real quotes cannot show: our own key binding, revocation,
// lease bounds. The production root pin is never changed: the test root is passed as
// VerifyOptions.anchor, which no config or CLI flag reaches.
import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Address, toNano } from '@ton/core';
import { constants as dcapConstants } from '@phala/dcap-qvl';
import { keyBinding, SandboxChain } from '../src/sdk';
import {
    verifyQuote, readCollateralFile, parseCollateral, collateralToJson, parsePolicy, StaticWhitelist, combineWhitelists,
    INTEL_ROOT_KEY_ID, intelTrustAnchor, keyIdOf, trustAnchor, classifyDcapError, parseTdxQuote, measurementOf, Collateral, Verdict,
    OnChainWhitelist, REASONS, PccsCollateralSource, CollateralUnavailableError,
} from '../src/verifier';
import { syntheticTdx, makeCollateral, SEPT_VE_DISABLE_ONLY } from './helpers/syntheticTdx';
import { createNet, governed } from './helpers/network';

const V = join(__dirname, 'vectors', 'tdx');
const bytes = (p: string) => readFileSync(join(V, p));
const collateral = (p: string) => readCollateralFile(join(V, p));

const P1 = { quote: 'phala-dcap-qvl/tdx_quote', collateral: 'phala-dcap-qvl/tdx_quote_collateral.json', at: 1751328000 };
const P3 = { quote: 'cocoon/quote.dat', collateral: 'phala-dcap-qvl/tdx_quote_outdated_collateral.json', at: 1772323200 };
const G1 = { quote: 'zkdcap/quote_tdx_00806f050000.dat', collateral: 'zkdcap/collateral.json', at: 1738368000 };
const N5 = { quote: 'phala-dcap-qvl/tdx_quote_outdated', collateral: 'phala-dcap-qvl/tdx_quote_outdated_collateral.json', at: 1772323200 };
const N1 = 'trustee/tdx_quote_4.dat';
const COCOON_IMAGE = '04b3afd931d28680af91a15b09d672c40ad6b141f7f9089a8d67d595220f7436';

const run = (v: { quote: string; collateral: string; at: number }, opts: Partial<Parameters<typeof verifyQuote>[2]> = {}) =>
    verifyQuote(bytes(v.quote), collateral(v.collateral), { now: v.at, ...opts });

function expectRefused(v: Verdict, reason: string) {
    expect({ accepted: v.accepted, reason: v.reason }).toEqual({ accepted: false, reason });
    expect(v.maxExpiresAt).toBeNull();
}

describe('Intel root pin', () => {
    it("dcap-qvl's embedded root is Intel's, by the pinned key id", () => {
        const anchor = intelTrustAnchor();
        expect(anchor.keyId).toBe(INTEL_ROOT_KEY_ID);
        expect(anchor.der.equals(Buffer.from(dcapConstants.TRUSTED_ROOT_CA_DER))).toBe(true);
        expect(keyIdOf(new X509Certificate(anchor.der))).toBe('46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5dcf58eef31463613de1570d516200993');
    });

    it('a root certificate with another key is refused as an anchor for the Intel pin', async () => {
        const { pki } = await syntheticTdx(1_800_000_000);
        expect(() => trustAnchor(pki.anchor.der, INTEL_ROOT_KEY_ID, 'fake')).toThrow(/has key id [0-9a-f]{96}, not the pinned 46e403bd/);
    });
});

describe('real Intel TDX quotes at their pinned times', () => {
    it('P1 (v4) is accepted: UpToDate, no advisories, FMSPC from its PCK certificate, a lease', async () => {
        const v = await run(P1);
        expect(v).toMatchObject({ accepted: true, reason: null, status: 'UpToDate', advisories: [], debug: false, version: 4, fmspc: 'b0c06f000000' });
        expect(v.quoteHash).toMatch(/^c42f9164/);
        expect(v.checked).toEqual(['quote_format', 'intel_chain', 'collateral_window', 'debug', 'td_attributes', 'tcb_status']);
        expect(v.skipped).toEqual(['measurement', 'report_data']);
        // lease: no later than now + maxAttestationTtlSec (default 7 days) ...
        expect(v.maxExpiresAt).toBe(P1.at + 7 * 86400);
        expect(v.leaseBoundBy).toBe('maxAttestationTtlSec');
        // ... nor the collateral's earliest nextUpdate: here the PCK CRL's, 2025-07-19T10:00:35Z
        const long = await run(P1, { policy: parsePolicy({ maxAttestationTtlSec: 30 * 86400 }) });
        expect(long.maxExpiresAt).toBe(Date.parse('2025-07-19T10:00:35Z') / 1000);
        expect(long.leaseBoundBy).toBe('PCK CRL');
    });

    it("Cocoon's own quote (P3) is accepted with Cocoon's image hash on the whitelist", async () => {
        const v = await run(P3, { whitelist: new StaticWhitelist([COCOON_IMAGE]) });
        expect(v).toMatchObject({ accepted: true, status: 'UpToDate', measurement: COCOON_IMAGE, fmspc: '90c06f000000' });
        expect(v.checked).toContain('measurement');
        expect(v.maxExpiresAt).toBe(P3.at + 7 * 86400);
        expect(v.leaseBoundBy).toBe('maxAttestationTtlSec');
    });

    it('the image hash is sha256(MRTD‖MRCONFIGID‖MROWNER‖MROWNERCONFIG‖RTMR0..3‖64 zero bytes)', () => {
        const q = parseTdxQuote(bytes(P3.quote));
        const r = q.report;
        const manual = require('node:crypto').createHash('sha256')
            .update(Buffer.concat([r.mrTd, r.mrConfigId, r.mrOwner, r.mrOwnerConfig, r.rtmr[0], r.rtmr[1], r.rtmr[2], r.rtmr[3], Buffer.alloc(64)])).digest('hex');
        expect(manual).toBe(COCOON_IMAGE);
        expect(measurementOf(r).toString('hex')).toBe(COCOON_IMAGE);
    });

    it('G1 (OutOfDate, three advisories) is refused by default and accepted when OutOfDate is configured', async () => {
        const refused = await run(G1);
        expectRefused(refused, 'tcb_status');
        expect(refused.status).toBe('OutOfDate');
        expect(refused.advisories).toEqual(['INTEL-SA-00960', 'INTEL-SA-00982', 'INTEL-SA-00986']);
        expect(refused.message).toMatch(/OutOfDate .* is not accepted; accepted: UpToDate/);
        const accepted = await run(G1, { policy: parsePolicy({ acceptedTcbStatuses: ['UpToDate', 'OutOfDate'] }) });
        expect(accepted).toMatchObject({ accepted: true, status: 'OutOfDate', fmspc: '00806f050000' });
    });

    it('collateral past its window is refused: P1x and G1x', async () => {
        for (const v of [await run({ ...P1, at: 1753000000 }), await run({ ...G1, at: 1740200000 })]) {
            expectRefused(v, 'collateral_expired');
            expect(v.message).toMatch(/^TCB info expired: its nextUpdate .* is before the check time/);
        }
        // a day before the TCB info was issued
        expectRefused(await run({ ...P1, at: Date.parse('2025-06-18T10:16:03Z') / 1000 }), 'collateral_not_yet_valid');
    });

    it('N5 (v5, the platform below every TCB level) is refused: tcb_status', async () => {
        const v = await run(N5);
        expectRefused(v, 'tcb_status');
        expect(v.version).toBe(5);
        expect(v.message).toContain('No matching TCB level found');
    });

    it('a flipped byte is refused: in the TD report (NT) bad_signature, in the padding bad_quote', async () => {
        const good = bytes(P1.quote);
        for (const at of [48 + 100, 600]) {
            const q = Buffer.from(good);
            q[at] ^= 1;
            const v = await verifyQuote(q, collateral(P1.collateral), { now: P1.at });
            expectRefused(v, 'bad_signature');
            expect(v.message).toBe('dcap-qvl: ISV enclave report signature is invalid');
        }
        const padded = Buffer.from(good);
        padded[good.length - 1] = 1;
        expectRefused(await verifyQuote(padded, collateral(P1.collateral), { now: P1.at }), 'bad_quote');
        expectRefused(await verifyQuote(good.subarray(0, 1000), collateral(P1.collateral), { now: P1.at }), 'bad_quote');
    });

    it('the debug quote N1 is refused by policy on its parsed TD report; the chain is said to be skipped (no collateral)', async () => {
        const v = await verifyQuote(bytes(N1), null, { now: P1.at });
        expectRefused(v, 'debug');
        expect(v.debug).toBe(true);
        expect(v.message).toMatch(/td_attributes 0100001000000000 has the DEBUG bit/);
        expect(v.skipped).toEqual(['intel_chain', 'collateral_window', 'tcb_status', 'measurement', 'report_data']);
        expect(v.checked).toEqual(['quote_format']);
    });

    it('without collateral a genuine quote is never accepted (collateral_missing), and the output says what was skipped', async () => {
        const v = await verifyQuote(bytes(P3.quote), null, { now: P3.at, whitelist: new StaticWhitelist([COCOON_IMAGE]) });
        expectRefused(v, 'collateral_missing');
        expect(v.checked).toEqual(['quote_format', 'debug', 'td_attributes', 'measurement']);
        expect(v.skipped).toEqual(['intel_chain', 'collateral_window', 'tcb_status', 'report_data']);
    });

    it('an image hash not on the whitelist is refused', async () => {
        const v = await run(P1, { whitelist: new StaticWhitelist([COCOON_IMAGE]) });
        expectRefused(v, 'measurement_not_allowed');
        expect(v.message).toContain('static list (1)');
    });

    it('a REPORTDATA that is not the expected binding is refused', async () => {
        const v = await run(P3, { expectedReportData: Buffer.alloc(64, 1) });
        expectRefused(v, 'report_data_mismatch');
        // and the real one passes
        const real = parseTdxQuote(bytes(P3.quote)).report.reportData;
        expect((await run(P3, { expectedReportData: real })).accepted).toBe(true);
    });

    it('a collateral CRL with a broken signature is refused, and so is malformed collateral', async () => {
        const c = collateralToJson(collateral(P1.collateral)) as any;
        const crl = Buffer.from(c.root_ca_crl, 'hex');
        crl[crl.length - 5] ^= 1; // inside the signature
        expectRefused(await verifyQuote(bytes(P1.quote), parseCollateral({ ...c, root_ca_crl: crl.toString('hex') }), { now: P1.at }), 'bad_signature');
        expect(() => parseCollateral({ ...c, tcb_info_signature: 'xyz' })).toThrow(/tcb_info_signature: must be hex/);
        const { tcb_info: _drop, ...missing } = c;
        expect(() => parseCollateral(missing)).toThrow(/tcb_info: Required/);
    });
});

describe('a substituted root fails even when the collateral (a PCCS) lies', () => {
    it("G1 with TCB info re-signed as UpToDate under another root is refused: untrusted_root", async () => {
        const { pki } = await syntheticTdx(G1.at);
        const fake = await makeCollateral(pki, { issueDate: new Date((G1.at - 86400) * 1000), nextUpdate: new Date((G1.at + 86400) * 1000) });
        const real = collateral(G1.collateral);
        // the liar keeps Intel's CRLs and PCK side, swaps the signed TCB info for its own
        const lying: Collateral = { ...real, tcb_info: fake.tcb_info, tcb_info_signature: fake.tcb_info_signature, tcb_info_issuer_chain: fake.tcb_info_issuer_chain };
        const v = await verifyQuote(bytes(G1.quote), lying, { now: G1.at });
        expectRefused(v, 'untrusted_root');
        expect(v.message).toMatch(/^TCB info issuer chain ends at "CN=Intel SGX Root CA, .*" \(key id [0-9a-f]{16}…\), not at the pinned Intel SGX Root CA \(key id 46e403bd34f05a3f…\)/);
    });

    it("a PCK chain supplied by the collateral is ignored when the quote carries its own", async () => {
        const { pki } = await syntheticTdx(P1.at);
        const chain = pki.pckCert.toString('pem') + '\n' + pki.pckCaCert.toString('pem') + '\n' + pki.rootCert.toString('pem');
        const v = await verifyQuote(bytes(P1.quote), { ...collateral(P1.collateral), pck_certificate_chain: chain }, { now: P1.at });
        expect(v).toMatchObject({ accepted: true, fmspc: 'b0c06f000000' });
    });

    it('a PCK chain under another root in a quote is refused: untrusted_root', async () => {
        const now = 1_800_000_000;
        const t = await syntheticTdx(now);
        const v = await verifyQuote(t.quote({ reportData: Buffer.alloc(64) }), t.collateral, { now });
        expectRefused(v, 'untrusted_root');
        expect(v.message).toMatch(/^PCK certificate chain ends at "CN=Intel SGX Root CA, .*" \(key id [0-9a-f]{16}…\), not at the pinned Intel SGX Root CA/);
    });

    it('a whole DCAP world under another root (quote, chain, collateral) is refused by the production verifier', async () => {
        const now = 1_800_000_000;
        const t = await syntheticTdx(now);
        const q = t.quote({ reportData: Buffer.alloc(64) });
        expect((await verifyQuote(q, t.collateral, { now, anchor: t.pki.anchor })).accepted).toBe(true);
        expectRefused(await verifyQuote(q, t.collateral, { now }), 'untrusted_root');
    });
});

describe('quotes built in the test (test root, REPORTDATA = our key binding)', () => {
    const now = 1_800_000_000;
    let t: Awaited<ReturnType<typeof syntheticTdx>>;
    const binding = {
        root: Address.parse('0:' + '11'.repeat(32)), operator: Address.parse('0:' + '22'.repeat(32)), teeKey: 0xabcn, tlsKeyHash: 0xdefn,
    };
    beforeAll(async () => {
        t = await syntheticTdx(now);
    });
    const verify = (q: Buffer, opts: Partial<Parameters<typeof verifyQuote>[2]> = {}, c: Collateral = t.collateral) =>
        verifyQuote(q, c, { now, anchor: t.pki.anchor, expectedReportData: keyBinding(binding), ...opts });

    it('v4 and v5 quotes whose REPORTDATA is the binding are accepted, with every check done', async () => {
        for (const version of [4, 5] as const) {
            const v = await verify(t.quote({ reportData: keyBinding(binding), version }), { whitelist: new StaticWhitelist([]) });
            expectRefused(v, 'measurement_not_allowed'); // an empty whitelist admits nothing
            const q = t.quote({ reportData: keyBinding(binding), version });
            const ok = await verify(q, { whitelist: new StaticWhitelist([parseTdxQuote(q).measurement.toString('hex')]) });
            expect(ok).toMatchObject({ accepted: true, version, status: 'UpToDate', fmspc: t.pki.fmspc.toString('hex') });
            expect(ok.checked).toEqual(['quote_format', 'intel_chain', 'collateral_window', 'debug', 'td_attributes', 'tcb_status', 'measurement', 'report_data']);
            expect(ok.skipped).toEqual([]);
        }
    });

    it('a quote bound to another operator, TEE key or TLS key is refused: report_data_mismatch', async () => {
        for (const other of [{ operator: Address.parse('0:' + '33'.repeat(32)) }, { teeKey: 0xabdn }, { tlsKeyHash: 0xdeen }, { root: Address.parse('-1:' + '11'.repeat(32)) }]) {
            expectRefused(await verify(t.quote({ reportData: keyBinding({ ...binding, ...other }) })), 'report_data_mismatch');
        }
    });

    it('a debug TD is refused even with a full, valid chain; so are TD attributes without SEPT_VE_DISABLE', async () => {
        const debugAttrs = Buffer.from(SEPT_VE_DISABLE_ONLY);
        debugAttrs[0] = 1;
        const d = await verify(t.quote({ reportData: keyBinding(binding), tdAttributes: debugAttrs }));
        expectRefused(d, 'debug');
        expect(d.debug).toBe(true);
        expectRefused(await verify(t.quote({ reportData: keyBinding(binding), tdAttributes: Buffer.alloc(8) })), 'td_attributes');
    });

    it('a revoked PCK certificate is refused', async () => {
        const c = await makeCollateral(t.pki, { issueDate: new Date((now - 3600) * 1000), nextUpdate: new Date((now + 86400) * 1000), revokedPck: [t.pki.pckCert.serialNumber] });
        expectRefused(await verify(t.quote({ reportData: keyBinding(binding) }), {}, c), 'certificate_revoked');
    });

    it('TCB statuses: SWHardeningNeeded refused by default, accepted when configured, with its advisories', async () => {
        const c = await makeCollateral(t.pki, {
            issueDate: new Date((now - 3600) * 1000), nextUpdate: new Date((now + 86400) * 1000), tcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'],
        });
        const q = t.quote({ reportData: keyBinding(binding) });
        const r = await verify(q, {}, c);
        expectRefused(r, 'tcb_status');
        expect(r.advisories).toEqual(['INTEL-SA-00615']);
        const ok = await verify(q, { policy: parsePolicy({ acceptedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'] }) }, c);
        expect(ok).toMatchObject({ accepted: true, status: 'SWHardeningNeeded', advisories: ['INTEL-SA-00615'] });
        const revoked = await makeCollateral(t.pki, { issueDate: new Date((now - 3600) * 1000), nextUpdate: new Date((now + 86400) * 1000), tcbStatus: 'Revoked' });
        const rv = await verify(q, { policy: parsePolicy({ acceptedTcbStatuses: ['UpToDate', 'OutOfDate'] }) }, revoked);
        expectRefused(rv, 'tcb_status');
        expect(rv.status).toBe('Revoked');
        expect(() => parsePolicy({ acceptedTcbStatuses: ['Revoked'] })).toThrow(/acceptedTcbStatuses/);
    });

    it('the lease ends at the earliest of the collateral nextUpdate and now + maxAttestationTtlSec', async () => {
        const q = t.quote({ reportData: keyBinding(binding) });
        const soon = await makeCollateral(t.pki, { issueDate: new Date((now - 3600) * 1000), nextUpdate: new Date((now + 2 * 86400) * 1000) });
        expect(await verify(q, {}, soon)).toMatchObject({ accepted: true, maxExpiresAt: now + 2 * 86400, leaseBoundBy: 'TCB info' });
        expect(await verify(q, { policy: parsePolicy({ maxAttestationTtlSec: 3600 }) }, soon)).toMatchObject({ maxExpiresAt: now + 3600, leaseBoundBy: 'maxAttestationTtlSec' });
        expect(() => parsePolicy({ maxAttestationTtlSec: 91 * 86400 })).toThrow(/maxAttestationTtlSec/);
    });

    it("the root's on-chain whitelist decides the image (getter isMeasurementAllowed), together with a static list", async () => {
        const net = await createNet();
        const chain = new SandboxChain(net.chain);
        const q = t.quote({ reportData: keyBinding(binding) });
        const image = parseTdxQuote(q).measurement;
        const onChain = new OnChainWhitelist(chain, net.root.address, 0);
        expectRefused(await verify(q, { whitelist: onChain }), 'measurement_not_allowed');
        await governed(net, { kind: 'addMeasurement', measurement: BigInt('0x' + image.toString('hex')), model: 'synthetic' });
        expect((await verify(q, { whitelist: onChain })).accepted).toBe(true);
        // both sources: the image must be on both
        const both = combineWhitelists([new StaticWhitelist([COCOON_IMAGE]), onChain])!;
        expect(both.source).toBe(`static list (1) and root ${net.root.address.toString()}`);
        expectRefused(await verify(q, { whitelist: both }), 'measurement_not_allowed');
        // an unreachable chain is not a refusal of the image: whitelist_unavailable
        const broken = new OnChainWhitelist({ ...chain, open: () => { throw new Error('no route to the endpoint'); } } as any, net.root.address, 0);
        const u = await verify(q, { whitelist: broken });
        expectRefused(u, 'whitelist_unavailable');
        expect(u.message).toContain('no route to the endpoint');
    });
});

describe('collateral from a PCCS (a local one serving the real P1 collateral)', () => {
    let server: Server;
    let base: string;
    const hits: string[] = [];
    let lie = false;
    beforeAll(async () => {
        const c = readFileSync(join(V, P1.collateral), 'utf8');
        const col = JSON.parse(c);
        server = createServer((req, res) => {
            hits.push(req.url!);
            const url = new URL(req.url!, 'http://x');
            const send = (body: string | Buffer, headers: Record<string, string> = {}) => {
                res.writeHead(200, headers);
                res.end(body);
            };
            if (url.pathname === '/sgx/certification/v4/pckcrl' && url.searchParams.get('ca') === 'platform') {
                return send(Buffer.from(col.pck_crl, 'hex'), { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(col.pck_crl_issuer_chain) });
            }
            if (url.pathname === '/tdx/certification/v4/tcb' && url.searchParams.get('fmspc') === 'B0C06F000000') {
                // a lying PCCS turns the TCB level into something else: the signature no longer matches
                const tcb = lie ? col.tcb_info.replace('"UpToDate"', '"OutOfDate"') : col.tcb_info;
                return send(`{"tcbInfo":${tcb},"signature":"${col.tcb_info_signature}"}`, { 'TCB-Info-Issuer-Chain': encodeURIComponent(col.tcb_info_issuer_chain) });
            }
            if (url.pathname === '/tdx/certification/v4/qe/identity') {
                return send(`{"enclaveIdentity":${col.qe_identity},"signature":"${col.qe_identity_signature}"}`, { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(col.qe_identity_issuer_chain) });
            }
            if (url.pathname === '/sgx/certification/v4/rootcacrl') return send(col.root_ca_crl);
            res.writeHead(404);
            res.end();
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('fetches, verifies and caches per platform family; a PCCS that lies gets nothing accepted', async () => {
        const quote = bytes(P1.quote);
        const src = new PccsCollateralSource(base, { clock: () => P1.at * 1000 });
        const c = await src.get(parseTdxQuote(quote));
        expect(hits.length).toBe(4);
        expect((await verifyQuote(quote, c, { now: P1.at })).accepted).toBe(true);
        await src.get(parseTdxQuote(quote));
        expect(hits.length).toBe(4); // cached
        lie = true;
        const lied = await new PccsCollateralSource(base).get(parseTdxQuote(quote));
        expectRefused(await verifyQuote(quote, lied, { now: P1.at }), 'bad_signature');
    });

    it('an unreachable PCCS is collateral_unavailable, not a verdict on the quote', async () => {
        const src = new PccsCollateralSource('http://127.0.0.1:9', { timeoutMs: 2000 });
        await expect(src.get(parseTdxQuote(bytes(P1.quote)))).rejects.toThrow(CollateralUnavailableError);
    });
});

describe('dcap-qvl errors map to reasons', () => {
    it('known messages have their reason, anything else is verification_failed (refused, never accepted)', () => {
        const table: [string, string][] = [
            ['TCBInfo expired', 'collateral_expired'], ['QE Identity expired', 'collateral_expired'],
            ['TCBInfo issue date is in the future', 'collateral_not_yet_valid'], ['Certificate is expired or not yet valid', 'certificate_expired'],
            ['Certificate is revoked', 'certificate_revoked'], ['ISV enclave report signature is invalid', 'bad_signature'],
            ['Signature is invalid for tcb_info', 'bad_signature'], ['QE report hash mismatch', 'bad_signature'],
            ['QE MRSIGNER mismatch: expected A, got B', 'qe_identity_mismatch'], ['QE ISVSVN 3 is below minimum required 4 from QE Identity', 'qe_identity_mismatch'],
            ['No matching TCB level found', 'tcb_status'], ['TCB status is invalid: Revoked', 'tcb_status'], ['Debug mode is enabled', 'debug'],
            ['SEPT_VE_DISABLE is not enabled', 'td_attributes'], ['Fmspc mismatch', 'bad_collateral'], ['Failed to decode quote', 'bad_quote'],
            ['Failed to verify certificate chain - leaf signature invalid', 'bad_certificate_chain'], ['CaUsedAsEndEntity', 'bad_certificate_chain'],
            ['something new in a later release', 'verification_failed'],
        ];
        for (const [msg, reason] of table) expect([msg, classifyDcapError(msg)]).toEqual([msg, reason]);
        for (const [, reason] of table) expect(REASONS).toContain(reason);
    });
});

describe('verification time', () => {
    it('a real quote verifies in well under 100 ms on average', async () => {
        const q = bytes(P3.quote);
        const c = collateral(P3.collateral);
        await verifyQuote(q, c, { now: P3.at });
        const n = 10;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) expect((await verifyQuote(q, c, { now: P3.at })).accepted).toBe(true);
        const ms = (performance.now() - t0) / n;
        expect(ms).toBeLessThan(100);
    });
});

// TEST ONLY: a complete DCAP world made in the test, so quotes whose REPORTDATA the test chooses go
// through the same verifier code as Intel's: a root CA (a test key, pinned only by the tests'
// VerifyOptions.anchor), a PCK Platform CA, a PCK certificate with Intel's SGX extension (FMSPC,
// CPUSVN, PCESVN), a TCB signing certificate, CRLs, signed TCB info and QE identity, a quoting
// enclave report signed by the PCK key and a TDX quote (v4 or v5) signed by the attestation key.
// Byte layouts: Intel TDX DCAP Quote Generation Library / Quote Verification Library specs.
import 'reflect-metadata';
import { createHash, generateKeyPairSync, KeyObject, sign as nodeSign, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { TsmFs } from '../../src/worker/attestation';
import { Collateral, parseCollateral } from '../../src/verifier/collateral';
import { trustAnchor, keyIdOf, TrustAnchor } from '../../src/verifier/trust';

x509.cryptoProvider.set(webcrypto as any);
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const subtle = webcrypto.subtle;

// ------------------------------------------------------------ a little DER, enough for the SGX extension

function derLen(n: number): Buffer {
    if (n < 0x80) return Buffer.from([n]);
    const b: number[] = [];
    for (let v = n; v > 0; v >>= 8) b.unshift(v & 0xff);
    return Buffer.from([0x80 | b.length, ...b]);
}
const tlv = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), derLen(body.length), body]);
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
function integer(n: number): Buffer {
    const b: number[] = [];
    for (let v = n; v > 0; v >>= 8) b.unshift(v & 0xff);
    if (b.length === 0 || b[0] & 0x80) b.unshift(0);
    return tlv(0x02, Buffer.from(b));
}
const enumerated = (n: number) => tlv(0x0a, Buffer.from([n]));
function oid(s: string): Buffer {
    const parts = s.split('.').map(Number);
    const out = [40 * parts[0] + parts[1]];
    for (const p of parts.slice(2)) {
        const b: number[] = [p & 0x7f];
        for (let v = p >> 7; v > 0; v >>= 7) b.unshift((v & 0x7f) | 0x80);
        out.push(...b);
    }
    return tlv(0x06, Buffer.from(out));
}

const SGX = '1.2.840.113741.1.13.1';

/** Intel's SGX extension of a PCK certificate (the fields dcap-qvl reads). */
function sgxExtension(o: { fmspc: Buffer; cpuSvn: Buffer; pceSvn: number }): Buffer {
    const comps = [...o.cpuSvn].map((svn, i) => seq(oid(`${SGX}.2.${i + 1}`), integer(svn)));
    return seq(
        seq(oid(`${SGX}.1`), octets(Buffer.alloc(16, 0x11))), // PPID
        seq(oid(`${SGX}.2`), seq(...comps, seq(oid(`${SGX}.2.17`), integer(o.pceSvn)), seq(oid(`${SGX}.2.18`), octets(o.cpuSvn)))),
        seq(oid(`${SGX}.3`), octets(Buffer.from([0, 0]))), // PCEID
        seq(oid(`${SGX}.4`), octets(o.fmspc)),
        seq(oid(`${SGX}.5`), enumerated(0)), // SGX type: standard
    );
}

// ------------------------------------------------------------ keys and certificates

async function keyPair(): Promise<CryptoKeyPair> {
    return (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

const ieee = (data: Buffer, key: CryptoKey) => nodeSign('sha256', data, { key: KeyObject.from(key), dsaEncoding: 'ieee-p1363' });

const pemOf = (c: x509.X509Certificate) => c.toString('pem');
const INTEL = 'O=Intel Corporation, L=Santa Clara, ST=CA, C=US';
const caExtensions = () => [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];
const leafExtensions = () => [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
];

export interface TestPki {
    /** The trust anchor a test verifier pins (never the production default). */
    anchor: TrustAnchor;
    rootKeys: CryptoKeyPair;
    rootCert: x509.X509Certificate;
    pckCaKeys: CryptoKeyPair;
    pckCaCert: x509.X509Certificate;
    pckKeys: CryptoKeyPair;
    pckCert: x509.X509Certificate;
    tcbKeys: CryptoKeyPair;
    tcbCert: x509.X509Certificate;
    fmspc: Buffer;
    cpuSvn: Buffer;
    pceSvn: number;
    notBefore: Date;
    notAfter: Date;
}

/**
 * Builds the PKI. By default its names copy Intel's (a substituted root looks like Intel's to a
 * reader: only the pinned key tells them apart). Validity: `notBefore`..`notAfter`.
 */
export async function makeTestPki(o: { notBefore: Date; notAfter: Date; fmspc?: Buffer }): Promise<TestPki> {
    const fmspc = o.fmspc ?? Buffer.from('00906ed50000', 'hex');
    const cpuSvn = Buffer.from([5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
    const pceSvn = 13;
    const base = { notBefore: o.notBefore, notAfter: o.notAfter, signingAlgorithm: ALG };
    const rootKeys = await keyPair();
    const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
        ...base, serialNumber: '01', name: `CN=Intel SGX Root CA, ${INTEL}`, keys: rootKeys, extensions: caExtensions(),
    });
    const pckCaKeys = await keyPair();
    const pckCaCert = await x509.X509CertificateGenerator.create({
        ...base, serialNumber: '02', subject: `CN=Intel SGX PCK Platform CA, ${INTEL}`, issuer: rootCert.subject,
        publicKey: pckCaKeys.publicKey, signingKey: rootKeys.privateKey, extensions: caExtensions(),
    });
    const pckKeys = await keyPair();
    const pckCert = await x509.X509CertificateGenerator.create({
        ...base, serialNumber: '03', subject: `CN=Intel SGX PCK Certificate, ${INTEL}`, issuer: pckCaCert.subject,
        publicKey: pckKeys.publicKey, signingKey: pckCaKeys.privateKey,
        extensions: [...leafExtensions(), new x509.Extension(SGX, false, sgxExtension({ fmspc, cpuSvn, pceSvn }))],
    });
    const tcbKeys = await keyPair();
    const tcbCert = await x509.X509CertificateGenerator.create({
        ...base, serialNumber: '04', subject: `CN=Intel SGX TCB Signing, ${INTEL}`, issuer: rootCert.subject,
        publicKey: tcbKeys.publicKey, signingKey: rootKeys.privateKey, extensions: leafExtensions(),
    });
    const rootDer = Buffer.from(rootCert.rawData);
    const anchor = trustAnchor(rootDer, keyIdOf(new NodeX509(rootDer)), 'test root CA');
    return { anchor, rootKeys, rootCert, pckCaKeys, pckCaCert, pckKeys, pckCert, tcbKeys, tcbCert, fmspc, cpuSvn, pceSvn, notBefore: o.notBefore, notAfter: o.notAfter };
}

// ------------------------------------------------------------ collateral

const QE_MRSIGNER = 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5';
const QE_ISVPRODID = 2;
const QE_ISVSVN = 4;
const TEE_TCB_SVN = Buffer.from([5, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

export interface CollateralOptions {
    /** Window of TCB info, QE identity and CRLs. */
    issueDate: Date;
    nextUpdate: Date;
    tcbStatus?: string;
    advisoryIds?: string[];
    /** Serial numbers (hex) the PCK CRL revokes. */
    revokedPck?: string[];
}

function tcbInfoJson(pki: TestPki, o: CollateralOptions): string {
    const comps = (b: Buffer) => [...b].map((svn) => ({ svn }));
    return JSON.stringify({
        id: 'TDX', version: 3, issueDate: o.issueDate.toISOString(), nextUpdate: o.nextUpdate.toISOString(),
        fmspc: pki.fmspc.toString('hex').toUpperCase(), pceId: '0000', tcbType: 0, tcbEvaluationDataNumber: 17,
        tcbLevels: [{
            tcb: { sgxtcbcomponents: comps(pki.cpuSvn), pcesvn: pki.pceSvn, tdxtcbcomponents: comps(TEE_TCB_SVN) },
            tcbDate: '2024-03-13T00:00:00Z', tcbStatus: o.tcbStatus ?? 'UpToDate', ...(o.advisoryIds ? { advisoryIDs: o.advisoryIds } : {}),
        }],
    });
}

function qeIdentityJson(o: CollateralOptions): string {
    return JSON.stringify({
        id: 'TD_QE', version: 2, issueDate: o.issueDate.toISOString(), nextUpdate: o.nextUpdate.toISOString(), tcbEvaluationDataNumber: 17,
        miscselect: '00000000', miscselectMask: 'FFFFFFFF', attributes: '11000000000000000000000000000000',
        attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000', mrsigner: QE_MRSIGNER.toUpperCase(), isvprodid: QE_ISVPRODID,
        tcbLevels: [{ tcb: { isvsvn: QE_ISVSVN }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
    });
}

export async function makeCollateral(pki: TestPki, o: CollateralOptions): Promise<Collateral> {
    const tcbInfo = tcbInfoJson(pki, o);
    const qeIdentity = qeIdentityJson(o);
    const crl = async (issuer: x509.X509Certificate, key: CryptoKey, revoked: string[] = []) =>
        Buffer.from((await x509.X509CrlGenerator.create({
            issuer: issuer.subject, thisUpdate: o.issueDate, nextUpdate: o.nextUpdate, signingAlgorithm: ALG, signingKey: key,
            entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: o.issueDate })),
        })).rawData).toString('hex');
    return parseCollateral({
        pck_crl_issuer_chain: pemOf(pki.pckCaCert) + '\n' + pemOf(pki.rootCert),
        root_ca_crl: await crl(pki.rootCert, pki.rootKeys.privateKey),
        pck_crl: await crl(pki.pckCaCert, pki.pckCaKeys.privateKey, o.revokedPck),
        tcb_info_issuer_chain: pemOf(pki.tcbCert) + '\n' + pemOf(pki.rootCert),
        tcb_info: tcbInfo,
        tcb_info_signature: ieee(Buffer.from(tcbInfo), pki.tcbKeys.privateKey).toString('hex'),
        qe_identity_issuer_chain: pemOf(pki.tcbCert) + '\n' + pemOf(pki.rootCert),
        qe_identity: qeIdentity,
        qe_identity_signature: ieee(Buffer.from(qeIdentity), pki.tcbKeys.privateKey).toString('hex'),
    });
}

// ------------------------------------------------------------ the quote

export interface QuoteOptions {
    reportData: Buffer;
    version?: 4 | 5;
    /** Default 0x0000001000000000: SEPT_VE_DISABLE, not debug. */
    tdAttributes?: Buffer;
    /** MRTD etc. default to fixed patterns; RTMR3 can be varied to get another measurement. */
    rtmr3?: Buffer;
}

export const SEPT_VE_DISABLE_ONLY = Buffer.from('0000001000000000', 'hex');

function u16(n: number) {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
}
function u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
}

/** A 584-byte TD report 1.0. */
export function tdReport(o: QuoteOptions): Buffer {
    const fill = (n: number, v: number) => Buffer.alloc(n, v);
    const r = Buffer.concat([
        TEE_TCB_SVN, fill(48, 0xa1) /* MRSEAM */, fill(48, 0) /* MRSIGNERSEAM */, fill(8, 0) /* SEAMATTRIBUTES */,
        o.tdAttributes ?? SEPT_VE_DISABLE_ONLY, Buffer.from('e702060000000000', 'hex') /* XFAM */,
        fill(48, 0xb1) /* MRTD */, fill(48, 0) /* MRCONFIGID */, fill(48, 0) /* MROWNER */, fill(48, 0) /* MROWNERCONFIG */,
        fill(48, 0xc0), fill(48, 0xc1), fill(48, 0xc2), o.rtmr3 ?? fill(48, 0xc3), o.reportData,
    ]);
    if (r.length !== 584 || o.reportData.length !== 64) throw new Error('TD report layout');
    return r;
}

/** A 384-byte SGX report of the quoting enclave, REPORTDATA[0..32] = sha256(attestation key || auth data). */
function qeReport(attestationKey: Buffer, qeAuthData: Buffer): Buffer {
    const reportData = Buffer.concat([createHash('sha256').update(Buffer.concat([attestationKey, qeAuthData])).digest(), Buffer.alloc(32)]);
    const attributes = Buffer.alloc(16);
    attributes[0] = 0x11; // INIT | MODE64BIT, not DEBUG
    const r = Buffer.concat([
        Buffer.alloc(16, 0) /* CPUSVN */, u32(0) /* MISCSELECT */, Buffer.alloc(28), attributes, Buffer.alloc(32, 0xe1) /* MRENCLAVE */,
        Buffer.alloc(32), Buffer.from(QE_MRSIGNER, 'hex'), Buffer.alloc(96), u16(QE_ISVPRODID), u16(QE_ISVSVN), Buffer.alloc(60), reportData,
    ]);
    if (r.length !== 384) throw new Error('QE report layout');
    return r;
}

/** Synchronous (a fake configfs-tsm answers a write with a quote at once). */
export function makeQuote(pki: TestPki, o: QuoteOptions): Buffer {
    const version = o.version ?? 4;
    const attestationKeys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = attestationKeys.publicKey.export({ format: 'jwk' });
    const attestationKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const qeAuthData = Buffer.alloc(32, 0x5a);
    const qe = qeReport(attestationKey, qeAuthData);
    const qeSig = ieee(qe, pki.pckKeys.privateKey);
    const chain = Buffer.from(pemOf(pki.pckCert) + '\n' + pemOf(pki.pckCaCert) + '\n' + pemOf(pki.rootCert) + '\n');
    const innerCert = Buffer.concat([u16(5), u32(chain.length), chain]);
    const qeCertData = Buffer.concat([qe, qeSig, u16(qeAuthData.length), qeAuthData, innerCert]);

    const header = Buffer.concat([
        u16(version), u16(2) /* ECDSA-256-with-P-256 */, u32(0x81) /* TDX */, u16(QE_ISVSVN), u16(pki.pceSvn),
        Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex') /* Intel QE vendor id */, Buffer.alloc(20),
    ]);
    const body = tdReport(o);
    const signed = version === 5 ? Buffer.concat([header, u16(2), u32(body.length), body]) : Buffer.concat([header, body]);
    const signature = nodeSign('sha256', signed, { key: attestationKeys.privateKey, dsaEncoding: 'ieee-p1363' });
    const authData = Buffer.concat([signature, attestationKey, u16(6), u32(qeCertData.length), qeCertData]);
    return Buffer.concat([signed, u32(authData.length), authData]);
}

/** The PKI, an UpToDate collateral valid around `now`, and a quote factory: the common test setup. */
export async function syntheticTdx(now: number) {
    const day = 86400_000;
    const pki = await makeTestPki({ notBefore: new Date(now * 1000 - 365 * day), notAfter: new Date(now * 1000 + 5 * 365 * day) });
    const collateral = await makeCollateral(pki, { issueDate: new Date(now * 1000 - day), nextUpdate: new Date(now * 1000 + 29 * day) });
    return { pki, collateral, quote: (o: QuoteOptions) => makeQuote(pki, o) };
}

/** A fake configfs-tsm: a write of inblob makes the "kernel" produce a quote carrying that REPORTDATA. */
export function fakeTsm(tdx: { quote: (o: QuoteOptions) => Buffer }): TsmFs {
    return {
        existsSync: (p) => existsSync(p),
        mkdirSync: (p) => {
            mkdirSync(p);
            writeFileSync(join(p, 'provider'), 'tdx_guest\n');
        },
        writeFileSync: (p, d) => {
            writeFileSync(p, d);
            writeFileSync(join(dirname(p), 'outblob'), tdx.quote({ reportData: d }));
        },
        readFileSync: (p) => readFileSync(p),
        rmdirSync: (p) => rmSync(p, { recursive: true }),
    };
}

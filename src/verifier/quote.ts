// A TDX quote read into the facts the policy needs, with dcap-qvl's parser: the TD report fields,
// the image hash (measurement), the TD attributes, REPORTDATA, the PCK chain the quote carries.
// Nothing here is authenticated: verify.ts checks the signatures before it trusts these facts.
import { createHash } from 'node:crypto';
import { Quote, TDReport10 } from '@phala/dcap-qvl';
import { VerificationError } from './reasons';

const TEE_TYPE_TDX = 0x81;
const ATTESTATION_KEY_ECDSA_P256 = 2;
const HEADER_LEN = 48;
const BODY_DESCRIPTOR_LEN = 6; // v5: body type (u16) + body size (u32)
const TD_REPORT10_LEN = 584;
const TD_REPORT15_LEN = 648;
const PCK_CERT_CHAIN = 5;

/** The TD attribute bits the policy looks at (TDX module ABI, TDREPORT.TDATTRIBUTES). */
export interface TdAttributes {
    /** TUD.DEBUG (bit 0): the TD runs in debug mode, the host can read and change its memory. */
    debug: boolean;
    /** SEC.SEPT_VE_DISABLE (bit 28): EPT violations do not become #VE in the TD. */
    septVeDisable: boolean;
    /** Any TUD bit other than DEBUG, or any reserved bit. */
    reservedBits: boolean;
    /** The 8 bytes as hex, as they appear in the report. */
    hex: string;
}

export interface TdReport {
    teeTcbSvn: Buffer;
    mrSeam: Buffer;
    tdAttributes: Buffer;
    mrTd: Buffer;
    mrConfigId: Buffer;
    mrOwner: Buffer;
    mrOwnerConfig: Buffer;
    rtmr: [Buffer, Buffer, Buffer, Buffer];
    reportData: Buffer;
    /** TD report 1.5 (v5 body type 3) only: a bound service TD's measurement, else null. */
    mrServiceTd: Buffer | null;
}

export interface ParsedQuote {
    version: 4 | 5;
    bytes: Buffer;
    /** sha256 of the whole quote: the statement's quoteHash. */
    quoteHash: Buffer;
    report: TdReport;
    attributes: TdAttributes;
    /** sha256(MRTD‖MRCONFIGID‖MROWNER‖MROWNERCONFIG‖RTMR0‖RTMR1‖RTMR2‖RTMR3‖64 zero bytes). */
    measurement: Buffer;
    /** PEM PCK chain carried in the quote (certification data type 5), else null. */
    pckChainPem: string | null;
}

/** Telegram Cocoon's image hash, so its images can be whitelisted as they are. */
export function measurementOf(r: Pick<TdReport, 'mrTd' | 'mrConfigId' | 'mrOwner' | 'mrOwnerConfig' | 'rtmr'>): Buffer {
    return createHash('sha256')
        .update(Buffer.concat([r.mrTd, r.mrConfigId, r.mrOwner, r.mrOwnerConfig, ...r.rtmr, Buffer.alloc(64)]))
        .digest();
}

export function parseTdAttributes(a: Buffer): TdAttributes {
    if (a.length !== 8) throw new Error('TD attributes are 8 bytes');
    const bits = a.readBigUInt64LE(0);
    const DEBUG = 1n << 0n;
    const SEPT_VE_DISABLE = 1n << 28n;
    // Defined bits: DEBUG (0), SEPT_VE_DISABLE (28), PKS (30), KL (31), PERFMON (63).
    const defined = DEBUG | SEPT_VE_DISABLE | (1n << 30n) | (1n << 31n) | (1n << 63n);
    return {
        debug: (bits & DEBUG) !== 0n,
        septVeDisable: (bits & SEPT_VE_DISABLE) !== 0n,
        reservedBits: (bits & ~defined) !== 0n,
        hex: a.toString('hex'),
    };
}

function tdReportOf(td: TDReport10, mrServiceTd: Uint8Array | null): TdReport {
    const b = (u: Uint8Array) => Buffer.from(u);
    return {
        teeTcbSvn: b(td.teeTcbSvn), mrSeam: b(td.mrSeam), tdAttributes: b(td.tdAttributes), mrTd: b(td.mrTd),
        mrConfigId: b(td.mrConfigId), mrOwner: b(td.mrOwner), mrOwnerConfig: b(td.mrOwnerConfig),
        rtmr: [b(td.rtMr0), b(td.rtMr1), b(td.rtMr2), b(td.rtMr3)], reportData: b(td.reportData),
        mrServiceTd: mrServiceTd ? b(mrServiceTd) : null,
    };
}

/** Parses a TDX quote (v4 or v5); throws VerificationError('bad_quote') saying what is wrong. */
export function parseTdxQuote(bytes: Uint8Array): ParsedQuote {
    const buf = Buffer.from(bytes);
    const bad = (why: string) => new VerificationError('bad_quote', `not a valid TDX quote: ${why}`);
    if (buf.length < HEADER_LEN) throw bad(`${buf.length} bytes, shorter than the 48-byte header`);
    const version = buf.readUInt16LE(0);
    const keyType = buf.readUInt16LE(2);
    const teeType = buf.readUInt32LE(4);
    if (teeType !== TEE_TYPE_TDX) throw bad(`TEE type 0x${teeType.toString(16)} (TDX is 0x81; SGX quotes are not accepted)`);
    if (version !== 4 && version !== 5) throw bad(`version ${version} (TDX quotes are v4 or v5)`);
    if (keyType !== ATTESTATION_KEY_ECDSA_P256) throw bad(`attestation key type ${keyType} (only ECDSA-P256, 2, exists for TDX)`);
    let q: Quote;
    try {
        q = Quote.parse(buf);
    } catch (e) {
        throw bad((e as Error).message);
    }
    const td = q.report.asTd10();
    if (!td) throw bad('the body is not a TD report');
    const td15 = q.report.asTd15();
    // Quotes come zero-padded to the buffer the quoting stack used (real ones carry 70 or 3065 zero
    // bytes); the parser ignores what follows the auth data, so anything but zeros there is refused.
    const bodyLen = (version === 5 ? BODY_DESCRIPTOR_LEN : 0) + (td15 ? TD_REPORT15_LEN : TD_REPORT10_LEN);
    const authLenAt = HEADER_LEN + bodyLen;
    const end = authLenAt + 4 + buf.readUInt32LE(authLenAt);
    if (buf.subarray(end).some((b) => b !== 0)) throw bad(`non-zero bytes after the authentication data (it ends at byte ${end} of ${buf.length})`);

    const report = tdReportOf(td, td15 ? td15.mrServiceTd : null);
    let pckChainPem: string | null = null;
    try {
        // innerCertType() exists in dcap-qvl 0.3.9 but is missing from its type declarations
        if ((q as Quote & { innerCertType(): number }).innerCertType() === PCK_CERT_CHAIN) pckChainPem = Buffer.from(q.rawCertChain()).toString('utf8');
    } catch {
        pckChainPem = null;
    }
    return {
        version, bytes: buf, quoteHash: createHash('sha256').update(buf).digest(), report,
        attributes: parseTdAttributes(report.tdAttributes), measurement: measurementOf(report), pckChainPem,
    };
}

// Input validation at the edge: addresses, amounts, basis points, keys, files handed in by people.
// Every check throws an Error whose message names the input and says what is expected.
import { Address, Cell, toNano } from '@ton/core';
import { readFileSync } from 'node:fs';
import { MIN_MIN_STAKE, type Params } from './contracts';
import { parseSignedAttestation, type SignedStatement } from './attestation';
import { parseSignedReceiptCell, type SignedUsageReceipt } from './receipt';

const U256 = (1n << 256n) - 1n;
const COINS_MAX = (1n << 120n) - 1n;

export function parseAddress(name: string, value: string | Address | undefined | null): Address {
    if (value instanceof Address) return value;
    const v = (value ?? '').trim();
    if (!v) throw new Error(`${name}: an address is required`);
    try {
        return Address.parse(v);
    } catch {
        throw new Error(`${name}: "${v}" is not a TON address (expected EQ.../UQ.../kQ.../0Q... or 0:<64 hex>)`);
    }
}

/** A TON amount written in TON ("1.5", "0.05") to nanoton. */
export function parseTon(name: string, value: string | bigint | undefined): bigint {
    if (typeof value === 'bigint') return value;
    const v = (value ?? '').trim();
    if (!/^\d+(\.\d{1,9})?$/.test(v)) throw new Error(`${name}: "${v}" is not a TON amount (expected e.g. 1.5; at most 9 decimals)`);
    return toNano(v);
}

export function requirePositive(name: string, v: bigint): bigint {
    if (v <= 0n) throw new Error(`${name} must be positive, got ${v}`);
    if (v > COINS_MAX) throw new Error(`${name} does not fit in a coins field`);
    return v;
}

export function requireNonNegative(name: string, v: bigint): bigint {
    if (v < 0n) throw new Error(`${name} must not be negative, got ${v}`);
    if (v > COINS_MAX) throw new Error(`${name} does not fit in a coins field`);
    return v;
}

export function requireBps(name: string, v: bigint): bigint {
    if (v < 0n || v > 10000n) throw new Error(`${name} is in basis points and must be within 0..10000, got ${v}`);
    return v;
}

export function requireUint(name: string, v: bigint, bits: number): bigint {
    if (v < 0n || v >= 1n << BigInt(bits)) throw new Error(`${name} must be an unsigned ${bits}-bit integer, got ${v}`);
    return v;
}

/** A 256-bit value given as 0x-hex, bare 64-digit hex or decimal. */
export function parseUint256(name: string, value: string | bigint | undefined): bigint {
    if (typeof value === 'bigint') return requireUint(name, value, 256);
    const v = (value ?? '').trim();
    let n: bigint;
    if (/^0x[0-9a-fA-F]{1,64}$/.test(v)) n = BigInt(v);
    else if (/^[0-9a-fA-F]{64}$/.test(v)) n = BigInt('0x' + v);
    else if (/^\d+$/.test(v)) n = BigInt(v);
    else throw new Error(`${name}: "${v}" is not a 256-bit value (expected 0x + up to 64 hex digits, or decimal)`);
    if (n > U256) throw new Error(`${name} does not fit in 256 bits`);
    return n;
}

export function parseInteger(name: string, value: string | undefined): bigint {
    const v = (value ?? '').trim();
    if (!/^\d+$/.test(v)) throw new Error(`${name}: "${v}" is not a non-negative integer`);
    return BigInt(v);
}

export function parseBool(name: string, value: string | undefined): boolean {
    const v = (value ?? '').trim().toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(v)) return true;
    if (['false', 'no', '0', 'off'].includes(v)) return false;
    throw new Error(`${name}: "${value}" is not a yes/no value`);
}

/** Checks a parameter set against the ranges CocoonRoot.SetParams accepts. */
export function validateParams(p: Params): Params {
    for (const k of ['minStake', 'maxPrice'] as const) requirePositive(`params.${k}`, p[k]);
    if (p.minStake < MIN_MIN_STAKE) throw new Error(`params.minStake must be at least ${MIN_MIN_STAKE} nanoton (1 TON), got ${p.minStake}`);
    for (const k of ['unbondingPeriod', 'maxAttestationTtl', 'disputeWindow'] as const) {
        requireUint(`params.${k}`, p[k], 32);
        if (p[k] <= 0n) throw new Error(`params.${k} must be positive (seconds), got ${p[k]}`);
    }
    for (const k of ['protocolFeeBps', 'stakerShareBps', 'slashBps', 'reporterBountyBps'] as const) requireBps(`params.${k}`, p[k]);
    // 0 would make equivocation free (and a slash proof a plain gift of the reporter's gas)
    if (p.slashBps < 1n) throw new Error('params.slashBps must be at least 1 (a slash that takes nothing deters nothing)');
    return p;
}

export function validateEndpoint(url: string): string {
    let u: URL;
    try {
        u = new URL(url);
    } catch {
        throw new Error(`endpoint: "${url}" is not a URL (expected https://host:port)`);
    }
    if (u.protocol !== 'https:') throw new Error(`endpoint: "${url}" must use https (the worker node serves TLS only)`);
    if (Buffer.byteLength(url) > 512) throw new Error('endpoint: at most 512 bytes');
    return url;
}

/**
 * The models a measurement (one worker image) may serve, as the root stores them: one name, or
 * several separated by commas ("llama-3-8b-instruct,qwen2.5-7b-instruct"). Names are non-empty, at
 * most 64 bytes, without commas or whitespace at either end; at most 16 of them; 1000 bytes in all.
 */
export function validateModelName(model: string): string {
    if (!model.trim()) throw new Error('model: a model name is required');
    if (Buffer.byteLength(model) > 1000) throw new Error('model: at most 1000 bytes in all');
    const names = model.split(',');
    if (names.length > 16) throw new Error(`model: at most 16 names per measurement, got ${names.length}`);
    const seen = new Set<string>();
    for (const n of names) {
        if (!n || n !== n.trim()) throw new Error(`model: "${model}" has an empty name or spaces around a name (names are separated by commas only)`);
        if (Buffer.byteLength(n) > 64) throw new Error(`model: "${n}" is longer than 64 bytes`);
        if (seen.has(n)) throw new Error(`model: "${n}" is listed twice`);
        seen.add(n);
    }
    return model;
}

/** The model names of a measurement's entry at the root (see validateModelName); [] for none. */
export function modelNames(entry: string | null | undefined): string[] {
    if (!entry) return [];
    return entry.split(',').filter((n) => n.length > 0);
}

// ---------------------------------------------------------------- files handed in by people

/** Contract code from a file: a BOC, or the JSON Blueprint writes (build/NAME.compiled.json). */
export function codeFromFile(path: string): Cell {
    let raw: Buffer;
    try {
        raw = readFileSync(path);
    } catch {
        throw new Error(`code: cannot read ${path}`);
    }
    const text = raw.toString('utf8').trim();
    try {
        if (text.startsWith('{')) return Cell.fromBoc(Buffer.from(JSON.parse(text).hex, 'hex'))[0];
        return Cell.fromBoc(raw)[0];
    } catch {
        throw new Error(`code: ${path} is neither a BOC nor a Blueprint .compiled.json`);
    }
}

function cellFromBase64(name: string, b64: string): Cell {
    try {
        return Cell.fromBase64(b64.trim());
    } catch {
        throw new Error(`${name}: not a BOC in base64`);
    }
}

function cellFromBocText(name: string, text: string): Cell {
    const t = text.trim();
    if (/^(b5ee9c72|B5EE9C72)[0-9a-fA-F]*$/.test(t)) return Cell.fromBoc(Buffer.from(t, 'hex'))[0];
    return cellFromBase64(name, t);
}

/**
 * A SignedAttestation from a file's text: the BOC (base64 or hex), or JSON with the BOC under
 * `attestationBoc` (the worker node's GET /attestation answer), `signedAttestation`, `boc` or `cell`.
 */
export function readSignedAttestation(text: string): SignedStatement {
    const t = text.trim();
    let cell: Cell;
    if (t.startsWith('{')) {
        let j: any;
        try {
            j = JSON.parse(t);
        } catch (e) {
            throw new Error(`attestation file: invalid JSON (${(e as Error).message})`);
        }
        const b64 = j.attestationBoc ?? j.signedAttestation ?? j.boc ?? j.cell ?? j.attestation?.boc;
        if (typeof b64 !== 'string') throw new Error('attestation file: JSON without attestationBoc / signedAttestation / boc (base64 of the SignedAttestation cell)');
        cell = cellFromBase64('attestation file', b64);
    } else {
        cell = cellFromBocText('attestation file', t);
    }
    try {
        return parseSignedAttestation(cell);
    } catch (e) {
        throw new Error(`attestation file: not a SignedAttestation cell (${(e as Error).message})`);
    }
}

/**
 * A signed receipt from a file's text: the `cocoon_receipt` JSON a worker node returns (alone or
 * inside the whole response), or the SignedReceipt BOC (base64 or hex). The JSON's decimal fields
 * must agree with the signed cell.
 */
export function readSignedReceipt(text: string): SignedUsageReceipt {
    const t = text.trim();
    if (!t.startsWith('{')) {
        const c = cellFromBocText('receipt file', t);
        try {
            return parseSignedReceiptCell(c);
        } catch (e) {
            throw new Error(`receipt file: not a SignedReceipt cell (${(e as Error).message})`);
        }
    }
    let j: any;
    try {
        j = JSON.parse(t);
    } catch (e) {
        throw new Error(`receipt file: invalid JSON (${(e as Error).message})`);
    }
    const r = j.cocoon_receipt ?? j;
    if (typeof r.boc !== 'string') throw new Error('receipt file: JSON without cocoon_receipt.boc (base64 of the SignedReceipt cell)');
    let s: SignedUsageReceipt;
    try {
        s = parseSignedReceiptCell(cellFromBase64('receipt file', r.boc));
    } catch (e) {
        throw new Error(`receipt file: boc is not a SignedReceipt cell (${(e as Error).message})`);
    }
    const check = (field: 'epoch' | 'seq' | 'promptTokens' | 'cachedTokens' | 'completionTokens' | 'cost') => {
        if (r[field] !== undefined && BigInt(r[field]) !== s.receipt[field]) {
            throw new Error(`receipt file: ${field} ${r[field]} in the JSON differs from ${s.receipt[field]} in the signed cell`);
        }
    };
    (['epoch', 'seq', 'promptTokens', 'cachedTokens', 'completionTokens', 'cost'] as const).forEach(check);
    if (r.escrow !== undefined && !parseAddress('receipt escrow', r.escrow).equals(s.receipt.escrow)) {
        throw new Error('receipt file: escrow in the JSON differs from the signed cell');
    }
    if (r.signature !== undefined && String(r.signature).toLowerCase().replace(/^0x/, '') !== s.signature.toString('hex')) {
        throw new Error('receipt file: signature in the JSON differs from the signed cell');
    }
    return s;
}

// ---------------------------------------------------------------- script arguments

/**
 * Blueprint passes a script the words after its flags (`npx blueprint run setPrice --testnet
 * --tonconnect price=0.5`). Words `key=value` are named; bare words fill `positional` in order.
 */
export function parseArgs(args: string[], positional: string[] = []): Record<string, string> {
    const out: Record<string, string> = {};
    let i = 0;
    for (const a of args) {
        const m = /^([A-Za-z][\w-]*)=(.*)$/s.exec(a);
        if (m) out[m[1]] = m[2];
        else if (i < positional.length) out[positional[i++]] = a;
        else throw new Error(`unexpected argument "${a}" (expected name=value${positional.length ? ' or ' + positional.join(', ') : ''})`);
    }
    return out;
}

/** What ArgReader needs from Blueprint's UIProvider to ask for a missing value. */
export interface Prompter {
    input(message: string): Promise<string>;
}

/**
 * A script's inputs: named args first, then (for `root`) the COCOON_ROOT environment variable,
 * then a prompt through the UI, then the default. Every value is validated as it is read.
 */
export class ArgReader {
    readonly named: Record<string, string>;

    constructor(args: string[], positional: string[] = [], private readonly ui?: Prompter) {
        this.named = parseArgs(args, positional);
    }

    optional(name: string): string | undefined {
        const v = this.named[name];
        return v === undefined || v === '' ? undefined : v;
    }

    has(name: string): boolean {
        return this.optional(name) !== undefined;
    }

    async text(name: string, prompt: string, fallback?: string): Promise<string> {
        const v = this.optional(name);
        if (v !== undefined) return v;
        if (this.ui) {
            const answer = (await this.ui.input(fallback !== undefined ? `${prompt} [${fallback}]` : prompt)).trim();
            if (answer) return answer;
        }
        if (fallback !== undefined) return fallback;
        throw new Error(`${name}: a value is required (pass ${name}=...)`);
    }

    async address(name: string, prompt: string, fallback?: Address): Promise<Address> {
        return parseAddress(name, await this.text(name, prompt, fallback?.toString()));
    }

    async ton(name: string, prompt: string, fallback?: bigint): Promise<bigint> {
        const v = await this.text(name, prompt, fallback === undefined ? undefined : fromNanoString(fallback));
        return parseTon(name, v);
    }

    async uint256(name: string, prompt: string): Promise<bigint> {
        return parseUint256(name, await this.text(name, prompt));
    }

    async integer(name: string, prompt: string, fallback?: bigint): Promise<bigint> {
        return parseInteger(name, await this.text(name, prompt, fallback?.toString()));
    }
}

function fromNanoString(n: bigint): string {
    const whole = n / 1_000_000_000n;
    const frac = (n % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
    return frac ? `${whole}.${frac}` : whole.toString();
}

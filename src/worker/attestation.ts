// How a node obtains the SignedAttestation binding its TEE key, measurement and TLS key to its
// operator: verifiers check evidence from the TEE and sign the statement (src/sdk/attestation.ts).
// With TDX the quote's REPORTDATA is the key binding (root, operator, TEE key, TLS key hash); k
// verifier services (src/verifier, `cocoon-verifier serve`) each check the quote and sign the same
// statement, which then carries the quote's facts (measurement, quote hash, TCB status, FMSPC).
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { Cell } from '@ton/core';
import {
    Ed25519Key, NO_QUOTE, SignedStatement, Statement, VerifierSignature, bigIntToPublicKey, buildStatementCell, keyBinding,
    signStatement, signedAttestation, tcbStatusCode, verifyHash,
} from '../sdk';
import type { AttestRequestJson, AttestResponse, CheckRequestJson, CheckResponse, QuoteFacts, Refusal } from '../verifier/api';

export interface AttestationProvider {
    readonly kind: string;
    /** Returns the verifier-signed statement (and the raw TEE evidence, when there is any). */
    attest(statement: Statement): Promise<{ signed: SignedStatement; evidence?: Buffer }>;
}

/**
 * DEVELOPMENT ONLY: a local ed25519 key plays the verifier and signs the statement it is given,
 * with no TEE evidence at all (quoteHash 0, tcbStatus 255 = no quote, fmspc 0). The sandbox root
 * whitelists this key; a real network never should.
 */
export class DevAttestationProvider implements AttestationProvider {
    readonly kind = 'dev';
    constructor(private readonly verifierKey: Ed25519Key) {}
    async attest(statement: Statement) {
        return { signed: signStatement({ ...statement, ...NO_QUOTE }, this.verifierKey) };
    }
}

/** Turns a TDX quote whose REPORTDATA is the statement's key binding into a verifier-signed statement. */
export interface QuoteVerifier {
    verify(quote: Buffer, statement: Statement): Promise<SignedStatement>;
}

/** The few file operations configfs-tsm needs; tests replace them to play the kernel. */
export interface TsmFs {
    existsSync(p: string): boolean;
    mkdirSync(p: string): void;
    writeFileSync(p: string, data: Buffer): void;
    readFileSync(p: string): Buffer;
    rmdirSync(p: string): void;
}

const realFs: TsmFs = {
    existsSync: (p) => nodeFs.existsSync(p),
    mkdirSync: (p) => nodeFs.mkdirSync(p),
    writeFileSync: (p, d) => nodeFs.writeFileSync(p, d),
    readFileSync: (p) => nodeFs.readFileSync(p),
    rmdirSync: (p) => nodeFs.rmdirSync(p),
};

export const TSM_REPORT_PATH = '/sys/kernel/config/tsm/report';

export class TdxUnavailableError extends Error {
    constructor(path: string, detail: string) {
        super(
            `TDX is not available on this machine: ${detail} (${path}). A TDX attestation needs an Intel TDX guest ` +
            'with Linux configfs-tsm (kernel 6.7+, configfs mounted at /sys/kernel/config). ' +
            'For local development use the dev attestation provider instead.',
        );
        this.name = 'TdxUnavailableError';
    }
}

/**
 * Intel TDX through Linux configfs-tsm: creates a report directory, writes the 64-byte inblob
 * (REPORTDATA = the key binding of the statement), reads the quote from outblob, removes the
 * directory, and hands the quote to the verifiers for their signatures.
 */
export class TdxAttestationProvider implements AttestationProvider {
    readonly kind = 'tdx';
    private readonly fs: TsmFs;
    private readonly tsmPath: string;

    constructor(private readonly verifier: QuoteVerifier, opts: { tsmPath?: string; fs?: TsmFs } = {}) {
        this.tsmPath = opts.tsmPath ?? TSM_REPORT_PATH;
        this.fs = opts.fs ?? realFs;
    }

    /** REPORTDATA for a statement: the SDK's keyBinding of its root, operator, TEE key and TLS key hash. */
    static reportData(statement: Statement): Buffer {
        return keyBinding(statement);
    }

    /** Reads a TDX quote whose REPORTDATA is `inblob` (64 bytes). */
    quote(inblob: Buffer): Buffer {
        if (inblob.length !== 64) throw new Error('TDX REPORTDATA is exactly 64 bytes');
        if (!this.fs.existsSync(this.tsmPath)) throw new TdxUnavailableError(this.tsmPath, 'the configfs-tsm report directory does not exist');
        const dir = nodePath.join(this.tsmPath, `cocoon-${process.pid}-${randomBytes(6).toString('hex')}`);
        try {
            this.fs.mkdirSync(dir);
        } catch (e) {
            throw new TdxUnavailableError(this.tsmPath, `cannot create a report entry: ${(e as Error).message}`);
        }
        try {
            const providerFile = nodePath.join(dir, 'provider');
            if (this.fs.existsSync(providerFile)) {
                const provider = this.fs.readFileSync(providerFile).toString('utf8').trim();
                if (provider !== 'tdx_guest') throw new TdxUnavailableError(this.tsmPath, `the TSM provider is "${provider}", not tdx_guest`);
            }
            this.fs.writeFileSync(nodePath.join(dir, 'inblob'), inblob);
            const quote = this.fs.readFileSync(nodePath.join(dir, 'outblob'));
            if (quote.length === 0) throw new TdxUnavailableError(this.tsmPath, 'the kernel returned an empty quote');
            return quote;
        } finally {
            try {
                this.fs.rmdirSync(dir);
            } catch {
                // the kernel removes nothing by itself, but a failed removal must not hide the result
            }
        }
    }

    async attest(statement: Statement) {
        const quote = this.quote(TdxAttestationProvider.reportData(statement));
        const signed = await this.verifier.verify(quote, statement);
        return { signed, evidence: quote };
    }
}

// ------------------------------------------------------------------ verifier services over HTTP

/** A verifier service refused (or could not be reached); `reason` is its machine-readable reason. */
export class VerifierRefusedError extends Error {
    constructor(readonly url: string, readonly reason: string, message: string, readonly status: number | null, readonly maxExpiresAt?: number) {
        super(`the verifier at ${url} refused: ${reason}: ${message}`);
        this.name = 'VerifierRefusedError';
    }
}

const hex = (v: bigint) => '0x' + v.toString(16).padStart(64, '0');

/** One verifier service (`cocoon-verifier serve`). */
export class VerifierClient {
    constructor(readonly url: string, private readonly timeoutMs = 30_000) {
        if (!/^https?:\/\//.test(url)) throw new Error(`a verifier URL must be http(s)://…, got ${url}`);
    }

    private async post<T>(path: string, body: unknown): Promise<T> {
        const target = this.url.replace(/\/+$/, '') + path;
        let res: Response;
        try {
            res = await fetch(target, {
                method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs),
            });
        } catch (e) {
            throw new VerifierRefusedError(this.url, 'unreachable', (e as Error).message, null);
        }
        const text = await res.text();
        let json: any;
        try {
            json = JSON.parse(text);
        } catch {
            throw new VerifierRefusedError(this.url, 'bad_response', `HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`, res.status);
        }
        if (!res.ok || json?.accepted !== true) {
            const r = json as Partial<Refusal>;
            throw new VerifierRefusedError(this.url, r.reason ?? 'bad_response', r.message ?? `HTTP ${res.status}`, res.status, r.maxExpiresAt);
        }
        return json as T;
    }

    /** Verifies the quote and its REPORTDATA against `statement`'s binding; signs nothing. */
    check(quote: Buffer, statement: Statement): Promise<CheckResponse> {
        const body: CheckRequestJson = {
            quote: quote.toString('base64'),
            statement: { root: statement.root.toRawString(), operator: statement.operator.toRawString(), teeKey: hex(statement.teeKey), tlsKeyHash: hex(statement.tlsKeyHash) },
        };
        return this.post<CheckResponse>('/v1/check', body);
    }

    /** Asks for a signature over `statement` (its quote facts are the verifier's to fill in). */
    attest(quote: Buffer, statement: Statement): Promise<AttestResponse> {
        const body: AttestRequestJson = {
            quote: quote.toString('base64'),
            statement: {
                root: statement.root.toRawString(), operator: statement.operator.toRawString(), teeKey: hex(statement.teeKey),
                tlsKeyHash: hex(statement.tlsKeyHash), issuedAt: statement.issuedAt, expiresAt: statement.expiresAt,
            },
        };
        return this.post<AttestResponse>('/v1/attest', body);
    }
}

export interface HttpQuoteVerifierOptions {
    /** Verifier service base URLs, in order of preference. */
    urls: string[];
    /** Signatures needed (the root's verifierQuorum): a number, or read when needed (e.g. from the root). */
    quorum: number | (() => Promise<number>);
    timeoutMs?: number;
}

const factsKey = (f: QuoteFacts) => `${f.measurement}|${f.quoteHash}|${f.tcbStatus}|${f.fmspc}`;

/**
 * A quorum of verifier services: /v1/check on each to learn the quote's facts and the latest
 * expiresAt each signs (their minimum is used, so every one accepts the same statement), then
 * /v1/attest on those that agree, until `quorum` signatures over that one statement are in.
 * Every signature is checked here before it is used.
 */
export class HttpQuoteVerifier implements QuoteVerifier {
    private readonly clients: VerifierClient[];

    constructor(private readonly o: HttpQuoteVerifierOptions) {
        const urls = [...new Set(o.urls)];
        if (urls.length === 0) throw new Error('no verifier URL: give at least one verifier service');
        if (urls.length !== o.urls.length) throw new Error('a verifier URL is listed twice: each verifier counts once');
        this.clients = urls.map((u) => new VerifierClient(u, o.timeoutMs));
    }

    private async quorum(): Promise<number> {
        const k = typeof this.o.quorum === 'number' ? this.o.quorum : await this.o.quorum();
        if (!Number.isInteger(k) || k < 1) throw new Error(`the verifier quorum must be a positive integer, got ${k}`);
        if (k > this.clients.length) throw new Error(`the quorum is ${k} verifiers but only ${this.clients.length} verifier URL(s) are configured`);
        return k;
    }

    async verify(quote: Buffer, wanted: Statement): Promise<SignedStatement> {
        const k = await this.quorum();
        const checks = await Promise.allSettled(this.clients.map((c) => c.check(quote, wanted)));
        const failures: string[] = [];
        const groups = new Map<string, { client: VerifierClient; check: CheckResponse }[]>();
        checks.forEach((r, i) => {
            if (r.status === 'rejected') return failures.push((r.reason as Error).message);
            const g = groups.get(factsKey(r.value.facts)) ?? [];
            g.push({ client: this.clients[i], check: r.value });
            groups.set(factsKey(r.value.facts), g);
        });
        const agreeing = [...groups.values()].sort((a, b) => b.length - a.length)[0] ?? [];
        if (agreeing.length < k) {
            const disagree = groups.size > 1 ? [`the verifiers that accepted disagree on the quote's facts: ${[...groups.values()].map((g) => `${g.map((x) => x.client.url).join(', ')}: TCB ${g[0].check.facts.tcbStatusName}, measurement ${g[0].check.facts.measurement}`).join('; ')}`] : [];
            throw new Error(`attestation needs ${k} verifier(s) to accept the quote, ${agreeing.length} did:\n  ` + [...failures, ...disagree].join('\n  '));
        }
        const facts = agreeing[0].check.facts;
        const expiresAt = Math.min(wanted.expiresAt, ...agreeing.map((a) => a.check.maxExpiresAt));
        if (expiresAt <= wanted.issuedAt) throw new Error(`the verifiers' lease ends at ${expiresAt}, not after issuedAt ${wanted.issuedAt}: refresh the collateral`);
        const statement: Statement = {
            ...wanted, expiresAt, measurement: BigInt(facts.measurement), quoteHash: BigInt(facts.quoteHash),
            tcbStatus: tcbStatusCode(facts.tcbStatusName), fmspc: BigInt(facts.fmspc),
        };
        const hash = buildStatementCell(statement).hash();

        const sigs: VerifierSignature[] = [];
        const attestFailures: string[] = [];
        for (let next = 0; sigs.length < k && next < agreeing.length;) {
            const batch = agreeing.slice(next, next + (k - sigs.length));
            next += batch.length;
            const got = await Promise.allSettled(batch.map((a) => this.signatureFrom(a.client, quote, statement, hash)));
            got.forEach((r) => (r.status === 'fulfilled' ? sigs.push(r.value) : attestFailures.push((r.reason as Error).message)));
        }
        if (sigs.length < k) throw new Error(`attestation needs ${k} verifier signature(s), got ${sigs.length}:\n  ` + [...failures, ...attestFailures].join('\n  '));
        return signedAttestation(statement, sigs);
    }

    private async signatureFrom(client: VerifierClient, quote: Buffer, statement: Statement, hash: Buffer): Promise<VerifierSignature> {
        const r = await client.attest(quote, statement);
        const boc = Buffer.from(r.statementBoc ?? '', 'base64');
        let cell: Cell;
        try {
            cell = Cell.fromBoc(boc)[0];
        } catch {
            throw new Error(`the verifier at ${client.url} returned no statement cell`);
        }
        if (!cell.hash().equals(hash)) throw new Error(`the verifier at ${client.url} signed another statement than the one asked for`);
        if (!/^0x[0-9a-fA-F]{64}$/.test(r.verifierKey ?? '') || !/^[0-9a-fA-F]{128}$/.test(r.signature ?? '')) {
            throw new Error(`the verifier at ${client.url} returned a malformed key or signature`);
        }
        const verifierKey = BigInt(r.verifierKey);
        const signature = Buffer.from(r.signature, 'hex');
        if (!verifyHash(hash, signature, bigIntToPublicKey(verifierKey))) throw new Error(`the verifier at ${client.url} returned a bad signature`);
        return { verifierKey, signature };
    }
}

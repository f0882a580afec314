// How a node obtains the SignedAttestation binding its TEE key, measurement and TLS key to its
// operator: a verifier checks evidence from the TEE and signs the statement (src/sdk/attestation.ts).
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { Cell } from '@ton/core';
import { buildStatementCell, Ed25519Key, parseSignedAttestation, signStatement, SignedStatement, Statement } from '../sdk';

export interface AttestationProvider {
    readonly kind: string;
    /** Returns the verifier-signed statement (and the raw TEE evidence, when there is any). */
    attest(statement: Statement): Promise<{ signed: SignedStatement; evidence?: Buffer }>;
}

/**
 * DEVELOPMENT ONLY: a local ed25519 key plays the verifier and signs whatever statement it is given,
 * with no TEE evidence at all. The sandbox root whitelists this key; a real network never should.
 */
export class DevAttestationProvider implements AttestationProvider {
    readonly kind = 'dev';
    constructor(private readonly verifierKey: Ed25519Key) {}
    async attest(statement: Statement) {
        return { signed: signStatement(statement, this.verifierKey) };
    }
}

/** Turns a TDX quote into a verifier-signed statement (a remote attestation service). */
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
 * (REPORTDATA = sha256 of the statement cell, i.e. its hash, zero-padded), reads the quote from
 * outblob, removes the directory, and hands the quote to a verifier service for its signature.
 */
export class TdxAttestationProvider implements AttestationProvider {
    readonly kind = 'tdx';
    private readonly fs: TsmFs;
    private readonly tsmPath: string;

    constructor(private readonly verifier: QuoteVerifier, opts: { tsmPath?: string; fs?: TsmFs } = {}) {
        this.tsmPath = opts.tsmPath ?? TSM_REPORT_PATH;
        this.fs = opts.fs ?? realFs;
    }

    /** REPORTDATA for a statement: its cell hash, zero-padded to 64 bytes. */
    static reportData(statement: Statement): Buffer {
        return Buffer.concat([buildStatementCell(statement).hash(), Buffer.alloc(32)]);
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

/**
 * A quote verifier reached over HTTP(S): POST {quote, statementBoc} (base64) and get back
 * {attestationBoc} (base64 SignedAttestation cell). The service checks the TDX quote (signature
 * chain, TCB status, MRTD/RTMRs -> measurement, REPORTDATA = statement hash) before it signs.
 */
export class HttpQuoteVerifier implements QuoteVerifier {
    constructor(private readonly url: string, private readonly timeoutMs = 30_000) {}
    async verify(quote: Buffer, statement: Statement): Promise<SignedStatement> {
        const res = await fetch(this.url, {
            method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(this.timeoutMs),
            body: JSON.stringify({ quote: quote.toString('base64'), statementBoc: buildStatementCell(statement).toBoc().toString('base64') }),
        });
        if (!res.ok) throw new Error(`the quote verifier at ${this.url} refused: ${res.status} ${(await res.text()).slice(0, 300)}`);
        const j = (await res.json()) as { attestationBoc?: string };
        if (!j.attestationBoc) throw new Error(`the quote verifier at ${this.url} returned no attestationBoc`);
        return parseSignedAttestation(Cell.fromBoc(Buffer.from(j.attestationBoc, 'base64'))[0]);
    }
}

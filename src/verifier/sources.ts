// Where the service gets collateral when a request brings none: a file (offline, one platform
// family) or a PCCS / Intel PCS (dcap-qvl's client). What it returns is verified like any other
// collateral, so a lying source can refuse service but never get a quote accepted.
import { statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { getCollateral } from '@phala/dcap-qvl';
// Exported by dcap-qvl 0.3.9's collateral module but not by its index.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { getCollateralForFmspc } = require('@phala/dcap-qvl/src/collateral') as {
    getCollateralForFmspc(url: string, fmspc: string, ca: 'processor' | 'platform', forSgx: boolean): Promise<unknown>;
};
import { Collateral, parseCollateral, readCollateralFile } from './collateral';
import { ParsedQuote } from './quote';
import { parsePemChain } from './chains';
import { fmspcOfPckCert } from './evidence';
import { VerificationError } from './reasons';

export interface CollateralSource {
    readonly describe: string;
    get(quote: ParsedQuote): Promise<Collateral>;
}

/** A collateral file, read again when it changes on disk (an operator refreshes it before it expires). */
export class FileCollateralSource implements CollateralSource {
    readonly describe: string;
    private cached: { mtimeMs: number; collateral: Collateral } | null = null;
    constructor(private readonly file: string) {
        this.describe = `file ${file}`;
        this.load();
    }
    private load(): Collateral {
        const mtimeMs = statSync(this.file).mtimeMs;
        if (!this.cached || this.cached.mtimeMs !== mtimeMs) this.cached = { mtimeMs, collateral: readCollateralFile(this.file) };
        return this.cached.collateral;
    }
    async get(): Promise<Collateral> {
        return this.load();
    }
}

export class CollateralUnavailableError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'CollateralUnavailableError';
    }
}

export interface PccsOptions {
    /** Per fetch (dcap-qvl makes 4 requests). Default 15 s. */
    timeoutMs?: number;
    /** Cached collateral is fetched again after this long, or sooner when it nears its nextUpdate. Default 1 h. */
    refreshSec?: number;
    clock?: () => number;
}

/** The PCK CA that issued a PCK certificate, as the PCCS names it in pckcrl?ca=… */
function pckCaOf(leaf: X509Certificate): 'processor' | 'platform' {
    if (/CN=Intel SGX PCK Platform CA/.test(leaf.issuer)) return 'platform';
    if (/CN=Intel SGX PCK Processor CA/.test(leaf.issuer)) return 'processor';
    throw new VerificationError('bad_certificate_chain', `the PCK certificate is issued by "${leaf.issuer.replace(/\n/g, ', ')}", neither Intel's PCK Platform nor Processor CA`);
}

/**
 * A PCCS (or Intel's PCS) at `url`, e.g. https://api.trustedservices.intel.com or a local PCCS.
 * For a quote that carries its PCK chain the FMSPC and PCK CA come from its PCK certificate (dcap-qvl
 * 0.3.9's getCollateral cannot read the issuer and always asks for the Processor CA's CRL, which the
 * verifier then rightly refuses for a Platform CA platform); such collateral is cached per (FMSPC,
 * PCK CA). A quote with an encrypted PPID goes through getCollateral, which fetches its PCK certificate.
 */
export class PccsCollateralSource implements CollateralSource {
    readonly describe: string;
    private readonly cache = new Map<string, { collateral: Collateral; until: number }>();
    private readonly timeoutMs: number;
    private readonly refreshMs: number;
    private readonly clock: () => number;

    constructor(private readonly url: string, o: PccsOptions = {}) {
        if (!/^https?:\/\//.test(url)) throw new Error(`the PCCS URL must be http(s)://…, got ${url}`);
        this.describe = `PCCS ${url}`;
        this.timeoutMs = o.timeoutMs ?? 15_000;
        this.refreshMs = (o.refreshSec ?? 3600) * 1000;
        this.clock = o.clock ?? (() => Date.now());
    }

    /** FMSPC and PCK CA of a quote that carries its PCK chain; null for an encrypted PPID. */
    private platformOf(q: ParsedQuote): { fmspc: string; ca: 'processor' | 'platform' } | null {
        if (!q.pckChainPem) return null;
        const [leaf] = parsePemChain(q.pckChainPem, 'PCK certificate chain');
        return { fmspc: fmspcOfPckCert(leaf).toString('hex').toUpperCase(), ca: pckCaOf(leaf) };
    }

    async get(q: ParsedQuote): Promise<Collateral> {
        const platform = this.platformOf(q);
        const key = platform ? `${platform.fmspc}|${platform.ca}` : null;
        const now = this.clock();
        const hit = key ? this.cache.get(key) : undefined;
        if (hit && hit.until > now) return hit.collateral;
        const fetcher = platform ? () => getCollateralForFmspc(this.url, platform.fmspc, platform.ca, false) : () => getCollateral(this.url, q.bytes);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CollateralUnavailableError(`the PCCS ${this.url} did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        });
        let raw: unknown;
        try {
            raw = await Promise.race([fetcher(), timeout]);
        } catch (e) {
            if (e instanceof CollateralUnavailableError) throw e;
            throw new CollateralUnavailableError(`cannot get collateral from the PCCS ${this.url}: ${(e as Error).message}`);
        } finally {
            clearTimeout(timer);
        }
        const collateral = parseCollateral(raw);
        if (key) {
            let until = now + this.refreshMs;
            try {
                const tcb = JSON.parse(collateral.tcb_info);
                until = Math.min(until, Date.parse(tcb.nextUpdate) - 3600_000);
            } catch {
                // unparsable dates: the verifier refuses the collateral anyway; cache it for the refresh time
            }
            if (this.cache.size > 1000) this.cache.clear();
            this.cache.set(key, { collateral, until });
        }
        return collateral;
    }
}

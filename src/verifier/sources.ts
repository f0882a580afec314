// Where the service gets collateral when a request brings none: a file (offline, one platform
// family) or a PCCS / Intel PCS (dcap-qvl's client). What it returns is verified like any other
// collateral, so a lying source can refuse service but never get a quote accepted.
import { statSync } from 'node:fs';
import { getCollateral } from '@phala/dcap-qvl';
import { Collateral, parseCollateral, readCollateralFile } from './collateral';
import { ParsedQuote } from './quote';
import { parsePemChain } from './chains';
import { fmspcOfPckCert } from './evidence';

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
    /** Test seam: the fetcher (default dcap-qvl's getCollateral). */
    fetch?: (url: string, quote: Buffer) => Promise<unknown>;
    clock?: () => number;
}

/**
 * A PCCS (or Intel's PCS) at `url`, e.g. https://api.trustedservices.intel.com or a local PCCS.
 * Collateral is cached per (FMSPC, PCK CA) for quotes that carry their PCK chain.
 */
export class PccsCollateralSource implements CollateralSource {
    readonly describe: string;
    private readonly cache = new Map<string, { collateral: Collateral; until: number }>();
    private readonly timeoutMs: number;
    private readonly refreshMs: number;
    private readonly fetcher: (url: string, quote: Buffer) => Promise<unknown>;
    private readonly clock: () => number;

    constructor(private readonly url: string, o: PccsOptions = {}) {
        if (!/^https?:\/\//.test(url)) throw new Error(`the PCCS URL must be http(s)://…, got ${url}`);
        this.describe = `PCCS ${url}`;
        this.timeoutMs = o.timeoutMs ?? 15_000;
        this.refreshMs = (o.refreshSec ?? 3600) * 1000;
        this.fetcher = o.fetch ?? ((u, q) => getCollateral(u, q));
        this.clock = o.clock ?? (() => Date.now());
    }

    private cacheKey(q: ParsedQuote): string | null {
        if (!q.pckChainPem) return null;
        try {
            const [leaf] = parsePemChain(q.pckChainPem, 'PCK chain');
            return `${fmspcOfPckCert(leaf).toString('hex')}|${leaf.issuer}`;
        } catch {
            return null;
        }
    }

    async get(q: ParsedQuote): Promise<Collateral> {
        const key = this.cacheKey(q);
        const now = this.clock();
        const hit = key ? this.cache.get(key) : undefined;
        if (hit && hit.until > now) return hit.collateral;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CollateralUnavailableError(`the PCCS ${this.url} did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        });
        let raw: unknown;
        try {
            raw = await Promise.race([this.fetcher(this.url, q.bytes), timeout]);
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
            // the PCK chain is the quote's own: not cached with the platform family's collateral
            this.cache.set(key, { collateral: { ...collateral, pck_certificate_chain: null }, until });
            return { ...collateral, pck_certificate_chain: null };
        }
        return collateral;
    }
}

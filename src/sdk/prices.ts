// Prices per token class (a Worker's prices, a client's caps), nanoton per million tokens of each
// class. Classes are disjoint: prompt tokens not served from a cache, cached prompt tokens,
// completion tokens (reasoning tokens count as completion tokens). docs/SIGNING.md, "Pricing".
import type { Prices } from './contracts';

export type PriceSet = Omit<Prices, '$$type'>;

export const TOKEN_CLASSES = ['prompt', 'cached', 'completion'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

const U64 = (1n << 64n) - 1n;

/** A PriceSet (or one number for every class) as the contracts' Prices struct, checked to fit. */
export function asPrices(p: bigint | PriceSet, name = 'prices'): Prices {
    const s: PriceSet = typeof p === 'bigint' ? { prompt: p, cached: p, completion: p } : p;
    for (const c of TOKEN_CLASSES) {
        if (typeof s[c] !== 'bigint' || s[c] < 0n || s[c] > U64) throw new Error(`${name}.${c} must be a nanoton amount per 1M tokens within 0..2^64-1, got ${s[c]}`);
    }
    return { $$type: 'Prices', prompt: s.prompt, cached: s.cached, completion: s.completion };
}

/** True when every class of `p` is at most the same class of `cap`. */
export function pricesWithin(p: PriceSet, cap: PriceSet): boolean {
    return TOKEN_CLASSES.every((c) => p[c] <= cap[c]);
}

/** The highest price of the three classes. */
export function maxPriceOf(p: PriceSet): bigint {
    return TOKEN_CLASSES.reduce((m, c) => (p[c] > m ? p[c] : m), 0n);
}

/** "prompt 0.1 / cached 0.05 / completion 0.3", each in TON per 1M tokens (format: formatTon). */
export function describePrices(p: PriceSet, ton: (n: bigint) => string): string {
    return `prompt ${ton(p.prompt)} / cached ${ton(p.cached)} / completion ${ton(p.completion)}`;
}

/** Tokens of one request or of a cumulative receipt, per class. */
export interface ClassTokens {
    promptTokens: bigint;
    cachedTokens: bigint;
    completionTokens: bigint;
}

/** floor(Σ_c tokens_c × price_c / 1e6): the most a receipt with these cumulative tokens may cost under these caps. */
export function capCost(t: ClassTokens, caps: PriceSet): bigint {
    return (t.promptTokens * caps.prompt + t.cachedTokens * caps.cached + t.completionTokens * caps.completion) / 1_000_000n;
}

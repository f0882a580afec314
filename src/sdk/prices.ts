// Prices per token class (a Worker's prices, a client's caps), nanoton per million tokens of each
// class, and the pricing rule the worker node signs by and the client checks (docs/SIGNING.md
// "Pricing rule"). Classes are disjoint: prompt tokens not served from a cache, cached prompt tokens,
// completion tokens (reasoning tokens count as completion tokens).
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

const M = 1_000_000n;

/** No tokens in any class. */
export const NO_TOKENS: Readonly<ClassTokens> = Object.freeze({ promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n });

export function addTokens(a: ClassTokens, b: ClassTokens): ClassTokens {
    return { promptTokens: a.promptTokens + b.promptTokens, cachedTokens: a.cachedTokens + b.cachedTokens, completionTokens: a.completionTokens + b.completionTokens };
}

/** The three class counts of `t` (dropping any other field). */
export function classTokens(t: ClassTokens): ClassTokens {
    return { promptTokens: t.promptTokens, cachedTokens: t.cachedTokens, completionTokens: t.completionTokens };
}

/**
 * sum_c floor(T_c x p_c / 1e6): the cumulative cost of class totals `t` at prices `p`, each class
 * rounded down on its own.
 */
export function cumulativeCost(t: ClassTokens, p: PriceSet): bigint {
    return (t.promptTokens * p.prompt) / M + (t.cachedTokens * p.cached) / M + (t.completionTokens * p.completion) / M;
}

/**
 * The pricing rule: the cumulative cost after a request of `request` tokens at `prices` (those in
 * force for that request), from totals `t0` and cost `c0`. The increment is
 * sum_c floor(T1_c x p_c / 1e6) - floor(T0_c x p_c / 1e6); the result is clamped to the escrow's
 * caps floor(sum_c T1_c x cap_c / 1e6), never below c0.
 */
export function nextCost(t0: ClassTokens, c0: bigint, request: ClassTokens, prices: PriceSet, caps: PriceSet): { tokens: ClassTokens; cost: bigint } {
    if (request.promptTokens < 0n || request.cachedTokens < 0n || request.completionTokens < 0n) throw new Error('request tokens must be >= 0 in every class');
    const t1 = addTokens(t0, request);
    let cost = c0 + cumulativeCost(t1, prices) - cumulativeCost(t0, prices);
    const cap = capCost(t1, caps);
    if (cost > cap) cost = cap < c0 ? c0 : cap;
    return { tokens: t1, cost };
}

/**
 * The most one request may add, from any starting totals: its prompt (`promptTokens`, an upper
 * bound) at the dearer of the prompt and cached prices and `maxTokens` at the completion price.
 * Each class's increment is at most ceil(n_c x p_c / 1e6); a prompt split over the two prompt
 * classes rounds up at most once more, hence one nanoton more when a prompt token's price is not a
 * whole number of nanoton.
 */
export function worstCaseCost(promptTokens: bigint, maxTokens: bigint, prices: PriceSet): bigint {
    const ceil = (n: bigint, p: bigint) => (n * p + M - 1n) / M;
    const dear = prices.prompt > prices.cached ? prices.prompt : prices.cached;
    const prompt = ceil(promptTokens, dear);
    return prompt + (prompt > 0n && dear % M !== 0n ? 1n : 0n) + ceil(maxTokens, prices.completion);
}

/** The same prices in every class. */
export function samePrices(a: PriceSet, b: PriceSet): boolean {
    return a.prompt === b.prompt && a.cached === b.cached && a.completion === b.completion;
}

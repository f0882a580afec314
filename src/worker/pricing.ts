// Cumulative pricing per escrow epoch (docs/HTTP-API.md "Pricing"): the cumulative cost of T tokens
// at price p (nanoton per million tokens) is floor(T*p/1e6); a request moving the total from T0 to
// T1 costs the difference, so cost*1e6 <= tokens*price always holds, as the escrow checks.
export const TOKENS_PER_PRICE_UNIT = 1_000_000n;

export function cumulativeCost(tokens: bigint, price: bigint): bigint {
    return (tokens * price) / TOKENS_PER_PRICE_UNIT;
}

/** The increment charged for moving the cumulative tokens from t0 to t1 at price p. */
export function costIncrement(t0: bigint, t1: bigint, price: bigint): bigint {
    return cumulativeCost(t1, price) - cumulativeCost(t0, price);
}

/** The most `tokens` more can cost from any starting total: ceil(tokens*p/1e6). */
export function worstCaseCost(tokens: bigint, price: bigint): bigint {
    return (tokens * price + TOKENS_PER_PRICE_UNIT - 1n) / TOKENS_PER_PRICE_UNIT;
}

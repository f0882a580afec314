// The pricing formula of the HTTP API: cumulative per escrow epoch, rounded down, so the cumulative
// cost never exceeds tokens x price / 1e6 (the escrow's on-chain cap check).

export const TOKENS_PER_PRICE_UNIT = 1_000_000n;

/** Cumulative cost (nanoton) of `tokens` cumulative tokens at `price` nanoton per million tokens. */
export function cumulativeCost(tokens: bigint, price: bigint): bigint {
    if (tokens < 0n || price < 0n) throw new Error('tokens and price must be non-negative');
    return (tokens * price) / TOKENS_PER_PRICE_UNIT;
}

/** Cost of one request taking the cumulative count from `before` to `before + requestTokens`. */
export function requestCost(before: bigint, requestTokens: bigint, price: bigint): bigint {
    return cumulativeCost(before + requestTokens, price) - cumulativeCost(before, price);
}

/** Worst case a worker may reserve for a request (docs/HTTP-API.md): (prompt + max_tokens) x price. */
export function worstCaseCost(promptTokens: bigint, maxTokens: bigint, price: bigint): bigint {
    return ((promptTokens + maxTokens) * price + TOKENS_PER_PRICE_UNIT - 1n) / TOKENS_PER_PRICE_UNIT;
}

// The pricing rule the node signs by (docs/SIGNING.md "Pricing rule"), shared with the client in
// src/sdk/prices.ts: per token class, with the prices in force for the request, the increment of
// sum_c floor(T_c x p_c / 1e6), the cumulative cost clamped to the escrow's caps.
export { cumulativeCost, nextCost, worstCaseCost, addTokens, NO_TOKENS, capCost, type ClassTokens, type PriceSet } from '../sdk';

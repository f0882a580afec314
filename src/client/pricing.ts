// The pricing formula of the HTTP API (docs/SIGNING.md "Pricing rule"), shared with the worker node
// in src/sdk/prices.ts: per token class, cumulative per escrow epoch, each class rounded down, the
// cumulative cost clamped to the escrow's caps (what the escrow checks on-chain).
export { cumulativeCost, nextCost, worstCaseCost, capCost, addTokens, NO_TOKENS, type ClassTokens, type PriceSet } from '../sdk';

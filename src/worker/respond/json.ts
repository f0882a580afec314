// Whole (non-streamed) answers: OpenAI's `chat.completion`, `text_completion` and embeddings `list`
// objects, each with the usage it was billed for and the receipt (also in the X-Cocoon-Receipt
// header, as the SignedReceipt BOC).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Address } from '@ton/core';
import type { ChatResult, EmbeddingResult, TextResult } from '../../backend';
import type { PriceSet } from '../../sdk';
import type { IssuedReceipt } from '../ledger';
import { sendJson } from '../errors';
import { embeddingUsageJson, usageJson } from '../usage';

export { usageJson };

/** Friendly form of an address (bounceable, url-safe), cached per Address object. */
const friendlyNames = new WeakMap<Address, string>();
export function friendly(a: Address): string {
    let f = friendlyNames.get(a);
    if (f === undefined) {
        f = a.toString();
        friendlyNames.set(a, f);
    }
    return f;
}

/**
 * The receipt as the HTTP API carries it (docs/HTTP-API.md): every integer a decimal string. The
 * signed fields are escrow, epoch, seq, the three class totals and cost; the others must agree.
 */
export function receiptJson(r: IssuedReceipt, prices?: PriceSet) {
    return {
        escrow: friendly(r.escrow), epoch: r.epoch.toString(), seq: r.seq.toString(),
        promptTokens: r.promptTokens.toString(), cachedTokens: r.cachedTokens.toString(), completionTokens: r.completionTokens.toString(),
        tokens: r.tokens.toString(), cost: r.cost.toString(),
        requestPromptTokens: r.request.promptTokens.toString(), requestCachedTokens: r.request.cachedTokens.toString(),
        requestCompletionTokens: r.request.completionTokens.toString(), requestTokens: r.requestTokens.toString(), requestCost: r.requestCost.toString(),
        ...(prices !== undefined ? { prices: { prompt: prices.prompt.toString(), cached: prices.cached.toString(), completion: prices.completion.toString() } } : {}),
        signature: r.signature.toString('hex'), boc: r.boc.toString('base64'),
    };
}

/** Response ids: `chatcmpl-` (or `cmpl-`) + 24 hex digits, from a random block refilled every 4096 ids. */
const ID_BATCH = 4096;
let idBlock = Buffer.alloc(0);
let idNext = ID_BATCH;
export function completionId(prefix = 'chatcmpl-'): string {
    if (idNext >= ID_BATCH) {
        idBlock = randomBytes(12 * ID_BATCH);
        idNext = 0;
    }
    const i = idNext++ * 12;
    return prefix + idBlock.toString('hex', i, i + 12);
}

const receiptHeader = (r: IssuedReceipt) => ({ 'x-cocoon-receipt': r.boc.toString('base64') });

export function sendCompletion(res: ServerResponse, model: string, result: ChatResult, receipt: IssuedReceipt, prices: PriceSet): void {
    const message: Record<string, unknown> = { role: 'assistant', content: result.content };
    if (result.toolCalls) message.tool_calls = result.toolCalls;
    sendJson(res, 200, {
        id: completionId(), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, message, finish_reason: result.finishReason, logprobs: result.logprobs ?? null }],
        usage: usageJson(result.usage), cocoon_receipt: receiptJson(receipt, prices),
    }, receiptHeader(receipt));
}

export function sendTextCompletion(res: ServerResponse, model: string, result: TextResult, receipt: IssuedReceipt, prices: PriceSet): void {
    sendJson(res, 200, {
        id: completionId('cmpl-'), object: 'text_completion', created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, text: result.text, finish_reason: result.finishReason, logprobs: null }],
        usage: usageJson(result.usage), cocoon_receipt: receiptJson(receipt, prices),
    }, receiptHeader(receipt));
}

export function sendEmbeddings(res: ServerResponse, model: string, result: EmbeddingResult, receipt: IssuedReceipt, prices: PriceSet): void {
    sendJson(res, 200, {
        object: 'list', model, data: result.data.map((d) => ({ object: 'embedding', index: d.index, embedding: d.embedding })),
        usage: embeddingUsageJson(result.usage), cocoon_receipt: receiptJson(receipt, prices),
    }, receiptHeader(receipt));
}

// A whole (non-streamed) chat completion: OpenAI's `chat.completion` object with the usage it was
// billed for and the receipt (also in the X-Cocoon-Receipt header, as the SignedReceipt BOC).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Address } from '@ton/core';
import type { ChatResult } from '../../backend';
import type { IssuedReceipt } from '../ledger';
import { sendJson } from '../errors';

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

/** The receipt as the HTTP API carries it (docs/HTTP-API.md): every integer a decimal string. */
export function receiptJson(r: IssuedReceipt, price?: bigint) {
    return {
        escrow: friendly(r.escrow), epoch: r.epoch.toString(), seq: r.seq.toString(), tokens: r.tokens.toString(), cost: r.cost.toString(),
        requestTokens: r.requestTokens.toString(), requestCost: r.requestCost.toString(),
        ...(price !== undefined ? { price: price.toString() } : {}),
        signature: r.signature.toString('hex'), boc: r.boc.toString('base64'),
    };
}

export function usageJson(promptTokens: number, completionTokens: number) {
    return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** Response ids: `chatcmpl-` + 24 hex digits, from a random block refilled every 4096 ids. */
const ID_BATCH = 4096;
let idBlock = Buffer.alloc(0);
let idNext = ID_BATCH;
export function completionId(): string {
    if (idNext >= ID_BATCH) {
        idBlock = randomBytes(12 * ID_BATCH);
        idNext = 0;
    }
    const i = idNext++ * 12;
    return 'chatcmpl-' + idBlock.toString('hex', i, i + 12);
}

export function sendCompletion(res: ServerResponse, model: string, result: ChatResult, receipt: IssuedReceipt, price: bigint): void {
    const message: Record<string, unknown> = { role: 'assistant', content: result.content };
    if (result.toolCalls) message.tool_calls = result.toolCalls;
    sendJson(res, 200, {
        id: completionId(), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model,
        choices: [{ index: 0, message, finish_reason: result.finishReason, logprobs: result.logprobs ?? null }],
        usage: usageJson(result.usage.promptTokens, result.usage.completionTokens), cocoon_receipt: receiptJson(receipt, price),
    }, { 'x-cocoon-receipt': receipt.boc.toString('base64') });
}

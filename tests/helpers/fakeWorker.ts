// A misbehaving worker for gateway tests: a small HTTPS server speaking the worker node's chat API
// (docs/HTTP-API.md), registered on the local network's root like a real node (attested TEE key and
// TLS key hash, stake, price, endpoint), whose receipts go wrong on purpose:
//   ok         honest cumulative receipts
//   badsig     signed by a key other than the attested one
//   rollback   the first answer honest, later ones start the totals over (cumulative total going down)
//   overprice  charged at `chargePrice` instead of the on-chain price (above the client's cap)
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import {
    CocoonOps, ClientEscrow, NO_QUOTE, keyFromSeed, publicKeyToBigInt, signStatement, signReceipt, signedReceiptCell, parseApiKey, asPrices, addTokens,
    type Ed25519Key, type ClassTokens,
} from '../../src/sdk';
import { tlsKeyHashOfCert } from '../../src/sdk/tls';
import { fastSelfSignedCert } from '../../src/demo/certs';
import { senderOf, type LocalNetwork } from '../../src/demo/localNetwork';
import { cumulativeCost } from '../../src/client';

export type FakeMode = 'ok' | 'badsig' | 'rollback' | 'overprice';

export interface FakeWorker {
    worker: Address;
    url: string;
    tee: Ed25519Key;
    state: { mode: FakeMode; requests: number; answered: number };
    close(): Promise<void>;
}

export async function startFakeWorker(net: LocalNetwork, name: string, o: { price: bigint; mode: FakeMode; chargePrice?: bigint }): Promise<FakeWorker> {
    const cert = fastSelfSignedCert(name);
    const tee = keyFromSeed(randomBytes(32));
    const impostor = keyFromSeed(randomBytes(32));
    const state = { mode: o.mode, requests: 0, answered: 0 };
    const totals = new Map<string, { seq: bigint; tokens: ClassTokens; cost: bigint }>();
    const none: ClassTokens = { promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n };

    const server = https.createServer({ key: cert.keyPem, cert: cert.certPem }, async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        state.requests++;
        const j = JSON.parse(body);
        const escrow = parseApiKey(String(req.headers.authorization)).escrow;
        const st = await net.chain.open(ClientEscrow.fromAddress(escrow)).getState();
        const usage = { prompt_tokens: 11, completion_tokens: 9, total_tokens: 20 };
        const n: ClassTokens = { promptTokens: 11n, cachedTokens: 0n, completionTokens: 9n };
        const k = escrow.toRawString();
        const prev = totals.get(k) ?? { seq: st.lastSeq, tokens: { ...none, completionTokens: st.lastTokens }, cost: st.lastCost };
        const before = state.mode === 'rollback' && state.answered > 0 ? { tokens: none, cost: 0n } : prev;
        const prices = asPrices(state.mode === 'overprice' ? (o.chargePrice ?? o.price * 3n) : o.price);
        const seq = prev.seq + 1n;
        const tokens = addTokens(before.tokens, n);
        // the pricing rule without the clamp to the caps: an honest worker within the caps is never clamped
        const cost = before.cost + (cumulativeCost(tokens, prices) - cumulativeCost(before.tokens, prices));
        const signed = signReceipt({ escrow, epoch: st.epoch, seq, ...tokens, cost }, state.mode === 'badsig' ? impostor : tee);
        totals.set(k, { seq, tokens, cost });
        state.answered++;
        const s = (v: bigint) => v.toString();
        const receipt = {
            escrow: escrow.toString(), epoch: st.epoch.toString(), seq: s(seq),
            promptTokens: s(tokens.promptTokens), cachedTokens: s(tokens.cachedTokens), completionTokens: s(tokens.completionTokens),
            tokens: s(tokens.promptTokens + tokens.cachedTokens + tokens.completionTokens), cost: s(cost),
            requestPromptTokens: s(n.promptTokens), requestCachedTokens: s(n.cachedTokens), requestCompletionTokens: s(n.completionTokens),
            requestTokens: s(n.promptTokens + n.cachedTokens + n.completionTokens), requestCost: s(cost - before.cost),
            prices: { prompt: s(prices.prompt), cached: s(prices.cached), completion: s(prices.completion) },
            signature: signed.signature.toString('hex'), boc: signedReceiptCell(signed).toBoc().toString('base64'),
        };
        const words = ['Answer', ' from', ' a', ' fake', ' worker'];
        const id = 'chatcmpl-fake';
        if (j.stream) {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: j.model, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
            for (const w of words) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: j.model, choices: [{ index: 0, delta: { content: w }, finish_reason: null }] })}\n\n`);
            res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: j.model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
            res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: j.model, choices: [], usage, cocoon_receipt: receipt })}\n\n`);
            res.end('data: [DONE]\n\n');
        } else {
            res.writeHead(200, { 'content-type': 'application/json', 'x-cocoon-receipt': receipt.boc });
            res.end(JSON.stringify({
                id, object: 'chat.completion', created: 1, model: j.model,
                choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }], usage, cocoon_receipt: receipt,
            }));
        }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const operator = await net.bc.treasury(name);
    const now = await net.chain.now();
    const statement = signStatement({
        root: net.root, operator: operator.address, expiresAt: now + 7 * 86400, issuedAt: now, teeKey: publicKeyToBigInt(tee.publicKey),
        measurement: net.measurement, tlsKeyHash: tlsKeyHashOfCert(cert.certPem), ...NO_QUOTE,
    }, net.verifier);
    const ops = new CocoonOps(net.chain, senderOf(operator), net.root);
    const reg = await ops.registerWorker(statement, net.params.minStake);
    await ops.setPrice(o.price);
    await ops.setEndpoint(url);
    return {
        worker: reg.worker, url, tee, state,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
    };
}

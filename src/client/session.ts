// A session with one worker: pinned TLS, chat and text completions (whole or streamed) and
// embeddings, every receipt checked.
import type { Address } from '@ton/core';
import { ClientEscrow, CocoonRoot, Worker, ESCROW_OPEN, ESCROW_CLOSING, mintApiKey, samePrices, type Chain, type Ed25519Key, type EscrowState, type PriceSet, type WorkerInfo } from '../sdk';
import { hex256 } from '../sdk/tls';
import { ClientError, isClientError } from './errors';
import { checkWorkerQuote, type QuoteCheckOptions } from './quoteCheck';
import type { Verdict } from '../verifier';
import { httpError, pinnedRequest, readBody, sseEvents, type HttpResult } from './http';
import { ReceiptBook, usageClassesOf, type UsageJson, type VerifiedReceipt, type WireReceipt } from './receipts';
import { PinnedAgent } from './tlsPin';
import { listingOf, type WorkerListing } from './workers';

export interface ChatMessageIn {
    role: 'system' | 'user' | 'assistant' | 'developer' | 'tool';
    content: string;
}

/** The OpenAI chat body the client sends (`stream` is set by the call). */
export interface ChatBody {
    model: string;
    messages: ChatMessageIn[];
    max_tokens?: number;
    temperature?: number;
    [k: string]: unknown;
}

export interface Usage extends UsageJson {
    completion_tokens: number;
}

/** OpenAI's text completion body (`/v1/completions`; `stream` is set by the call). */
export interface TextCompletionBody {
    model: string;
    prompt: string;
    max_tokens?: number;
    temperature?: number;
    [k: string]: unknown;
}

/** OpenAI's embeddings body. */
export interface EmbeddingsBody {
    model: string;
    input: string | string[];
    dimensions?: number;
    encoding_format?: 'float' | 'base64';
}

export interface EmbeddingsOutcome {
    embeddings: (number[] | string)[];
    usage: UsageJson;
    receipt: VerifiedReceipt;
    ms: number;
}

export interface ChatOutcome {
    content: string;
    finishReason: string | null;
    usage: Usage;
    receipt: VerifiedReceipt;
    /** Wall time of the request, ms. */
    ms: number;
    /** Whole answers: the worker's chat.completion as it came (tool calls, logprobs…), its receipt verified. */
    body?: Record<string, unknown>;
}

export interface ChatOptions {
    stream?: boolean;
    /** Called with each streamed piece of text. */
    onDelta?: (text: string) => void;
    /**
     * Streams: called with every chunk as the worker sent it, before the receipt is verified (the
     * last chunks carry `usage` and `cocoon_receipt`; whoever relays chunks holds those back until
     * chat() resolves, since only then is the receipt verified).
     */
    onChunk?: (chunk: Record<string, unknown>) => void;
    /** Called when the worker's answer begins (a 200 head): from then on the worker may bill the request. */
    onAnswer?: () => void;
    /** Aborts the request (the worker bills what it generated until then). */
    signal?: AbortSignal;
}

export interface AttestationView {
    root: string;
    operator: string;
    worker: string;
    model: string;
    measurement: string;
    teeKey: string;
    tlsKeyHash: string;
    expiresAt: number;
    attestationBoc: string;
    prices: { prompt: string; cached: string; completion: string };
    /** The models the node serves, with their capabilities. */
    models?: { id: string; capabilities: string[] }[];
    /** The TEE's own evidence (a TDX quote, base64), when the node has one. */
    evidence?: { kind: string; base64: string } | null;
}

/** API keys a session mints for itself last this long (s); a new one is minted when less than a tenth is left. */
export const SESSION_KEY_TTL_SEC = 3600;

export class WorkerSession {
    agent: PinnedAgent;
    readonly base: URL;
    private apiKey: { token: string; notAfter: number } | null = null;
    /** The TEE key whose quote this session checked itself (verifyQuote). */
    private quoteChecked: bigint | null = null;
    /** The prices read before the previous request (a node's cached prices may lag one change). */
    private lastPrices: PriceSet | null = null;

    constructor(
        public listing: WorkerListing,
        private readonly chain: Chain,
        readonly escrow: Address,
        private readonly book: ReceiptBook,
        private readonly timeoutMs = 120_000,
        /** Signs the session's API keys; the escrow holds its public half. */
        private readonly clientKey?: Ed25519Key,
        /** Check the node's TDX quote with the verifier's code before the first prompt to each TEE key. */
        private readonly quoteCheck?: QuoteCheckOptions,
    ) {
        this.agent = new PinnedAgent(listing.tlsKeyHash);
        this.base = new URL(listing.endpoint.endsWith('/') ? listing.endpoint : listing.endpoint + '/');
    }

    /** An API key for this session's escrow (minted with the client key, renewed before it expires). */
    async bearer(): Promise<string> {
        if (!this.clientKey) {
            throw new ClientError('CONFIG', 'this client has no client key to sign API keys with', 'pass clientKey to CocoonClient (loadClientKey() reads ~/.cocoon/client-key).');
        }
        const now = await this.chain.now();
        if (!this.apiKey || this.apiKey.notAfter - now < SESSION_KEY_TTL_SEC / 10) {
            const notAfter = now + SESSION_KEY_TTL_SEC;
            this.apiKey = { token: mintApiKey({ escrow: this.escrow, notAfter, limit: 0n }, this.clientKey), notAfter };
        }
        return this.apiKey.token;
    }

    /**
     * The worker re-attested (a node restart makes a new TEE key, and maybe a new TLS key): the new
     * keys are on-chain, so the session follows them, with a new pinned agent when the TLS key changed.
     */
    private follow(info: WorkerInfo): void {
        if (info.tlsKeyHash !== this.listing.tlsKeyHash) {
            this.agent.destroy();
            this.agent = new PinnedAgent(info.tlsKeyHash);
        }
        this.listing = { ...this.listing, teeKey: info.teeKey, tlsKeyHash: info.tlsKeyHash, expiresAt: Number(info.expiresAt), prices: info.prices };
    }

    /**
     * verifyQuote: the node's quote (from /attestation, over the pinned channel) checked with the
     * verifier's own code against the Worker contract's statement, before any prompt is sent.
     */
    async checkQuote(info?: WorkerInfo): Promise<Verdict> {
        if (!this.quoteCheck) throw new ClientError('CONFIG', 'this session was made without verifyQuote options', 'pass verifyQuote to CocoonClient.');
        const i = info ?? await this.chain.open(Worker.fromAddress(this.listing.worker)).getInfo();
        const view = await this.attestation();
        const root = this.chain.open(CocoonRoot.fromAddress(i.root));
        const v = await checkWorkerQuote({
            quote: view.evidence?.base64 ? Buffer.from(view.evidence.base64, 'base64') : null,
            root: i.root, operator: i.operator, info: i, now: await this.chain.now(),
            measurementAllowed: (m) => root.getIsMeasurementAllowed(m),
        }, this.quoteCheck);
        this.quoteChecked = i.teeKey;
        return v;
    }

    /** GET /attestation over the pinned channel; checks it says what the chain says. */
    async attestation(): Promise<AttestationView> {
        const r = await pinnedRequest(this.agent, new URL('attestation', this.base), 'GET', undefined, {}, this.timeoutMs);
        const text = await readBody(r.res);
        if (r.status !== 200) throw httpError(r.status, text);
        const a = JSON.parse(text) as AttestationView;
        const same = (x: string, y: bigint) => { try { return BigInt(x) === y; } catch { return false; } };
        if (!same(a.teeKey.startsWith('0x') ? a.teeKey : '0x' + a.teeKey, this.listing.teeKey) || !same(a.tlsKeyHash, this.listing.tlsKeyHash)) {
            throw new ClientError('WORKER_UNAVAILABLE', 'the node serves an attestation other than the one on-chain',
                'the operator has not re-attested its current keys; pick another worker or wait for it to re-attest.');
        }
        return a;
    }

    /** One chat completion; the receipt is verified and stored before this resolves. */
    chat(body: ChatBody, opts: ChatOptions = {}): Promise<ChatOutcome> {
        return this.book.exclusive(this.escrow, () => this.paid('v1/chat/completions', body, opts, 'chat'));
    }

    /** One text completion (/v1/completions); the receipt is verified and stored before this resolves. */
    complete(body: TextCompletionBody, opts: ChatOptions = {}): Promise<ChatOutcome> {
        return this.book.exclusive(this.escrow, () => this.paid('v1/completions', body, opts, 'text'));
    }

    /** Embeddings (/v1/embeddings), billed as prompt tokens; the receipt is verified and stored before this resolves. */
    embed(body: EmbeddingsBody): Promise<EmbeddingsOutcome> {
        return this.book.exclusive(this.escrow, async () => {
            let data: (number[] | string)[] = [];
            const out = await this.paid('v1/embeddings', body, { stream: false }, 'embeddings', (j) => {
                data = Array.isArray(j.data) ? j.data.map((d: { embedding: number[] | string }) => d.embedding) : [];
            });
            return { embeddings: data, usage: out.usage, receipt: out.receipt, ms: out.ms };
        });
    }

    private async paid(path: string, body: object, opts: ChatOptions, kind: 'chat' | 'text' | 'embeddings', onJson?: (j: any) => void): Promise<ChatOutcome> {
        const t0 = Date.now();
        // Chain facts the receipt must agree with, read fresh: key, price, escrow epoch and cap.
        const [info, st] = await Promise.all([
            this.chain.open(Worker.fromAddress(this.listing.worker)).getInfo(),
            this.chain.open(ClientEscrow.fromAddress(this.escrow)).getState().catch(() => null),
        ]);
        if (!st || (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING)) {
            throw new ClientError('ESCROW', `no open escrow with this worker at ${this.escrow.toString()}`, 'open one first (cocoon open-escrow).');
        }
        if (!info.active) throw new ClientError('WORKER_UNAVAILABLE', 'the worker is no longer active on-chain', 'pick another worker (cocoon workers).');
        if (info.teeKey !== this.listing.teeKey || info.tlsKeyHash !== this.listing.tlsKeyHash) this.follow(info);
        if (this.quoteCheck && this.quoteChecked !== info.teeKey) await this.checkQuote(info);
        const stream = opts.stream === true && kind !== 'embeddings';
        const req = kind === 'embeddings' ? body : { ...body, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) };
        const headers = { authorization: `Bearer ${await this.bearer()}` };
        const r = await pinnedRequest(this.agent, new URL(path, this.base), 'POST', req, headers, this.timeoutMs, opts.signal)
            .catch((e) => {
                // Refused before sending (pin, connect) bills nothing; a failure after sending may have.
                if (!(isClientError(e) && e.details.beforeSend === true)) this.book.markGap(this.escrow);
                throw e;
            });
        if (r.status !== 200) throw httpError(r.status, await readBody(r.res));
        opts.onAnswer?.();
        try {
            return await this.readAnswer(r, stream, opts, st, info, t0, kind, onJson);
        } catch (e) {
            if (!isClientError(e) || e.code === 'HTTP_ERROR' || e.code === 'WORKER_UNAVAILABLE') this.book.markGap(this.escrow);
            throw e;
        }
    }

    private async readAnswer(r: HttpResult, stream: boolean, opts: ChatOptions, st: EscrowState, info: WorkerInfo, t0: number, kind: 'chat' | 'text' | 'embeddings', onJson?: (j: any) => void): Promise<ChatOutcome> {
        let content = '';
        let finishReason: string | null = null;
        let usage: Usage | undefined;
        let wire: WireReceipt | undefined;
        let body: Record<string, unknown> | undefined;
        if (!stream) {
            const j = JSON.parse(await readBody(r.res));
            onJson?.(j);
            body = j;
            content = (kind === 'text' ? j.choices?.[0]?.text : j.choices?.[0]?.message?.content) ?? '';
            finishReason = j.choices?.[0]?.finish_reason ?? null;
            usage = j.usage;
            wire = j.cocoon_receipt;
            const header = r.headers['x-cocoon-receipt'];
            if (wire && typeof header === 'string' && header !== wire.boc) {
                throw new ClientError('BAD_RECEIPT', 'receipt rejected: the X-Cocoon-Receipt header differs from cocoon_receipt', 'stop using this worker and keep your last good receipt.');
            }
        } else {
            let done = false;
            for await (const data of sseEvents(r.res)) {
                if (data === '[DONE]') { done = true; break; }
                const chunk = JSON.parse(data);
                opts.onChunk?.(chunk);
                if (chunk.error) {
                    // The worker bills what it generated before failing: keep that receipt first.
                    if (wire && usage) await this.acceptReceipt(wire, usage, st, info);
                    throw httpError(502, data);
                }
                const choice = chunk.choices?.[0];
                const piece = kind === 'text' ? choice?.text : choice?.delta?.content;
                if (typeof piece === 'string' && piece.length > 0) {
                    content += piece;
                    opts.onDelta?.(piece);
                }
                if (choice?.finish_reason) finishReason = choice.finish_reason;
                if (chunk.usage) usage = chunk.usage;
                if (chunk.cocoon_receipt) wire = chunk.cocoon_receipt;
            }
            if (!done) throw new ClientError('WORKER_UNAVAILABLE', 'the stream ended before [DONE]', 'the answer was cut off; retry (you pay only what a receipt covers).');
        }
        if (!usage || typeof usage.total_tokens !== 'number') {
            throw new ClientError('BAD_RECEIPT', 'the answer shows no usage', 'the worker does not follow the Cocoon API; pick another worker.');
        }
        if (!wire) throw new ClientError('BAD_RECEIPT', 'the answer carries no cocoon_receipt', 'the worker does not follow the Cocoon API; pick another worker.');
        const receipt = await this.acceptReceipt(wire, usage, st, info);
        return { content, finishReason, usage: { ...usage, completion_tokens: usage.completion_tokens ?? 0 }, receipt, ms: Date.now() - t0, ...(body ? { body } : {}) };
    }

    /**
     * Verifies the receipt against the chain (docs/SIGNING.md): the key and prices read before the
     * request; the prices read after the answer and those before the previous request also count as
     * in force; when the worker's key changed since the previous receipt, the escrow is read again.
     */
    private async acceptReceipt(wire: WireReceipt, usage: UsageJson, st: EscrowState, info: WorkerInfo): Promise<VerifiedReceipt> {
        const others = this.lastPrices !== null ? [this.lastPrices] : [];
        this.lastPrices = info.prices;
        const named = namedPrices(wire);
        if (named !== null && !samePrices(named, info.prices) && !others.some((p) => samePrices(p, named))) {
            const after = await this.chain.open(Worker.fromAddress(this.listing.worker)).getInfo();
            others.push(after.prices);
        }
        const prev = this.book.latest(this.escrow);
        let escrowKey: bigint | undefined;
        if (prev && prev.epoch === st.epoch && prev.signer !== undefined && prev.signer !== info.teeKey) {
            escrowKey = (await this.chain.open(ClientEscrow.fromAddress(this.escrow)).getState()).teeKey;
        }
        return this.book.accept(wire, {
            escrow: this.escrow, epoch: st.epoch, teeKey: info.teeKey, prices: info.prices, otherPrices: others, caps: st.caps,
            usage: usageClassesOf(usage), escrowKey,
            settled: { seq: st.lastSeq, tokens: st.lastTokens, cost: st.lastCost },
        });
    }

    close(): void {
        this.agent.destroy();
    }

    describe(): string {
        return `${this.listing.worker.toString()} (${this.listing.endpoint}, tls ${hex256(this.listing.tlsKeyHash).slice(0, 18)}…)`;
    }
}

/** The prices a receipt says it was charged at, when it says (decimal strings per class). */
function namedPrices(w: WireReceipt | undefined): PriceSet | null {
    const p = w?.prices;
    const ok = (v: unknown): v is string => typeof v === 'string' && /^\d+$/.test(v);
    if (!p || !ok(p.prompt) || !ok(p.cached) || !ok(p.completion)) return null;
    return { prompt: BigInt(p.prompt), cached: BigInt(p.cached), completion: BigInt(p.completion) };
}

export { listingOf };

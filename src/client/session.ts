// A session with one worker: pinned TLS, chat requests (whole or streamed), receipts checked.
import type { Address } from '@ton/core';
import { ClientEscrow, Worker, ESCROW_OPEN, ESCROW_CLOSING, type Chain, type EscrowState, type WorkerInfo } from '../sdk';
import { hex256 } from '../sdk/tls';
import { ClientError, isClientError } from './errors';
import { httpError, pinnedRequest, readBody, sseEvents, type HttpResult } from './http';
import { ReceiptBook, type VerifiedReceipt, type WireReceipt } from './receipts';
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

export interface Usage {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
}

export interface ChatOutcome {
    content: string;
    finishReason: string | null;
    usage: Usage;
    receipt: VerifiedReceipt;
    /** Wall time of the request, ms. */
    ms: number;
}

export interface ChatOptions {
    stream?: boolean;
    /** Called with each streamed piece of text. */
    onDelta?: (text: string) => void;
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
    price: string;
}

export class WorkerSession {
    readonly agent: PinnedAgent;
    readonly base: URL;

    constructor(
        readonly listing: WorkerListing,
        private readonly chain: Chain,
        readonly escrow: Address,
        private readonly book: ReceiptBook,
        private readonly timeoutMs = 120_000,
    ) {
        this.agent = new PinnedAgent(listing.tlsKeyHash);
        this.base = new URL(listing.endpoint.endsWith('/') ? listing.endpoint : listing.endpoint + '/');
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
        return this.book.exclusive(this.escrow, () => this.chatNow(body, opts));
    }

    private async chatNow(body: ChatBody, opts: ChatOptions): Promise<ChatOutcome> {
        const t0 = Date.now();
        // Chain facts the receipt must agree with, read fresh: key, price, escrow epoch and cap.
        const [info, st] = await Promise.all([
            this.chain.open(Worker.fromAddress(this.listing.worker)).getInfo(),
            this.chain.open(ClientEscrow.fromAddress(this.escrow)).getState().catch(() => null),
        ]);
        if (!st || (st.state !== ESCROW_OPEN && st.state !== ESCROW_CLOSING)) {
            throw new ClientError('ESCROW', `no open escrow with this worker at ${this.escrow.toString()}`, 'open one first (cocoon open-escrow).');
        }
        if (info.teeKey !== this.listing.teeKey || info.tlsKeyHash !== this.listing.tlsKeyHash) {
            throw new ClientError('WORKER_UNAVAILABLE', 'the worker re-attested with new keys since this session started', 'list workers again and start a new session.');
        }
        if (!info.active) throw new ClientError('WORKER_UNAVAILABLE', 'the worker is no longer active on-chain', 'pick another worker (cocoon workers).');
        const stream = opts.stream === true;
        const req = { ...body, stream, ...(stream ? { stream_options: { include_usage: true } } : {}) };
        const r = await pinnedRequest(this.agent, new URL('v1/chat/completions', this.base), 'POST', req, { 'x-cocoon-escrow': this.escrow.toString() }, this.timeoutMs)
            .catch((e) => {
                // Refused before sending (pin, connect) bills nothing; a failure after sending may have.
                if (!(isClientError(e) && e.details.beforeSend === true)) this.book.markGap(this.escrow);
                throw e;
            });
        if (r.status !== 200) throw httpError(r.status, await readBody(r.res));
        try {
            return await this.readAnswer(r, stream, opts, st, info, t0);
        } catch (e) {
            if (!isClientError(e) || e.code === 'HTTP_ERROR' || e.code === 'WORKER_UNAVAILABLE') this.book.markGap(this.escrow);
            throw e;
        }
    }

    private async readAnswer(r: HttpResult, stream: boolean, opts: ChatOptions, st: EscrowState, info: WorkerInfo, t0: number): Promise<ChatOutcome> {
        let content = '';
        let finishReason: string | null = null;
        let usage: Usage | undefined;
        let wire: WireReceipt | undefined;
        if (!stream) {
            const j = JSON.parse(await readBody(r.res));
            content = j.choices?.[0]?.message?.content ?? '';
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
                if (chunk.error) {
                    // The worker bills what it generated before failing: keep that receipt first.
                    if (wire && usage) this.acceptReceipt(wire, usage, st, info);
                    throw httpError(502, data);
                }
                const choice = chunk.choices?.[0];
                const piece = choice?.delta?.content;
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
        const receipt = this.acceptReceipt(wire, usage, st, info);
        return { content, finishReason, usage, receipt, ms: Date.now() - t0 };
    }

    private acceptReceipt(wire: WireReceipt, usage: Usage, st: EscrowState, info: WorkerInfo): VerifiedReceipt {
        return this.book.accept(wire, {
            escrow: this.escrow, epoch: st.epoch, teeKey: info.teeKey, price: info.price, maxPrice: st.maxPrice,
            usageTokens: BigInt(usage.total_tokens),
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

export { listingOf };

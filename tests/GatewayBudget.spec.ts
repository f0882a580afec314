// Escrows on a budget: none before the first request (opened lazily, one per worker picked), the
// sum of on-chain deposits never above the budget (an open that would pass it is refused and the
// request told so), top-ups for a request's worst case, escrows closed after their idle time on the
// sandbox clock, and their refund back in the wallet after the dispute window.
import OpenAI, { APIError } from 'openai';
import { toNano } from '@ton/core';
import { ClientEscrow, escrowAddress } from '../src/sdk';
import { DEMO_MODEL, type LocalNetwork } from '../src/demo/localNetwork';
import { startNetwork, gatewayOn, type GatewayFixture } from './helpers/gateway';

jest.setTimeout(120_000);

const BUDGET = toNano('1');
const PER_WORKER = toNano('0.4');

describe('gateway escrow budget', () => {
    let net: LocalNetwork;
    let f: GatewayFixture;
    let ai: OpenAI;
    const seen: bigint[] = [];

    /** The sum of the on-chain deposits of the gateway wallet's escrows with every worker, read from the chain. */
    const onChain = async () => {
        let sum = 0n;
        for (const n of net.nodes) {
            const e = await escrowAddress(n.worker, f.wallet.address);
            const st = await net.chain.open(ClientEscrow.fromAddress(e)).getState().catch(() => null);
            if (st) sum += st.deposit;
        }
        return sum;
    };
    const ask = (content: string, maxTokens = 32) => ai.chat.completions.create({ model: DEMO_MODEL, messages: [{ role: 'user', content }], max_tokens: maxTokens }).withResponse();

    beforeAll(async () => {
        net = await startNetwork(3);
        f = await gatewayOn(net, { budget: BUDGET, perWorkerDeposit: PER_WORKER, maxQueuePerWorker: 1, idleCloseSec: 600, topUpBelow: 0.25 });
        ai = f.openai();
        const prev = f.gw.budget.onAction;
        f.gw.budget.onAction = (a) => {
            prev?.(a);
            seen.push(f.gw.budget.deposited());
        };
    });

    afterAll(async () => {
        await f?.close();
        await net?.stop();
    });

    it('opens escrows lazily, one per worker picked, and never deposits more than the budget', async () => {
        expect(await onChain()).toBe(0n);
        expect((await f.gw.status()).escrows).toEqual([]);

        const r1 = await ask('one');
        expect(r1.response.headers.get('x-cocoon-worker')).toBe(net.nodes[0].worker.toString());
        expect(await onChain()).toBe(PER_WORKER);

        // while worker 1's escrow is busy (its queue of one is full), the next worker gets an escrow of its own
        const [k1, k2] = net.nodes.map((n) => n.worker.toRawString());
        f.gw.stats.enqueue(k1);
        const r2 = await ask('two').finally(() => f.gw.stats.dequeue(k1));
        expect(r2.response.headers.get('x-cocoon-worker')).toBe(net.nodes[1].worker.toString());
        expect(await onChain()).toBe(2n * PER_WORKER);

        // with both busy, a third escrow would put 1.2 TON on deposit, above the 1 TON budget: refused, nothing sent
        f.gw.stats.enqueue(k1);
        f.gw.stats.enqueue(k2);
        const refused = await ask('three').then(() => null, (e) => e as APIError).finally(() => {
            f.gw.stats.dequeue(k1);
            f.gw.stats.dequeue(k2);
        });
        expect([refused?.status, refused?.code]).toEqual([503, 'budget_exhausted']);
        expect(refused!.message).toMatch(/budget/);
        expect(await onChain()).toBe(2n * PER_WORKER);
        expect(await net.chain.open(ClientEscrow.fromAddress(await escrowAddress(net.nodes[2].worker, f.wallet.address))).getState().catch(() => null)).toBeNull();
        // and once they are free, the same request is served from the escrows there are
        const r3 = await ask('three again');
        expect(r3.response.headers.get('x-cocoon-worker')).toBe(net.nodes[0].worker.toString());

        // a request whose worst case (5000 tokens at 100 TON per 1M: 0.5 TON) exceeds the escrow's credit: topped up within the budget first
        const big = await ask('a long answer, please', 5000);
        expect(big.data.choices[0].message.content!.length).toBeGreaterThan(0);
        const st = await f.gw.status();
        const topUps = st.actions.filter((a) => a.action === 'topUp');
        expect(topUps).toHaveLength(1);
        expect(topUps[0].ok).toBe(true);
        const total = await onChain();
        expect(total).toBeGreaterThan(2n * PER_WORKER);
        expect(total).toBeLessThanOrEqual(BUDGET);
        // one more that would need more room than the budget has: refused, nothing sent on-chain
        const tooBig = await ask('longer still', 9000).then(() => null, (e) => e as APIError);
        expect([tooBig?.status, tooBig?.code]).toEqual([503, 'budget_exhausted']);

        expect(seen.length).toBeGreaterThanOrEqual(3);
        for (const d of seen) expect(d).toBeLessThanOrEqual(BUDGET);
        expect(BigInt(st.budget.deposited)).toBe(total);
        expect(await onChain()).toBeLessThanOrEqual(BUDGET);
    });

    it('closes escrows idle for idleCloseSec (sandbox clock) and withdraws them after the dispute window; the refund reaches the wallet', async () => {
        const escrows = (await f.gw.status()).escrows;
        expect(escrows.map((e) => e.state)).toEqual(['open', 'open']);
        // not idle long enough yet
        net.bc.now = net.bc.now! + 300;
        await f.gw.tick();
        expect((await f.gw.status()).escrows.map((e) => e.state)).toEqual(['open', 'open']);
        // the workers claim what the gateway's receipts say (the refund is the deposit less that)
        net.bc.now = net.bc.now! + 301;
        await f.gw.tick();
        const closing = await f.gw.status();
        expect(closing.escrows.map((e) => e.state)).toEqual(['closing', 'closing']);
        expect(closing.actions.filter((a) => a.action === 'close' && a.ok)).toHaveLength(2);
        expect(closing.pendingWithdrawals).toHaveLength(2);
        for (const n of net.nodes) await n.runClaims();
        const spent = closing.escrows.reduce((s, e) => s + BigInt(e.spent), 0n);
        expect(spent).toBeGreaterThan(0n);
        const deposits = await onChain();

        // inside the dispute window: no withdrawal
        await f.gw.tick();
        expect((await f.gw.status()).withdrawn).toEqual([]);

        const before = (await net.bc.getContract(f.wallet.address)).balance;
        net.bc.now = net.bc.now! + Number(net.params.disputeWindow) + 1;
        await f.gw.tick();
        const after = (await net.bc.getContract(f.wallet.address)).balance;
        const done = await f.gw.status();
        expect(done.withdrawn).toHaveLength(2);
        const refunded = done.withdrawn.reduce((s, w) => s + BigInt(w.amount), 0n);
        // the claims took what the receipts said; the rest came back
        expect(refunded).toBe(deposits);
        expect(refunded + spent).toBe(closing.escrows.reduce((s, e) => s + BigInt(e.deposit), 0n));
        // the wallet got the refund, give or take the two withdrawals' gas and the escrows' storage reserves (well under 0.1 TON)
        expect(after - before).toBeGreaterThan(refunded - toNano('0.1'));
        expect(after - before).toBeLessThan(refunded + toNano('0.1'));
        expect(await onChain()).toBe(0n);
        expect(done.escrows).toEqual([]);
        expect(done.totals.receiptsHeld).toBe(0);
        expect(done.actions.filter((a) => a.action === 'withdraw' && a.ok)).toHaveLength(2);
        // and a new request opens a new escrow again
        const again = await ask('after the withdrawal');
        expect(again.data.choices[0].message.content!.length).toBeGreaterThan(0);
        expect(await onChain()).toBe(PER_WORKER);
    });
});

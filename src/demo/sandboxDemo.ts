// The whole network in one process on the embedded @ton/sandbox: governance, three worker nodes on
// loopback with the development backend, a client that chats through them with pinned TLS and
// verified receipts, settlement, rewards, escrow close and withdrawal after the dispute window, and
// a summary that ends with a value-conservation check over every wallet and contract.
import { Address, toNano } from '@ton/core';
import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox';
import { randomBytes } from 'node:crypto';
import { CocoonOps, escrowAddress, keyFromSeed, publicKeyToBigInt, mintApiKey, cumulativeCost, BPS, type RewardState, type EscrowState, type PriceSet } from '../sdk';
import type { ClaimOutcome } from '../worker';
import { CocoonClient, sandboxEventSource, pinnedRequest, readBody, type WorkerSession, type ChatOutcome } from '../client';
import { SandboxAccounting } from './accounting';
import { startLocalNetwork, senderOf, DEMO_MODEL, type LocalNetwork } from './localNetwork';
import { Checks, renderSummary, type PartyRow, type WorkerRow } from './report';

export { DEMO_MODEL };

export interface SandboxDemoOptions {
    workers: number;
    requestsPerWorker: number;
    /** Per escrow, nanoton. */
    deposit: bigint;
    /** Worker prices, nanoton per 1M tokens of each class (one number: every class; cycled if fewer than workers). */
    prices: (bigint | PriceSet)[];
    stake: bigint;
    /** Completion tokens of each development-backend answer. */
    completionTokens: number;
    /** FundRewards amount, nanoton. */
    fund: bigint;
    /** Where progress lines and the summary go. */
    print: (line: string) => void;
    /** Streamed answer text (default: not shown). */
    onDelta?: (workerIndex: number, text: string) => void;
    /** Leave the local network (chain, worker nodes) running and return it in `network` (keep-running mode). */
    keepNetwork?: boolean;
}

export interface DemoResult {
    ok: boolean;
    checks: { name: string; ok: boolean; detail: string }[];
    requests: number;
    tokens: bigint;
    timings: Record<string, number>;
    summary: string;
    /** With keepNetwork: the network, still running; the caller stops it. */
    network?: LocalNetwork;
}

// One system prompt for every request: after the first request the development backend serves it
// from its prompt cache, so the receipts bill cached prompt tokens at the cached price.
const SYSTEM = 'You are a concise assistant for a confidential inference network on TON. Answer in plain words, without lists or headings, and keep every answer short.';

const PROMPTS = [
    'Explain in one paragraph how a payment channel works.',
    'Write a haiku about confidential computing.',
    'What is a Merkle proof? Keep it short.',
    'List three uses of remote attestation.',
    'Summarise the TON blockchain in two sentences.',
    'Translate "trust but verify" into French.',
];


export async function runSandboxDemo(o: SandboxDemoOptions): Promise<DemoResult> {
    const t0 = Date.now();
    const timings: Record<string, number> = {};
    let mark = t0;
    const phase = (name: string) => {
        const now = Date.now();
        timings[name] = now - mark;
        mark = now;
    };
    const checks = new Checks();
    const say = o.print;

    const bc = await Blockchain.create();
    bc.now = Math.floor(Date.now() / 1000);
    const acct = new SandboxAccounting(bc);
    let net: LocalNetwork | null = null;
    let client: CocoonClient | null = null;
    try {
        // ------------------------------------------------------------ governance and worker nodes
        net = await startLocalNetwork({
            blockchain: bc, accounting: acct, workers: o.workers, prices: o.prices, stake: o.stake,
            completionTokens: o.completionTokens, print: say, extraWallets: ['client', 'funder'],
        });
        const { chain, params, root, owner, operators, nodes, prices } = net;
        const clientW = net.wallets.client;
        const funder = net.wallets.funder;
        const gov = new CocoonOps(chain, senderOf(owner), root);
        phase('network');

        // ------------------------------------------------------------ client: discover, open escrows
        // the client's key: its escrows hold the public half, it signs the client's API keys (each
        // session mints its own and sends it as Authorization: Bearer)
        const clientKey = keyFromSeed(randomBytes(32));
        client = new CocoonClient({ chain, root, wallet: senderOf(clientW), events: sandboxEventSource(bc, root), requestTimeoutMs: 20_000, clientKey });
        const listed = await client.listWorkers({ model: DEMO_MODEL });
        checks.add('client lists every active worker from the WorkerAttested events', listed.workers.length === o.workers,
            `${listed.workers.length} listed, ${listed.skipped.length} skipped`);
        const byWorker = new Map(listed.workers.map((l) => [l.worker.toRawString(), l]));
        const sessions: WorkerSession[] = [];
        for (const n of nodes) {
            const l = byWorker.get(n.worker.toRawString());
            if (!l) throw new Error(`worker ${n.worker.toString()} is not listed`);
            checks.add(`worker ${sessions.length + 1} listing matches its node (endpoint, TLS key)`, l.endpoint === n.url && l.tlsKeyHash === n.tlsKeyHash, l.endpoint);
            await acct.measure('open escrow', () => client!.escrows.open(l.worker, o.deposit, params.maxPrice, publicKeyToBigInt(clientKey.publicKey)));
            const s = await client.session(l);
            const att = await s.attestation();
            checks.add(`worker ${sessions.length + 1} /attestation over pinned TLS agrees with the chain`, BigInt(att.tlsKeyHash) === n.tlsKeyHash, att.worker);
            sessions.push(s);
        }
        const shown = await client.apiKey(nodes[0].worker, { ttlSec: 7 * 86400, limit: toNano('1') });
        say(`API key for worker 1 (what \`cocoon api-key --worker … --ttl 7d --limit 1\` prints; any OpenAI client takes it with baseURL ${nodes[0].url}/v1): ${shown.token.slice(0, 24)}…`);
        phase('escrows');

        // ------------------------------------------------------------ a stranger who knows the escrow address
        // The client's escrow address is public (it derives from the worker and the client). A
        // stranger signs an API key for it with its own key: the node refuses it, bills nothing.
        {
            const victim = await escrowAddress(nodes[0].worker, clientW.address);
            const forged = mintApiKey({ escrow: victim, notAfter: (bc.now ?? 0) + 3600, limit: 0n }, keyFromSeed(randomBytes(32)));
            const before = nodes[0].ledger.receipts(victim, (await client.escrows.view(nodes[0].worker)).state!.epoch).length;
            const r = await pinnedRequest(sessions[0].agent, new URL('v1/chat/completions', sessions[0].base), 'POST',
                { model: DEMO_MODEL, messages: [{ role: 'user', content: 'bill this to someone else' }], max_tokens: 8 },
                { authorization: `Bearer ${forged}`, 'x-cocoon-escrow': victim.toString() }, 10_000);
            const body = JSON.parse(await readBody(r.res));
            const after = nodes[0].ledger.receipts(victim, (await client.escrows.view(nodes[0].worker)).state!.epoch).length;
            checks.add('a stranger with the escrow address and an API key it signed itself is refused (401 invalid_api_key), nothing billed',
                r.status === 401 && body?.error?.code === 'invalid_api_key' && after === before, `${r.status} ${body?.error?.code}: ${String(body?.error?.message ?? '').slice(0, 60)}…`);
        }

        // ------------------------------------------------------------ chat
        const outcomes: ChatOutcome[][] = sessions.map(() => []);
        let failures = 0;
        await Promise.all(sessions.map(async (s, i) => {
            for (let k = 0; k < o.requestsPerWorker; k++) {
                const stream = k % 2 === 1;
                const prompt = PROMPTS[(i + k) % PROMPTS.length];
                try {
                    const out = await s.chat({ model: DEMO_MODEL, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: prompt }], max_tokens: o.completionTokens * 2 }, {
                        stream, onDelta: o.onDelta ? (d) => o.onDelta!(i, d) : undefined,
                    });
                    outcomes[i].push(out);
                    const q = out.receipt.request;
                    say(`  worker ${i + 1} ${stream ? 'stream' : 'whole '} #${k + 1}: ${q.promptTokens} prompt + ${q.cachedTokens} cached + ${q.completionTokens} completion tokens, receipt seq ${out.receipt.seq}, cost ${fmt(out.receipt.requestCost)} TON, ${out.ms} ms: "${out.content.slice(0, 40).trim()}…"`);
                } catch (e) {
                    failures++;
                    say(`  worker ${i + 1} request #${k + 1} FAILED: ${(e as Error).message}`);
                }
            }
        }));
        const requests = outcomes.reduce((n, x) => n + x.length, 0);
        checks.add('every chat request succeeded with a verified receipt', failures === 0 && requests === o.workers * o.requestsPerWorker, `${requests} ok, ${failures} failed`);
        phase('chat');

        // ------------------------------------------------------------ settlement
        const escrows = await Promise.all(nodes.map((n) => escrowAddress(n.worker, clientW.address)));
        const claimOutcomes: ClaimOutcome[][] = [];
        for (const n of nodes) claimOutcomes.push(await acct.measure('claim (node)', () => n.runClaims()));
        const settled: EscrowState[] = [];
        for (let i = 0; i < nodes.length; i++) {
            const st = (await client.escrows.view(nodes[i].worker)).state!;
            const latest = client.receipts.latest(escrows[i])!;
            settled.push(st);
            checks.add(`worker ${i + 1}: the node's claim settled the client's latest receipt`,
                claimOutcomes[i].every((c) => c.ok) && st.lastSeq === latest.seq && st.paid === latest.cost && st.lastTokens === latest.tokens,
                `seq ${st.lastSeq}/${latest.seq}, paid ${fmt(st.paid)} TON`);
            // one price set per worker in this run: what the escrow paid is each class's total at its price, to the nanoton
            const expected = cumulativeCost(latest, prices[i]);
            checks.add(`worker ${i + 1}: paid = sum over classes of floor(tokens x price / 1e6), exact to the nanoton`, st.paid === expected,
                `${latest.promptTokens} prompt, ${latest.cachedTokens} cached, ${latest.completionTokens} completion: ${fmt(expected)} TON`);
        }
        // The nodes share one development backend: the first request it serves sees the system prompt
        // for the first time, every later one has it cached (whichever worker it went to).
        const served = outcomes.flat();
        const withCached = served.filter((x) => x.receipt.request.cachedTokens > 0n).length;
        const cachedOnReceipts = nodes.reduce((n, _, i) => n + (client!.receipts.latest(escrows[i])?.cachedTokens ?? 0n), 0n);
        const cachedOnRequests = served.reduce((n, x) => n + x.receipt.request.cachedTokens, 0n);
        checks.add('cached prompt tokens were billed as their own class (the shared system prompt, cached after the first request)',
            served.length > 0 && withCached === served.length - 1 && cachedOnReceipts === cachedOnRequests,
            `${withCached} of ${served.length} requests billed cached tokens, ${cachedOnReceipts} cached tokens on the receipts`);
        phase('claims');

        // ------------------------------------------------------------ close and withdraw after the dispute window
        for (const n of nodes) await acct.measure('close escrow', () => client!.escrows.close(n.worker));
        const early = await client.escrows.withdraw(nodes[0].worker).then(() => null, (e) => e as Error);
        checks.add('withdrawal inside the dispute window is refused off-chain with a time to wait', early !== null && /dispute window/.test(early.message), early?.message.split(' — ')[0] ?? 'no error');
        bc.now = bc.now! + Number(params.disputeWindow) + 1;
        say(`sandbox clock moved ${params.disputeWindow} s ahead (dispute window)`);
        const rewardsBeforeFlush = await gov.root.getRewardState();
        const refunds: bigint[] = [];
        for (let i = 0; i < nodes.length; i++) {
            refunds.push(await acct.measure('withdraw escrow', () => client!.escrows.withdraw(nodes[i].worker)));
            checks.add(`worker ${i + 1}: refund is the deposit minus what was paid`, refunds[i] === o.deposit - settled[i].paid, `${fmt(refunds[i])} TON back`);
        }
        const rewardsAfterFlush = await gov.root.getRewardState();
        const feesFlushed = settled.reduce((s, st) => s + st.feesOwed, 0n);
        const stakerShare = settled.reduce((s, st) => s + (st.feesOwed * params.stakerShareBps) / BPS, 0n);
        checks.add('protocol fees reached the root: staker share to the pool, the rest to the treasury',
            rewardsAfterFlush.rewardPool - rewardsBeforeFlush.rewardPool === stakerShare && rewardsAfterFlush.treasury - rewardsBeforeFlush.treasury === feesFlushed - stakerShare,
            `${fmt(feesFlushed)} TON in fees: ${fmt(stakerShare)} to stakers, ${fmt(feesFlushed - stakerShare)} to the treasury`);
        phase('close');

        // ------------------------------------------------------------ rewards and treasury
        await acct.measure('fund rewards', () => new CocoonOps(chain, senderOf(funder), root).fundRewards(o.fund));
        const poolBefore = (await gov.root.getRewardState()).rewardPool;
        const rewards: bigint[] = [];
        for (const op of operators) {
            rewards.push((await acct.measure('claim rewards', () => new CocoonOps(chain, senderOf(op), root).claimRewards())).amount);
        }
        const poolAfter = (await gov.root.getRewardState()).rewardPool;
        const claimedRewards = rewards.reduce((s, r) => s + r, 0n);
        checks.add('staking rewards paid out match the pool decrease, with at most rounding dust left',
            poolBefore - poolAfter === claimedRewards && poolAfter >= 0n && poolAfter <= BigInt(o.workers) + 1n,
            `${fmt(claimedRewards)} TON paid, ${poolAfter} nanoton left in the pool`);
        const treasury: RewardState = await gov.root.getRewardState();
        if (treasury.treasury > 0n) await acct.measure('withdraw treasury', () => gov.withdrawTreasury(treasury.treasury));
        checks.add('the owner withdrew the whole treasury', (await gov.root.getRewardState()).treasury === 0n, `${fmt(treasury.treasury)} TON`);
        phase('rewards');

        // ------------------------------------------------------------ accounting
        const workerRows: WorkerRow[] = nodes.map((n, i) => {
            const outs = outcomes[i];
            const paid = settled[i].paid;
            const fee = settled[i].feesOwed;
            const latest = client!.receipts.latest(escrows[i])!;
            return {
                name: `worker ${i + 1}`, prices: prices[i], requests: outs.length, streamed: outs.filter((_, k) => k % 2 === 1).length,
                tokens: outs.reduce((s, x) => s + BigInt(x.usage.total_tokens), 0n),
                classes: { promptTokens: latest.promptTokens, cachedTokens: latest.cachedTokens, completionTokens: latest.completionTokens }, clientPaid: paid, protocolFee: fee,
                operatorGot: paid - fee, rewards: rewards[i], refund: refunds[i],
            };
        });
        const tokensTotal = workerRows.reduce((s, w) => s + w.tokens, 0n);
        const costSum = outcomes.flat().reduce((s, x) => s + x.receipt.requestCost, 0n);
        const paidSum = workerRows.reduce((s, w) => s + w.clientPaid, 0n);
        checks.add('the sum of per-request costs equals what the escrows paid', costSum === paidSum, `${fmt(costSum)} TON`);

        const parties: PartyRow[] = [];
        const bal = async (a: Address) => (await bc.getContract(a)).balance;
        const initialOf = async (t: SandboxContract<TreasuryContract>, name: string) => parties.push({ name, address: t.address, before: acct.initialBalance(t.address), after: await bal(t.address) });
        await initialOf(owner, 'owner (treasury)');
        for (let i = 0; i < operators.length; i++) await initialOf(operators[i], `operator ${i + 1}`);
        await initialOf(clientW, 'client');
        await initialOf(funder, 'reward funder');
        parties.push({ name: 'root contract', address: root, before: 0n, after: await bal(root) });
        for (let i = 0; i < nodes.length; i++) parties.push({ name: `worker ${i + 1} contract`, address: nodes[i].worker, before: 0n, after: await bal(nodes[i].worker) });
        for (let i = 0; i < escrows.length; i++) parties.push({ name: `escrow ${i + 1}`, address: escrows[i], before: 0n, after: await bal(escrows[i]) });

        const cons = await acct.conservation();
        checks.add('value conservation: wallets at start = all balances now + all fees', cons.diff === 0n,
            `${fmt(cons.before)} = ${fmt(cons.after)} + ${fmt(cons.fees)} fees over ${cons.accounts} accounts (diff ${cons.diff} nanoton)`);
        const escrowsGone = (await Promise.all(escrows.map(bal))).every((b) => b === 0n);
        checks.add('every escrow was destroyed after its withdrawal', escrowsGone, '');
        const clientDelta = parties.find((p) => p.name === 'client')!;
        const clientGas = clientDelta.before - clientDelta.after - paidSum;
        checks.add("the client's wallet lost what it was charged plus its own gas (< 0.2 TON)", clientGas > 0n && clientGas < toNano('0.2'), `gas ${fmt(clientGas)} TON`);
        phase('accounting');

        const summary = renderSummary({ workers: workerRows, parties, ops: [...acct.ops.values()], conservation: cons, checks: checks.list });
        const kept = o.keepNetwork ? net : undefined;
        net = kept ? null : net;
        return { ok: checks.allOk(), checks: checks.list, requests, tokens: tokensTotal, timings, summary, network: kept };
    } finally {
        client?.close();
        await net?.stop();
        timings.total = Date.now() - t0;
    }
}

function fmt(n: bigint): string {
    const neg = n < 0n;
    const a = neg ? -n : n;
    const s = `${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
    return (neg ? '-' : '') + s;
}

export { fmt as formatNano };

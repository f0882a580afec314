// `npx ts-node --transpile-only bench/gateway.ts [requests]`: the latency the gateway adds. On one
// sandbox network (three nodes, development backend answering at once), the same requests, one at a
// time, whole and streamed:
//   direct   the client library's pinned session to the cheapest worker (API key, TLS pin, receipt
//            verified and stored: what `cocoon chat` does)
//   gateway  the stock openai client to the gateway, which does the same plus the policy, the
//            budget check and the relay
// Both verify every receipt; the difference is the gateway's own cost (HTTP hop, body parse,
// selection, escrow lane, relay). Prints p50 / p90 in ms.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import OpenAI from 'openai';
import { toNano } from '@ton/core';
import { keyFromSeed, publicKeyToBigInt } from '../src/sdk';
import { CocoonClient, sandboxEventSource } from '../src/client';
import { startLocalNetwork, senderOf, DEMO_MODEL } from '../src/demo/localNetwork';
import { startGateway } from '../src/gateway';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
    const n = Number(process.argv[2] ?? 100);
    const net = await startLocalNetwork({ workers: 3, prices: [toNano('100'), toNano('150'), toNano('200')], stake: toNano('100'), completionTokens: 24, extraWallets: ['direct', 'gateway'] });
    const stateDir = mkdtempSync(join(tmpdir(), 'cocoon-gateway-bench-'));
    const gw = await startGateway({ port: 0, budget: toNano('10'), perWorkerDeposit: toNano('5'), maxPrice: toNano('250'), stateDir, logLevel: 'silent', refreshSec: 3600, tickSec: 3600 },
        { chain: net.chain, root: net.root, wallet: senderOf(net.wallets.gateway), events: sandboxEventSource(net.bc, net.root), clientKey: keyFromSeed(randomBytes(32)) });
    const ck = keyFromSeed(randomBytes(32));
    const client = new CocoonClient({ chain: net.chain, root: net.root, wallet: senderOf(net.wallets.direct), events: sandboxEventSource(net.bc, net.root), clientKey: ck });
    try {
        const w = net.nodes[0].worker;
        await client.escrows.open(w, toNano('5'), toNano('250'), publicKeyToBigInt(ck.publicKey));
        const session = await client.session(w);
        const ai = new OpenAI({ baseURL: gw.url + '/v1', apiKey: 'x', maxRetries: 0 });
        const body = (i: number) => ({ model: DEMO_MODEL, messages: [{ role: 'user' as const, content: `question ${i}` }], max_tokens: 24 });
        const runs: Record<string, number[]> = { 'direct whole': [], 'gateway whole': [], 'direct stream': [], 'gateway stream': [] };
        const time = async (k: string, f: () => Promise<unknown>) => {
            const t = performance.now();
            await f();
            runs[k].push(performance.now() - t);
        };
        // warm up both paths (escrow opening, TLS, JIT)
        for (let i = 0; i < 5; i++) {
            await session.chat(body(i));
            await ai.chat.completions.create(body(i));
        }
        for (let i = 0; i < n; i++) {
            await time('direct whole', () => session.chat(body(i)));
            await time('gateway whole', () => ai.chat.completions.create(body(i)));
            await time('direct stream', () => session.chat(body(i), { stream: true }));
            await time('gateway stream', async () => {
                const s = await ai.chat.completions.create({ ...body(i), stream: true });
                for await (const _ of s) { /* drain */ }
            });
        }
        for (const [k, xs] of Object.entries(runs)) console.log(`${k.padEnd(15)} p50 ${pct(xs, 50).toFixed(1)} ms  p90 ${pct(xs, 90).toFixed(1)} ms  (${xs.length})`);
        for (const kind of ['whole', 'stream']) {
            console.log(`gateway adds (${kind}): p50 ${(pct(runs[`gateway ${kind}`], 50) - pct(runs[`direct ${kind}`], 50)).toFixed(1)} ms, p90 ${(pct(runs[`gateway ${kind}`], 90) - pct(runs[`direct ${kind}`], 90)).toFixed(1)} ms`);
        }
    } finally {
        client.close();
        await gw.stop();
        await net.stop();
        rmSync(stateDir, { recursive: true, force: true });
    }
}

main().then(() => process.exit(0), (e) => {
    console.error(e);
    process.exit(1);
});

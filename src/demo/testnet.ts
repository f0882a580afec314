// The same worker node and client against testnet (not exercised by the tests: it spends real
// testnet TON and needs a root whose owner trusts the development verifier key).
//
// Needs in the environment:
//   COCOON_OPERATOR_MNEMONIC   24 words, v4R2 wallet of the operator (stake + gas, receives payouts)
//   COCOON_CLIENT_MNEMONIC     24 words, v4R2 wallet of the client (deposit + gas)
//   COCOON_DEV_VERIFIER_SEED   64 hex digits: the development verifier key the root trusts
//   COCOON_TONCENTER_API_KEY   optional
// and --root <address>, --measurement <0x…> (whitelisted at the root for --model).
import { mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { CocoonOps, CocoonRoot, Worker, escrowAddress, keyFromSeed, ESCROW_OPEN, ESCROW_CLOSING, asPrices, samePrices, type PriceSet } from '../sdk';
import { DevBackend } from '../backend';
import { startWorkerNode, DevAttestationProvider, type WorkerNodeHandle } from '../worker';
import { CocoonClient, ClientError, loadClientKey, connectRemote, parseAddressArg, remoteEventSource, type ChatOutcome } from '../client';
import { fastSelfSignedCert } from './certs';
import { Checks, ton } from './report';
import type { DemoResult } from './sandboxDemo';

export interface TestnetDemoOptions {
    print: (line: string) => void;
    root?: string;
    toncenter?: string;
    measurement?: string;
    model?: string;
    requestsPerWorker?: number;
    deposit?: bigint;
    /** Price to set, nanoton per 1M tokens (default: the root's maxPrice / 10). */
    /** The worker's prices per class (one number: every class); default a tenth of maxPrice for prompt, a fortieth for cached, three tenths for completion. */
    price?: bigint | PriceSet;
    /** Wait this long at most for the dispute window before withdrawing (default 0: print how to withdraw later). */
    waitDisputeSec?: number;
    completionTokens?: number;
}

export async function runTestnetDemo(o: TestnetDemoOptions): Promise<DemoResult> {
    const t0 = Date.now();
    const say = o.print;
    const checks = new Checks();
    const root = parseAddressArg('--root', o.root ?? process.env.COCOON_ROOT);
    if (!o.measurement || !/^0x[0-9a-fA-F]{1,64}$/.test(o.measurement)) throw new ClientError('CONFIG', '--measurement is required on testnet', 'pass --measurement 0x… (a measurement the root whitelists for --model).');
    const measurement = BigInt(o.measurement);
    const seedHex = process.env.COCOON_DEV_VERIFIER_SEED;
    if (!seedHex || !/^[0-9a-fA-F]{64}$/.test(seedHex)) throw new ClientError('CONFIG', 'COCOON_DEV_VERIFIER_SEED is not set', 'export it (64 hex digits): the development verifier key the root owner added with AddVerifierKey.');
    const common = { network: 'testnet' as const, endpoint: o.toncenter, apiKey: process.env.COCOON_TONCENTER_API_KEY };
    const op = await connectRemote({ ...common, mnemonic: process.env.COCOON_OPERATOR_MNEMONIC, mnemonicEnv: 'COCOON_OPERATOR_MNEMONIC' });
    const cl = await connectRemote({ ...common, mnemonic: process.env.COCOON_CLIENT_MNEMONIC, mnemonicEnv: 'COCOON_CLIENT_MNEMONIC' });
    const chain = op.chain;
    const rootC = chain.open(CocoonRoot.fromAddress(root));
    const params = await rootC.getParams();
    const model = o.model ?? (await rootC.getModelOf(measurement));
    if (!model) throw new ClientError('CONFIG', `measurement ${o.measurement} is not whitelisted at ${root.toString()}`, 'ask the root owner to AddMeasurement it, or pass another --measurement.');
    const balance = async (c: typeof op) => (await op.client.getBalance(c.wallet.address));
    const before = { operator: await balance(op), client: await balance(cl) };

    const dir = join(homedir(), '.cocoon');
    mkdirSync(dir, { recursive: true });
    const backend = await DevBackend.start({ model, tokens: o.completionTokens ?? 32, delayMs: 0 });
    let node: WorkerNodeHandle | null = null;
    let client: CocoonClient | null = null;
    const timings: Record<string, number> = {};
    try {
        node = await startWorkerNode({
            model, host: '127.0.0.1', port: 0, backend: { url: backend.url, model }, root: root.toString(), operator: op.wallet.address.toString(),
            measurement: o.measurement, dbPath: join(dir, `demo-testnet-${op.wallet.address.toRawString().slice(2, 14)}.sqlite`),
            claim: { threshold: '1', intervalMs: 3_600_000 }, logLevel: 'warn',
        }, {
            // the node makes a fresh TEE key at every start (and re-registers with it if the Worker exists)
            chain, operatorSender: op.wallet,
            attestationProvider: new DevAttestationProvider(keyFromSeed(Buffer.from(seedHex, 'hex'))), tls: fastSelfSignedCert('cocoon-testnet-demo'),
        });
        const ops = new CocoonOps(chain, op.wallet, root);
        const worker = node.worker;
        const info = await ops.workerInfo(worker);
        const stake = info && info.stake >= params.minStake ? 0n : params.minStake - (info?.stake ?? 0n);
        if (node.registration !== 'registered' || stake > 0n) {
            say(`registering worker ${worker.toString()} (stake +${ton(stake)} TON); this takes a few blocks`);
            await ops.registerWorker(node.attestation, stake);
        }
        const price = asPrices(o.price ?? { prompt: params.maxPrice / 10n, cached: params.maxPrice / 40n, completion: (params.maxPrice * 3n) / 10n });
        if (!samePrices((await chain.open(Worker.fromAddress(worker)).getInfo()).prices, price)) await ops.setPrice(price);
        await ops.setEndpoint(node.url);
        node.refresh();
        timings.worker = Date.now() - t0;

        client = new CocoonClient({ chain: cl.chain, root, wallet: cl.wallet, events: remoteEventSource(cl.client, root, 200) });
        const listing = await client.listing(worker);
        const escrow = await escrowAddress(worker, cl.wallet.address);
        const view = await client.escrows.view(worker);
        if (view.state?.state !== ESCROW_OPEN) {
            say(`opening escrow ${escrow.toString()}`);
            await client.escrows.open(worker, o.deposit ?? toNano('0.5'), price, loadClientKey({ create: true }).publicKey);
        }
        const session = await client.session(listing);
        const outs: ChatOutcome[] = [];
        for (let k = 0; k < (o.requestsPerWorker ?? 4); k++) {
            const out = await session.chat({ model, messages: [{ role: 'user', content: `Testnet request ${k + 1}` }], max_tokens: 64 }, { stream: k % 2 === 1 });
            outs.push(out);
            say(`  request ${k + 1}: ${out.usage.total_tokens} tokens, receipt seq ${out.receipt.seq}, ${ton(out.receipt.requestCost)} TON`);
        }
        checks.add('every chat request succeeded with a verified receipt', outs.length === (o.requestsPerWorker ?? 4));
        const claims = await node.runClaims();
        const st = (await client.escrows.view(worker)).state!;
        const latest = client.receipts.latest(escrow)!;
        checks.add("the node's claim settled the client's latest receipt", claims.every((c) => c.ok) && st.lastSeq === latest.seq && st.paid === latest.cost, `seq ${st.lastSeq}`);
        const closed = await client.escrows.close(worker);
        checks.add('the escrow is closing', closed.state === ESCROW_CLOSING);
        const wait = Number(closed.closeAt) - Math.floor(Date.now() / 1000);
        if (wait <= (o.waitDisputeSec ?? 0)) {
            say(`waiting ${wait} s for the dispute window`);
            await new Promise((r) => setTimeout(r, Math.max(0, wait + 5) * 1000));
            const back = await client.escrows.withdraw(worker);
            checks.add('refund is the deposit minus what was paid', back === st.deposit, `${ton(back)} TON`);
        } else {
            say(`the dispute window ends in ${wait} s: run \`cocoon withdraw --network testnet --root ${root.toString()} --worker ${worker.toString()}\` after that`);
        }
        const after = { operator: await balance(op), client: await balance(cl) };
        const summary = [
            `operator ${op.wallet.address.toString({ testOnly: true })}: ${ton(before.operator)} -> ${ton(after.operator)} TON`,
            `client   ${cl.wallet.address.toString({ testOnly: true })}: ${ton(before.client)} -> ${ton(after.client)} TON`,
            ...checks.list.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`),
        ].join('\n');
        timings.total = Date.now() - t0;
        return {
            ok: checks.allOk(), checks: checks.list, requests: outs.length, tokens: outs.reduce((s, x) => s + BigInt(x.usage.total_tokens), 0n), timings, summary,
        };
    } finally {
        client?.close();
        await node?.stop().catch(() => undefined);
        await backend.stop().catch(() => undefined);
    }
}

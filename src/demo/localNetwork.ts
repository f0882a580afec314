// A complete Cocoon network inside one process on the embedded @ton/sandbox: a root with one
// whitelisted measurement and a development verifier key, worker nodes on loopback in front of the
// development backend, each registered, priced and published on-chain. The demo and the CLI's
// `--network sandbox` both start it.
import { Address, type Sender } from '@ton/core';
import { Blockchain, type SandboxContract, type TreasuryContract } from '@ton/sandbox';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CocoonOps, SandboxChain, asPrices, defaultParams, keyFromSeed, maxPriceOf, publicKeyToBigInt, type Ed25519Key, type Params, type PriceSet } from '../sdk';
import { hex256 } from '../sdk/tls';
import { DevBackend } from '../backend';
import { startWorkerNode, DevAttestationProvider, type WorkerNodeHandle } from '../worker';
import { fastSelfSignedCert } from './certs';
import type { SandboxAccounting } from './accounting';

export const DEMO_MODEL = 'llama-3-8b-instruct';

/**
 * The demo workers' prices (nanoton per 1M tokens of each class), as hosted APIs price: completion
 * three times the prompt, cached prompt a quarter of it: worker 1 50 / 12.5 / 150 TON (sandbox money);
 * workers 2 and 3 charge 1.5 and 2 times that.
 */
export const DEMO_PRICES: PriceSet[] = [2n, 3n, 4n].map((k) => (k * 12_500_000_000n) / 2n).map((unit) => ({
    prompt: unit * 4n, cached: unit, completion: unit * 12n,
}));

export type Wallet = SandboxContract<TreasuryContract>;
export type WalletSender = Sender & { address: Address };

export const senderOf = (t: Wallet): WalletSender => t.getSender() as WalletSender;

const seed = (label: string) => createHash('sha256').update('cocoon-demo:' + label).digest();

export interface LocalNetworkOptions {
    workers: number;
    /** nanoton per 1M tokens (one number: every class), cycled over the workers */
    prices: (bigint | PriceSet)[];
    stake: bigint;
    completionTokens: number;
    print?: (line: string) => void;
    /** Charges each setup operation's transactions to a label (the demo's gas table). */
    accounting?: SandboxAccounting;
    /** Extra wallets to create (funded by the sandbox) before anything happens. */
    extraWallets?: string[];
    /** The sandbox to use (default: a new one). */
    blockchain?: Blockchain;
    /** The development backend reports cached prompt tokens for repeated leading messages (default true). */
    promptCache?: boolean;
    /** The development backend's decode step, ms per token (default 0: answers at once). */
    backendDelayMs?: number;
}

export interface LocalNetwork {
    bc: Blockchain;
    chain: SandboxChain;
    params: Params;
    root: Address;
    measurement: bigint;
    owner: Wallet;
    operators: Wallet[];
    wallets: Record<string, Wallet>;
    nodes: WorkerNodeHandle[];
    prices: PriceSet[];
    backend: DevBackend;
    /** The development verifier key the root trusts (tests register workers of their own with it). */
    verifier: Ed25519Key;
    /** Stops every node and the backend, removes the nodes' ledgers. */
    stop(): Promise<void>;
}

export async function startLocalNetwork(o: LocalNetworkOptions): Promise<LocalNetwork> {
    const say = o.print ?? (() => undefined);
    const bc = o.blockchain ?? (await Blockchain.create());
    bc.now ??= Math.floor(Date.now() / 1000);
    const chain = new SandboxChain(bc);
    const owner = await bc.treasury('owner');
    const operators: Wallet[] = [];
    for (let i = 0; i < o.workers; i++) operators.push(await bc.treasury(`operator-${i + 1}`));
    const wallets: Record<string, Wallet> = {};
    for (const name of o.extraWallets ?? []) wallets[name] = await bc.treasury(name);
    await o.accounting?.begin([owner, ...operators, ...Object.values(wallets)].map((t) => t.address));
    const measure = <T>(label: string, fn: () => Promise<T>) => (o.accounting ? o.accounting.measure(label, fn) : fn());

    const nodes: WorkerNodeHandle[] = [];
    const dirs: string[] = [];
    let backend: DevBackend | null = null;
    const stop = async () => {
        await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
        await backend?.stop().catch(() => undefined);
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
    };
    try {
        const params: Params = defaultParams({ maxPrice: o.prices.map((p) => maxPriceOf(asPrices(p))).reduce((m, p) => (p > m ? p : m), 0n) * 2n });
        const measurement = BigInt('0x' + createHash('sha256').update('cocoon-worker-image:v1|' + DEMO_MODEL).digest('hex'));
        const verifier = keyFromSeed(seed('verifier'));
        // the first measurement and verifier key are in the root's genesis; later additions are timelocked
        const { root } = await measure('deploy root', () => new CocoonOps(chain, senderOf(owner)).deployRoot({
            networkId: 1, params, measurements: [[measurement, DEMO_MODEL]], verifierKeys: [publicKeyToBigInt(verifier.publicKey)],
        }));
        say(`root ${root.toString()} deployed; measurement ${hex256(measurement).slice(0, 18)}… whitelisted for ${DEMO_MODEL}`);

        backend = await DevBackend.start({ model: DEMO_MODEL, tokens: o.completionTokens, delayMs: o.backendDelayMs ?? 0, promptCache: o.promptCache ?? true });
        const prices: PriceSet[] = [];
        for (let i = 0; i < o.workers; i++) {
            const op = operators[i];
            const dir = mkdtempSync(join(tmpdir(), 'cocoon-demo-'));
            dirs.push(dir);
            const node = await startWorkerNode({
                model: DEMO_MODEL, host: '127.0.0.1', port: 0,
                backend: { url: backend.url, model: DEMO_MODEL },
                root: root.toString(), operator: op.address.toString(), measurement: hex256(measurement),
                dbPath: join(dir, 'ledger.sqlite'), escrowCacheMs: 0, workerCacheMs: 0,
                // claims are run explicitly (runClaims), never by the timer, so the sandbox sees one sender at a time
                claim: { threshold: '1', intervalMs: 3_600_000 }, logLevel: 'silent',
            }, {
                chain, operatorSender: senderOf(op),
                attestationProvider: new DevAttestationProvider(verifier), tls: fastSelfSignedCert(`worker-${i + 1}`),
            });
            nodes.push(node);
            const ops = new CocoonOps(chain, senderOf(op), root);
            const a = asPrices(o.prices[i % o.prices.length]);
            const price: PriceSet = { prompt: a.prompt, cached: a.cached, completion: a.completion };
            prices.push(price);
            await measure('register worker', () => ops.registerWorker(node.attestation, o.stake));
            await measure('set price', () => ops.setPrice(price));
            await measure('set endpoint', () => ops.setEndpoint(node.url));
            node.refresh();
            say(`worker ${i + 1}: node ${node.url}, tlsKeyHash ${hex256(node.tlsKeyHash).slice(0, 18)}…, prices per 1M tokens: prompt ${ton(price.prompt)}, cached ${ton(price.cached)}, completion ${ton(price.completion)} TON`);
        }
        return { bc, chain, params, root, measurement, owner, operators, wallets, nodes, prices, backend, verifier, stop };
    } catch (e) {
        await stop();
        throw e;
    }
}

function ton(n: bigint): string {
    return `${n / 1_000_000_000n}.${(n % 1_000_000_000n).toString().padStart(9, '0')}`;
}

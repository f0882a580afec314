// A sandbox network (three worker nodes on loopback, development backend) with the gateway in
// front of it, for the Gateway*.spec tests. The gateway's wallet is a sandbox treasury; its state
// directory and client key are temporary.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { toNano } from '@ton/core';
import { keyFromSeed, type Ed25519Key } from '../../src/sdk';
import { sandboxEventSource } from '../../src/client';
import { startLocalNetwork, senderOf, type LocalNetwork, type Wallet } from '../../src/demo/localNetwork';
import { startGateway, createGatewayLogger, type GatewayConfigInput, type GatewayHandle } from '../../src/gateway';

export const PRICES = [toNano('100'), toNano('150'), toNano('200')];

export interface GatewayFixture {
    net: LocalNetwork;
    wallet: Wallet;
    clientKey: Ed25519Key;
    stateDir: string;
    logs: string[];
    gw: GatewayHandle;
    openai(): OpenAI;
    /** Restart the gateway (same wallet, key and state directory) with other options. */
    restart(over?: Partial<GatewayConfigInput>): Promise<GatewayHandle>;
    close(): Promise<void>;
}

/** Three worker nodes on loopback; `backendDelayMs` paces each answer (24 tokens) so concurrent requests overlap. */
export async function startNetwork(workers = 3, backendDelayMs = 0): Promise<LocalNetwork> {
    return startLocalNetwork({ workers, prices: PRICES, stake: toNano('100'), completionTokens: 24, extraWallets: ['gateway'], backendDelayMs });
}

export function gatewayConfig(stateDir: string, over: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
    return {
        port: 0, budget: toNano('10'), perWorkerDeposit: toNano('2'), maxPrice: toNano('250'), stateDir,
        refreshSec: 3600, tickSec: 3600, cooldownSec: 60, logLevel: 'info', ...over,
    };
}

export async function gatewayOn(net: LocalNetwork, over: Partial<GatewayConfigInput> = {}): Promise<GatewayFixture> {
    const wallet = net.wallets.gateway;
    const clientKey = keyFromSeed(randomBytes(32));
    const stateDir = mkdtempSync(join(tmpdir(), 'cocoon-gateway-test-'));
    const logs: string[] = [];
    const logger = () => createGatewayLogger('info', { write: (s: string) => { logs.push(s); } });
    const start = (o: Partial<GatewayConfigInput>) => startGateway(gatewayConfig(stateDir, o), {
        chain: net.chain, root: net.root, wallet: senderOf(wallet), events: sandboxEventSource(net.bc, net.root), clientKey, logger: logger(),
    });
    const f: GatewayFixture = {
        net, wallet, clientKey, stateDir, logs, gw: await start(over),
        openai: () => new OpenAI({ baseURL: f.gw.url + '/v1', apiKey: 'unused', maxRetries: 0, timeout: 60_000 }),
        restart: async (o = {}) => {
            await f.gw.stop();
            f.gw = await start({ ...over, ...o });
            return f.gw;
        },
        close: async () => {
            await f.gw.stop();
            rmSync(stateDir, { recursive: true, force: true });
        },
    };
    return f;
}

// The gateway in front of a local sandbox network (`npm start -- --gateway-port N`, tests): a
// sandbox treasury as the wallet, a fresh client key, a temporary state directory, the root's
// maxPrice as the cap. What it returns are keep-running services (src/demo/serve.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toNano } from '@ton/core';
import { keyFromSeed } from '../sdk';
import { sandboxEventSource } from '../client';
import { senderOf, type LocalNetwork } from '../demo/localNetwork';
import type { Service } from '../demo/serve';
import type { GatewayConfigInput } from './config';
import { startGateway, type GatewayHandle } from './gateway';

export async function startSandboxGateway(net: LocalNetwork, over: Partial<GatewayConfigInput> = {}): Promise<{ gateway: GatewayHandle; services: Service[] }> {
    const wallet = net.wallets.gateway ?? (await net.bc.treasury('gateway'));
    const stateDir = mkdtempSync(join(tmpdir(), 'cocoon-gateway-'));
    try {
        const gateway = await startGateway({
            budget: toNano('10'), perWorkerDeposit: toNano('2'), maxPrice: net.params.maxPrice, stateDir, logLevel: 'warn', ...over,
        }, { chain: net.chain, root: net.root, wallet: senderOf(wallet), events: sandboxEventSource(net.bc, net.root), clientKey: keyFromSeed(randomBytes(32)), network: 'sandbox' });
        return {
            gateway,
            services: [
                { name: 'gateway state directory', stop: async () => rmSync(stateDir, { recursive: true, force: true }) },
                { name: 'gateway', stop: gateway.stop },
            ],
        };
    } catch (e) {
        rmSync(stateDir, { recursive: true, force: true });
        throw e;
    }
}

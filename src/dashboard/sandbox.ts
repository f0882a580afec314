// The dashboard over a local sandbox network (npm start --dashboard-port, cocoon dashboard --network
// sandbox): the chain from the sandbox, the development wallet over the network's treasury wallets,
// the sandbox clock moving with the wall clock.
import type { Address } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import { sandboxClock, type Service } from '../demo/serve';
import { SandboxSource } from './source';
import { DevWallet } from './devWallet';
import { startDashboard, type DashboardHandle } from './server';

export interface SandboxDashboardOptions {
    bc: Blockchain;
    root: Address;
    /** Treasury wallet names the development wallet offers (the client first). */
    accounts: string[];
    host?: string;
    port?: number;
    publicUrl?: string;
    log?: (line: string) => void;
}

/** Starts the dashboard; `services` (clock, then server) go to keepRunning after the network itself. */
export async function startSandboxDashboard(o: SandboxDashboardOptions): Promise<{ dashboard: DashboardHandle; services: Service[] }> {
    const clock = sandboxClock(o.bc);
    try {
        const devWallet = await DevWallet.create(o.bc, o.accounts);
        const dashboard = await startDashboard({
            source: new SandboxSource(o.bc, o.root), devWallet, advanceClock: (s) => clock.advance(s),
            host: o.host, port: o.port, publicUrl: o.publicUrl, log: o.log,
        });
        return { dashboard, services: [clock, { name: `dashboard ${dashboard.url}`, stop: dashboard.stop }] };
    } catch (e) {
        await clock.stop();
        throw e;
    }
}

/** The development wallet's accounts for a local network: the client, then each operator. */
export function sandboxAccounts(operators: number, client = 'client'): string[] {
    return [client, ...Array.from({ length: operators }, (_, i) => `operator-${i + 1}`)];
}

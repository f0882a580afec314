// Keep-running mode: after the demo (or a command that starts servers), keep the local network, its
// worker nodes and every server up until SIGINT/SIGTERM, then stop them all, newest first. Each
// server registers itself as a Service; the dashboard does, and a gateway can in the same way:
//
//   const services: Service[] = [{ name: 'local network', stop: net.stop }, sandboxClock(net.bc)];
//   services.push({ name: 'dashboard', stop: dashboard.stop });
//   await keepRunning(services, { print });
import type { Blockchain } from '@ton/sandbox';

export interface Service {
    name: string;
    stop(): Promise<void>;
}

export interface StopReport {
    name: string;
    ok: boolean;
    ms: number;
    error?: string;
}

/** Stops `services` newest first, each given `timeoutMs` at most; never throws. */
export async function stopAll(services: Service[], timeoutMs = 10_000): Promise<StopReport[]> {
    const out: StopReport[] = [];
    for (const s of [...services].reverse()) {
        const t0 = Date.now();
        let timer: NodeJS.Timeout | undefined;
        try {
            await Promise.race([
                s.stop(),
                new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`did not stop within ${timeoutMs} ms`)), timeoutMs); }),
            ]);
            out.push({ name: s.name, ok: true, ms: Date.now() - t0 });
        } catch (e) {
            out.push({ name: s.name, ok: false, ms: Date.now() - t0, error: (e as Error).message });
        } finally {
            clearTimeout(timer);
        }
    }
    return out;
}

export interface KeepRunningOptions {
    print?: (line: string) => void;
    /** Stop when this settles instead of (or before) a signal; tests use it. */
    until?: Promise<unknown>;
    /** Signals that stop everything (default SIGINT and SIGTERM). A second one exits at once. */
    signals?: NodeJS.Signals[];
    stopTimeoutMs?: number;
}

/** Waits for a signal (or `until`), then stops every service; returns what stopped it and how each stop went. */
export async function keepRunning(services: Service[], o: KeepRunningOptions = {}): Promise<{ reason: string; stopped: StopReport[] }> {
    const print = o.print ?? ((l: string) => console.log(l));
    const signals = o.signals ?? ['SIGINT', 'SIGTERM'];
    const handlers: [NodeJS.Signals, () => void][] = [];
    let stopping = false;
    const reason = await new Promise<string>((resolve) => {
        for (const sig of signals) {
            const h = () => {
                if (stopping) {
                    print(`${sig} again: exiting without waiting`);
                    process.exit(130);
                }
                stopping = true;
                resolve(sig);
            };
            handlers.push([sig, h]);
            process.on(sig, h);
        }
        o.until?.then(() => { stopping = true; resolve('done'); }, () => { stopping = true; resolve('done'); });
    });
    print(`stopping (${reason}): ${[...services].reverse().map((s) => s.name).join(', ')}`);
    const stopped = await stopAll(services, o.stopTimeoutMs);
    for (const s of stopped) print(`  ${s.ok ? 'stopped' : 'FAILED to stop'} ${s.name} (${s.ms} ms)${s.error ? ': ' + s.error : ''}`);
    for (const [sig, h] of handlers) process.off(sig, h);
    return { reason, stopped };
}

/**
 * The sandbox's clock, which stands still unless moved: while the network keeps running it advances
 * with the wall clock (so leases and dispute windows count down), and `advance` jumps it ahead.
 */
export function sandboxClock(bc: Blockchain, tickMs = 1000): Service & { advance(seconds: number): number } {
    let last = Date.now();
    bc.now ??= Math.floor(last / 1000);
    let carry = 0;
    const tick = () => {
        const t = Date.now();
        carry += t - last;
        last = t;
        const whole = Math.floor(carry / 1000);
        if (whole > 0) {
            bc.now = bc.now! + whole;
            carry -= whole * 1000;
        }
    };
    const timer = setInterval(tick, tickMs);
    timer.unref();
    return {
        name: 'sandbox clock',
        advance(seconds: number) {
            tick();
            bc.now = bc.now! + seconds;
            return bc.now;
        },
        async stop() {
            clearInterval(timer);
        },
    };
}

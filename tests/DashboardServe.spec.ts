// Keep-running mode (src/demo/serve.ts): services stop newest first, a failing or hanging stop is
// reported without keeping the others running, and the sandbox clock follows the wall clock.
import { Blockchain } from '@ton/sandbox';
import { keepRunning, sandboxClock, stopAll, type Service } from '../src/demo/serve';

const svc = (name: string, log: string[], behave: 'ok' | 'fail' | 'hang' = 'ok'): Service => ({
    name,
    stop: async () => {
        log.push(name);
        if (behave === 'fail') throw new Error(`${name} broke`);
        if (behave === 'hang') await new Promise(() => undefined);
    },
});

describe('keep-running mode', () => {
    it('stops every service newest first when `until` settles, and reports each', async () => {
        const log: string[] = [];
        const lines: string[] = [];
        let release!: () => void;
        const until = new Promise<void>((r) => (release = r));
        const running = keepRunning([svc('network', log), svc('clock', log), svc('dashboard', log)], { print: (l) => lines.push(l), until });
        await new Promise((r) => setTimeout(r, 20));
        expect(log).toEqual([]); // still running
        release();
        const r = await running;
        expect(r.reason).toBe('done');
        expect(log).toEqual(['dashboard', 'clock', 'network']);
        expect(r.stopped.map((s) => [s.name, s.ok])).toEqual([['dashboard', true], ['clock', true], ['network', true]]);
        expect(lines[0]).toBe('stopping (done): dashboard, clock, network');
    });

    it('stops on SIGTERM and removes its signal handlers afterwards', async () => {
        const log: string[] = [];
        const before = process.listenerCount('SIGTERM');
        const running = keepRunning([svc('a', log), svc('b', log)], { print: () => undefined, signals: ['SIGTERM'] });
        expect(process.listenerCount('SIGTERM')).toBe(before + 1);
        process.emit('SIGTERM', 'SIGTERM');
        const r = await running;
        expect(r.reason).toBe('SIGTERM');
        expect(log).toEqual(['b', 'a']);
        expect(process.listenerCount('SIGTERM')).toBe(before);
    });

    it('a failing or hanging service is reported and the rest still stop', async () => {
        const log: string[] = [];
        const r = await stopAll([svc('network', log), svc('hangs', log, 'hang'), svc('fails', log, 'fail')], 100);
        expect(log).toEqual(['fails', 'hangs', 'network']);
        expect(r).toEqual([
            { name: 'fails', ok: false, ms: expect.any(Number), error: 'fails broke' },
            { name: 'hangs', ok: false, ms: expect.any(Number), error: 'did not stop within 100 ms' },
            { name: 'network', ok: true, ms: expect.any(Number) },
        ]);
        expect(r[1].ms).toBeGreaterThanOrEqual(95);
    });

    it('the sandbox clock advances with the wall clock and jumps on advance()', async () => {
        const bc = await Blockchain.create();
        bc.now = 1_000_000;
        const clock = sandboxClock(bc, 50);
        await new Promise((r) => setTimeout(r, 1150));
        expect(bc.now).toBeGreaterThanOrEqual(1_000_001);
        expect(bc.now).toBeLessThanOrEqual(1_000_002);
        const t = bc.now!;
        expect(clock.advance(86_400)).toBeGreaterThanOrEqual(t + 86_400);
        await clock.stop();
        const stopped = bc.now!;
        await new Promise((r) => setTimeout(r, 1100));
        expect(bc.now).toBe(stopped);
    });
});

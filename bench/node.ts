// `npm run bench:node`: throughput and added latency of the worker node in front of the development
// backend, against the same load straight at the backend (bench/nodeLib.ts). Writes bench/node.json
// and bench/NODE.md.
//
//   npm run bench:node -- --requests 2000 --concurrency 64 --no-stream --label "after group commit"
//   BENCH_REQUESTS=500 npm run bench:node
//
// --label keeps a one-line summary of this run in the history of bench/node.json (and NODE.md);
// without it the history is carried over unchanged. --no-write prints only. --cpu-prof FILE writes
// a V8 CPU profile of the worker node's thread over its measured phases (open it in Chrome DevTools).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runNodeBench, renderNodeMd, historyEntry, type HistoryEntry, type NodeBenchOptions } from './nodeLib';

const JSON_PATH = join(__dirname, 'node.json');
const MD_PATH = join(__dirname, 'NODE.md');

function flag(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = process.argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
}

function int(name: string, env: string): number | undefined {
    const raw = flag(name) ?? process.env[env];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} / ${env} must be a non-negative integer, got ${raw}`);
    return n;
}

async function main() {
    const opts: NodeBenchOptions = {
        requests: int('requests', 'BENCH_REQUESTS'),
        concurrency: int('concurrency', 'BENCH_CONCURRENCY'),
        warmup: int('warmup', 'BENCH_WARMUP'),
        rounds: int('rounds', 'BENCH_ROUNDS'),
        escrows: int('escrows', 'BENCH_ESCROWS'),
        tokens: int('tokens', 'BENCH_TOKENS'),
        delayMs: int('delay-ms', 'BENCH_DELAY_MS'),
        stream: !process.argv.includes('--no-stream'),
        ledgerDir: flag('ledger-dir') ?? process.env.BENCH_LEDGER_DIR,
        logLevel: (flag('log-level') as NodeBenchOptions['logLevel']) ?? 'info',
        cpuProfile: flag('cpu-prof') ?? process.env.BENCH_CPU_PROFILE,
        probeRequests: int('probe', 'BENCH_PROBE'),
        print: (l) => console.log(l),
    };
    const label = flag('label');
    const r = await runNodeBench(opts);

    console.log('');
    console.log(`non-stream: node ${r.nodeRps} req/s vs backend ${r.backendRps} req/s -> ratio ${r.ratio} (target >= ${r.target.ratio}: ${r.meetsTarget.ratio ? 'met' : 'NOT met'})`);
    console.log(`            added latency p50 ${r.addedP50Ms} ms (target < ${r.target.addedP50Ms} ms: ${r.meetsTarget.addedP50Ms ? 'met' : 'NOT met'}), p99 ${r.addedP99Ms} ms; fsync floor ${r.fsyncP50Ms} ms`);
    if (r.modes.stream) {
        const s = r.modes.stream;
        console.log(`stream:     node ${s.node.rps} req/s vs backend ${s.backend.rps} req/s -> ratio ${s.ratio}; added p50 ${s.addedP50Ms} ms, p99 ${s.addedP99Ms} ms`);
    }
    if (r.probe) console.log(`probe:      ${r.probe.concurrency} in flight: added p50 ${r.probe.addedP50Ms} ms, p99 ${r.probe.addedP99Ms} ms`);
    const c = r.checks;
    console.log(`checks: ${c.nodeOk}/${c.nodeRequests} ok, ${c.receiptsVerified}/${c.receiptsReturned} receipts verified, ${c.ledgerReceipts} in the ledger, consecutive ${c.ledgerSeqsConsecutive}, all returned in ledger ${c.allReceiptsInLedger}`);

    const failed = c.nodeOk !== c.nodeRequests || c.receiptsVerified !== c.nodeOk || c.ledgerReceipts !== c.nodeOk || !c.ledgerSeqsConsecutive || !c.allReceiptsInLedger;
    if (process.argv.includes('--no-write')) {
        if (failed) process.exitCode = 1;
        return;
    }
    let history: HistoryEntry[] = [];
    if (existsSync(JSON_PATH)) {
        try {
            history = JSON.parse(readFileSync(JSON_PATH, 'utf8')).history ?? [];
        } catch {
            history = [];
        }
    }
    if (label) history.push(historyEntry(label, r));
    writeFileSync(JSON_PATH, JSON.stringify({ ...r, history }, null, 2) + '\n');
    writeFileSync(MD_PATH, renderNodeMd(r, history));
    console.log(`\nWrote ${JSON_PATH} and ${MD_PATH}`);
    if (failed) {
        console.error('Some node requests failed or some receipts did not check out (see above).');
        process.exitCode = 1;
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
});

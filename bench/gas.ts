// `npm run bench`: measures the gas of every contract operation and writes bench/gas.json and
// bench/GAS.md. `npm run bench -- --check`: compares with the committed bench/gas.json instead and
// exits 1 when an operation's gas rose by more than 2% or is missing from the file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureGas, toGasJson, renderGasMd, compareGas, opsOf, explainTx, instructionsOf, TARGETS } from './lib';
import { renderClaimProfile } from './claimProfile';

const JSON_PATH = join(__dirname, 'gas.json');
const MD_PATH = join(__dirname, 'GAS.md');
const CLAIM_PROFILE_PATH = join(__dirname, 'PROFILE-CLAIM.md');

function compilerVersion(): string {
    try {
        return JSON.parse(readFileSync(require.resolve('@tact-lang/compiler/package.json'), 'utf8')).version;
    } catch {
        return 'unknown';
    }
}

async function main() {
    const check = process.argv.includes('--check');
    const explainAt = process.argv.indexOf('--explain');
    if (explainAt >= 0) return explain(process.argv.slice(explainAt + 1));
    const traceAt = process.argv.indexOf('--trace');
    if (traceAt >= 0) return trace(process.argv.slice(traceAt + 1));
    // with the VM's gas logs (the same numbers) for the claim's profile
    const report = await measureGas({ vmLogs: !check });
    const json = toGasJson(report);
    const current = opsOf(json);

    if (check) {
        const committed = opsOf(JSON.parse(readFileSync(JSON_PATH, 'utf8')));
        for (const [name, op] of Object.entries(current)) {
            const was = committed[name]?.gas;
            const delta = was === undefined ? 'new' : `${op.gas - was >= 0 ? '+' : ''}${op.gas - was}`;
            console.log(`${name.padEnd(20)} ${String(op.gas).padStart(8)}  (${delta})`);
        }
        const problems = compareGas(committed, current);
        if (problems.length) {
            console.error('\nGas regressions:\n' + problems.map((p) => '  - ' + p).join('\n'));
            process.exit(1);
        }
        console.log('\nNo gas regression against bench/gas.json.');
        return;
    }

    writeFileSync(JSON_PATH, JSON.stringify(json, null, 2) + '\n');
    writeFileSync(MD_PATH, renderGasMd(report, compilerVersion()));
    const claimTx = report.ops.claim.txs[0];
    writeFileSync(CLAIM_PROFILE_PATH, renderClaimProfile(claimTx.vmLogs ?? '', claimTx.gas));
    for (const [name, op] of Object.entries(report.ops)) {
        const target = TARGETS[name] ? `  target < ${TARGETS[name]}: ${op.gas < TARGETS[name] ? 'met' : 'NOT met'}` : '';
        console.log(`${name.padEnd(20)} ${String(op.gas).padStart(8)} gas  ${op.txs.length} txs${target}`);
    }
    console.log(`\nWrote ${JSON_PATH}, ${MD_PATH} and ${CLAIM_PROFILE_PATH}`);
}

// The named operations of a fresh measurement with the VM's gas logs (all of them if none is named).
async function measuredOps(names: string[]) {
    const report = await measureGas({ vmLogs: true });
    return (names.length ? names : Object.keys(report.ops)).map((name) => {
        const op = report.ops[name];
        if (!op) throw new Error(`unknown operation ${name}; known: ${Object.keys(report.ops).join(', ')}`);
        return { name, op };
    });
}

// `npm run bench -- --explain claim openEscrow`: gas of each transaction of those operations by TVM
// instruction. Writes nothing.
async function explain(names: string[]) {
    for (const { name, op } of await measuredOps(names)) {
        console.log(`\n${name}: ${op.gas} gas in ${op.txs.length} transactions`);
        for (const tx of op.txs) {
            console.log(`  ${tx.contract}: ${tx.message} ${tx.gas} gas`);
            for (const r of explainTx(tx.vmLogs ?? '', tx.gas)) {
                console.log(`    ${r.op.padEnd(22)} ${String(r.gas).padStart(6)}  x${r.count}`);
            }
        }
    }
}

// `npm run bench -- --trace claim`: every instruction of those operations' transactions, in order,
// with its gas and the running total. Writes nothing.
async function trace(names: string[]) {
    for (const { name, op } of await measuredOps(names)) {
        for (const tx of op.txs) {
            console.log(`\n${name}: ${tx.contract}: ${tx.message} ${tx.gas} gas`);
            let total = 0;
            for (const s of instructionsOf(tx.vmLogs ?? '')) {
                total += s.gas;
                console.log(`  ${String(total).padStart(6)} ${String(s.gas).padStart(4)}  ${s.op}`);
            }
        }
    }
}

main().catch((e) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exit(1);
});

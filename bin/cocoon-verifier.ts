#!/usr/bin/env ts-node
// cocoon-verifier: checks Intel TDX quotes (check) and runs the attestation service worker nodes
// call (serve). Usage: npx ts-node bin/cocoon-verifier.ts --help
// Exit codes: 0 accepted / service stopped cleanly, 1 refused / failed, 2 bad command line.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { Address } from '@ton/core';
import { readCollateralFile, Collateral } from '../src/verifier/collateral';
import { parsePolicy, TCB_STATUS_NAMES } from '../src/verifier/policy';
import { combineWhitelists, MeasurementWhitelist, StaticWhitelist } from '../src/verifier/measurements';
import { verifyQuote, verdictJson, Verdict } from '../src/verifier/verify';
import { defaultKeyFile, generateKeyFile, loadSigningKey, KEY_FILE_ENV, SEED_ENV } from '../src/verifier/signingKey';

const MAX_U32 = 2 ** 32 - 1;

// ------------------------------------------------------------------ argument parsers (clear messages)

function unixTime(v: string): number {
    if (!/^\d{1,10}$/.test(v) || Number(v) > MAX_U32) throw new InvalidArgumentError('must be unix seconds (an integer, 0 to 4294967295)');
    return Number(v);
}
function positiveInt(v: string): number {
    if (!/^\d{1,9}$/.test(v) || Number(v) === 0) throw new InvalidArgumentError('must be a positive integer');
    return Number(v);
}
function port(v: string): number {
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new InvalidArgumentError('must be a port number, 0 to 65535');
    return Number(v);
}
function hexBytes(n: number) {
    return (v: string): string => {
        const h = v.replace(/^0x/i, '');
        if (!new RegExp(`^[0-9a-fA-F]{${2 * n}}$`).test(h)) throw new InvalidArgumentError(`must be ${2 * n} hex digits (${n} bytes), 0x optional`);
        return h.toLowerCase();
    };
}
function address(v: string): string {
    try {
        return Address.parse(v).toString();
    } catch {
        throw new InvalidArgumentError('must be a TON address (raw 0:… or user-friendly)');
    }
}
function tcbStatus(v: string): string {
    if (!(TCB_STATUS_NAMES as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${TCB_STATUS_NAMES.join(', ')}`);
    return v;
}
function url(v: string): string {
    if (!/^https?:\/\/\S+$/.test(v)) throw new InvalidArgumentError('must be an http(s):// URL');
    return v;
}
const collect = <T>(parse: (v: string) => T) => (v: string, prev: T[] = []) => [...prev, parse(v)];

function readBytes(file: string, what: string): Buffer {
    try {
        return readFileSync(file);
    } catch (e) {
        throw new Error(`cannot read the ${what} ${file}: ${(e as Error).message}`);
    }
}

// ------------------------------------------------------------------ check

function printVerdict(v: Verdict, json: boolean) {
    const j = verdictJson(v);
    const out = {
        accepted: j.accepted, reason: j.reason, status: j.status, advisories: j.advisories, measurement: j.measurement, debug: j.debug,
        reportData: j.reportData, quoteHash: j.quoteHash, skipped: j.skipped,
        message: j.message, fmspc: j.fmspc, version: j.version, checked: j.checked, maxExpiresAt: j.maxExpiresAt, leaseBoundBy: j.leaseBoundBy,
    };
    if (json) {
        console.log(JSON.stringify(out, null, 2));
        return;
    }
    const row = (k: string, val: unknown) => console.log(`  ${k.padEnd(13)}${val}`);
    console.log(v.accepted ? 'ACCEPTED' : `REFUSED: ${v.reason}: ${v.message}`);
    row('status', v.status ? `${v.status}${v.advisories.length ? ` (${v.advisories.join(', ')})` : ''}` : '-');
    row('measurement', v.measurement ?? '-');
    row('debug', v.debug === null ? '-' : v.debug ? 'YES' : 'no');
    row('reportData', v.reportData ?? '-');
    row('quoteHash', v.quoteHash);
    row('fmspc', v.fmspc ?? '-');
    if (v.maxExpiresAt !== null) row('lease until', `${v.maxExpiresAt} (${new Date(v.maxExpiresAt * 1000).toISOString()}, ${v.leaseBoundBy})`);
    row('checked', v.checked.join(', ') || '-');
    row('skipped', v.skipped.join(', ') || '-');
}

async function check(o: Record<string, any>) {
    const quote = readBytes(o.quote, 'quote file');
    let collateral: Collateral | null = null;
    if (o.collateral) collateral = readCollateralFile(o.collateral);
    const policy = parsePolicy({
        acceptedTcbStatuses: o.acceptTcb?.length ? o.acceptTcb : undefined, maxAttestationTtlSec: o.maxTtl, allowedMeasurements: o.allowMeasurement,
    });
    if (o.pccs) {
        const { PccsCollateralSource } = await import('../src/verifier/sources');
        const { parseTdxQuote } = await import('../src/verifier/quote');
        try {
            collateral = await new PccsCollateralSource(o.pccs).get(parseTdxQuote(quote));
        } catch (e) {
            console.error(`cocoon-verifier: ${(e as Error).message}`);
            process.exit(1);
        }
    }
    let chainList: MeasurementWhitelist | null = null;
    if (o.root) {
        // loads the contract wrappers (npm run build) only when the chain is read
        const { remoteWhitelist } = await import('../src/verifier/onchain');
        chainList = remoteWhitelist({ network: o.network, endpoint: o.endpoint, root: Address.parse(o.root), apiKey: process.env.COCOON_TONCENTER_API_KEY });
    }
    const whitelist = combineWhitelists([policy.allowedMeasurements.length ? new StaticWhitelist(policy.allowedMeasurements) : null, chainList]);
    const v = await verifyQuote(quote, collateral, {
        now: o.at ?? Math.floor(Date.now() / 1000), policy, whitelist, expectedReportData: o.reportData ? Buffer.from(o.reportData, 'hex') : undefined,
    });
    printVerdict(v, !!o.json);
    process.exitCode = v.accepted ? 0 : 1;
}

// ------------------------------------------------------------------ serve

function readConfigFile(file: string): Record<string, any> {
    let text: string;
    try {
        text = readFileSync(file, 'utf8');
    } catch (e) {
        throw new Error(`cannot read the config file ${file}: ${(e as Error).message}`);
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new Error(`the config file ${file} is not valid JSON: ${(e as Error).message}`);
    }
}

function setPath(o: Record<string, any>, path: string, v: unknown) {
    if (v === undefined || (Array.isArray(v) && v.length === 0)) return;
    const parts = path.split('.');
    let cur = o;
    for (const p of parts.slice(0, -1)) cur = cur[p] ??= {};
    cur[parts[parts.length - 1]] = v;
}

async function serve(o: Record<string, any>) {
    const { startVerifierService, createVerifierLogger, VerifierConfigError, parseServiceConfig } = await import('../src/verifier');
    const raw: Record<string, any> = o.config ? readConfigFile(o.config) : {};
    setPath(raw, 'host', o.host);
    setPath(raw, 'port', o.port);
    setPath(raw, 'root', o.root);
    if (o.network) setPath(raw, 'chain.network', o.network);
    setPath(raw, 'chain.endpoint', o.endpoint);
    setPath(raw, 'collateral.file', o.collateral);
    setPath(raw, 'collateral.pccsUrl', o.pccs);
    setPath(raw, 'policy.allowedMeasurements', o.allowMeasurement);
    setPath(raw, 'policy.acceptedTcbStatuses', o.acceptTcb);
    setPath(raw, 'policy.maxAttestationTtlSec', o.maxTtl);
    setPath(raw, 'logLevel', o.logLevel);
    let config;
    try {
        config = parseServiceConfig(raw);
    } catch (e) {
        if (e instanceof VerifierConfigError) {
            console.error(e.message);
            process.exit(2);
        }
        throw e;
    }
    const log = createVerifierLogger(config.logLevel);
    const { key, from } = loadSigningKey({ file: o.keyFile });
    log.info({ keyFrom: from }, 'signing key loaded');
    const handle = await startVerifierService(config, { key, logger: log });
    let once = false;
    const onSignal = (signal: NodeJS.Signals) => {
        if (once) return;
        once = true;
        log.info({ signal }, 'stopping');
        handle.stop().then(() => process.exit(0), (e) => {
            log.error({ err: (e as Error).message }, 'unclean stop');
            process.exit(1);
        });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
}

// ------------------------------------------------------------------ keys

function keygen(o: Record<string, any>) {
    const file = o.out ?? defaultKeyFile();
    const key = generateKeyFile(file);
    console.log(`wrote a new verifier key to ${file} (mode 0600)`);
    console.log(`public key (whitelist it on the root with AddVerifierKey): 0x${key.publicKey.toString('hex')}`);
}

function pubkey(o: Record<string, any>) {
    const { key } = loadSigningKey({ file: o.keyFile });
    console.log(`0x${key.publicKey.toString('hex')}`);
}

// ------------------------------------------------------------------ command line

const KEY_HELP = `
The signing key (serve, pubkey): --key-file FILE, else $${KEY_FILE_ENV}, else $${SEED_ENV} (64 hex digits),
else ${defaultKeyFile()}. A key file must be readable by its owner only (chmod 600).`;

async function main() {
    const program = new Command()
        .name('cocoon-verifier')
        .description('Verifies Intel TDX quotes (DCAP, Intel root pinned) and signs Cocoon attestation statements')
        .exitOverride()
        .configureOutput({ writeErr: (s) => process.stderr.write(s) });

    const policyOptions = (c: Command) => c
        .option('--allow-measurement <hex>', 'an accepted image hash (64 hex digits), repeatable', collect(hexBytes(32)), [])
        .option('--accept-tcb <status>', `an accepted TCB status (default UpToDate only), repeatable: ${TCB_STATUS_NAMES.join(', ')}`, collect(tcbStatus), [])
        .option('--max-ttl <sec>', 'longest attestation lease (default 604800)', positiveInt)
        .option('--root <address>', "read the image whitelist of this root contract from the chain (serve: statements must be for it)", address)
        .addOption(new Option('--network <name>', 'chain of --root').choices(['testnet', 'mainnet']))
        .option('--endpoint <url>', "toncenter JSON-RPC URL (default: the network's)", url)
        .option('--pccs <url>', 'fetch collateral from this PCCS / Intel PCS', url);

    policyOptions(program.command('check').description('verify one quote; exit 0 accepted, 1 refused'))
        .requiredOption('--quote <file>', 'the quote (binary)')
        .option('--collateral <file>', 'collateral JSON (dcap-qvl format); without it (and without --pccs) the chain is not checked and the verdict is never accepted')
        .option('--at <unix>', 'check time (default now): collateral is only valid for about 30 days', unixTime)
        .option('--report-data <hex>', 'expected REPORTDATA (128 hex digits): the key binding', hexBytes(64))
        .option('--json', 'print JSON')
        .addHelpText('after', '\nOffline it checks all it can; the output lists the checks skipped (no collateral, no whitelist, no --report-data).')
        .action(async (opts) => {
            if (opts.root && !opts.network) throw new InvalidArgumentError('--root needs --network testnet|mainnet');
            if (opts.pccs && opts.collateral) throw new InvalidArgumentError('give --collateral or --pccs, not both');
            await check(opts);
        });

    policyOptions(program.command('serve').description('run the HTTP attestation service (POST /v1/check, /v1/attest)'))
        .option('-c, --config <file>', 'JSON config file (flags win); see docs/VERIFIER.md')
        .option('--host <host>', 'listen address (default 127.0.0.1)')
        .option('--port <port>', 'listen port (default 8090)', port)
        .option('--collateral <file>', 'collateral JSON file to use when a request brings none')
        .option('--key-file <file>', 'the signing key seed file (mode 0600)')
        .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
        .addHelpText('after', KEY_HELP)
        .action(serve);

    program.command('keygen').description('create a new signing key file (mode 0600) and print its public key')
        .option('--out <file>', `where (default ${defaultKeyFile()})`)
        .action(keygen);

    program.command('pubkey').description('print the public key of the signing key (to whitelist on the root)')
        .option('--key-file <file>', 'the signing key seed file')
        .addHelpText('after', KEY_HELP)
        .action(pubkey);

    try {
        await program.parseAsync();
    } catch (e) {
        if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
        if (e instanceof InvalidArgumentError) {
            console.error(`cocoon-verifier: ${e.message}`);
            process.exit(2);
        }
        throw e;
    }
}

main().catch((e) => {
    console.error(`cocoon-verifier: ${(e as Error).message}`);
    process.exit(1);
});

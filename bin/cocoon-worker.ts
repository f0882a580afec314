#!/usr/bin/env ts-node
// cocoon-worker: runs a Cocoon worker node (OpenAI-compatible HTTPS API, receipts, on-chain claims).
// Usage: npx ts-node bin/cocoon-worker.ts --help
import { Command, Option } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Address } from '@ton/core';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { keyFromSeed, RemoteChain, NetworkName, CocoonRoot } from '../src/sdk';
import { DevBackend } from '../src/backend';
import {
    startWorkerNode, stopOnSignals, parseWorkerConfig, ConfigError, createLogger, DevAttestationProvider, TdxAttestationProvider,
    HttpQuoteVerifier, AttestationProvider,
} from '../src/worker';

const HELP = `
Configuration (JSON file given with --config; every field can also be set by a flag below, flags win):
  model               public model name clients ask for                      (required)
  host, port          where to listen (default 127.0.0.1:8443)
  backend.url         OpenAI-compatible base URL of the engine, incl. /v1     (required unless --dev-backend)
                      e.g. vLLM/SGLang http://127.0.0.1:8000/v1, llama.cpp http://127.0.0.1:8080/v1,
                      Ollama http://127.0.0.1:11434/v1
  backend.model       the engine's own model name, if it differs from model
  backend.timeoutMs   time allowed until the engine answers (default 120000)
  root                address of the network's root contract                  (required)
  operator            the operator wallet address (owner of the Worker)       (required)
  measurement         0x-hex TEE measurement of this image (whitelisted)      (required)
  attestationTtlSec   lifetime of the attestation asked for (default 604800)
  tls.certFile/keyFile  PEM certificate + key; omitted: a fresh self-signed one each start
                      (its key hash is attested, so keep files to avoid re-attesting)
  dbPath              SQLite receipt ledger, the node's only state            (required; back it up)
  maxBodyBytes        request body limit (default 1 MiB) -> 413 beyond
  defaultMaxTokens    max_tokens when a request names none (default 1024)
  maxTokensLimit      largest max_tokens accepted (default 32768)
  maxInflight         concurrent chat requests before 429 (default 64)
  streamFlushMs       write a stream at most once per this many ms, tokens that come faster go
                      out together; a token after a longer gap goes at once (default 10; 0 = every
                      turn of the event loop)
  escrowCacheMs       TTL of escrow state read from the chain (default 2000)
  workerCacheMs       TTL of the Worker contract info (default 10000)
  closingMarginSec    stop serving a CLOSING escrow this long before closeAt (default 600)
  claim.threshold     claim an escrow once unclaimed >= this many nanoton (default 1e9)
  claim.intervalMs    claim loop period (default 30000)
  claim.value         nanoton attached to each Claim, the rest is returned (default 5e7)
  claim.confirmTimeoutMs  wait for a Claim on-chain (default 90000)
  shutdownGraceMs     in-flight requests get this long at SIGINT/SIGTERM (default 10000)
  logLevel            fatal|error|warn|info|debug|trace|silent (default info)

Secrets come from the environment only (never from the config file, never logged):
  COCOON_OPERATOR_MNEMONIC   24 words of the operator's wallet (v4R2): pays and receives claims
  COCOON_TONCENTER_API_KEY   API key for the toncenter endpoint (optional)
  COCOON_BACKEND_API_KEY     bearer token for the inference engine (optional)
  COCOON_TEE_SEED_FILE       file with the TEE signing key seed (64 hex digits); created with mode
                             0600 if missing. Inside a real TEE this file lives in sealed storage.
  COCOON_DEV_VERIFIER_SEED   64 hex digits: the dev verifier key (--attestation dev only)
  COCOON_TDX_VERIFIER_URL    the quote verifier services (--attestation tdx; cocoon-verifier serve), comma-
                             separated; --verifier-url wins
  COCOON_TDX_VERIFIER_QUORUM signatures to collect (default: the root's verifierQuorum); --verifier-quorum wins
  COCOON_TSM_PATH            configfs-tsm report directory (default /sys/kernel/config/tsm/report)

On SIGINT/SIGTERM the node stops accepting, finishes in-flight requests, stops the claim loop,
flushes and closes the ledger.
`;

function setPath(o: Record<string, any>, path: string, v: unknown) {
    if (v === undefined) return;
    const parts = path.split('.');
    let cur = o;
    for (const p of parts.slice(0, -1)) cur = cur[p] ??= {};
    cur[parts[parts.length - 1]] = v;
}

function loadTeeSeed(file: string): Buffer {
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
    const hex = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`${file} must hold exactly 64 hex digits (a 32-byte ed25519 seed)`);
    return Buffer.from(hex, 'hex');
}

async function main() {
    const program = new Command()
        .name('cocoon-worker')
        .description('Cocoon worker node: OpenAI-compatible HTTPS API in front of an inference engine, paid through TON escrows')
        .option('-c, --config <file>', 'JSON config file')
        .option('--model <name>', 'public model name')
        .option('--host <host>', 'listen address')
        .option('--port <port>', 'listen port', (v) => Number(v))
        .option('--backend-url <url>', 'OpenAI-compatible engine base URL (…/v1)')
        .option('--backend-model <name>', "the engine's model name")
        .option('--root <address>', 'root contract address')
        .option('--operator <address>', 'operator wallet address')
        .option('--measurement <hex>', 'TEE measurement, 0x…')
        .option('--db <file>', 'receipt ledger SQLite file')
        .option('--tls-cert <file>', 'TLS certificate (PEM)')
        .option('--tls-key <file>', 'TLS private key (PEM)')
        .option('--log-level <level>', 'log level')
        .addOption(new Option('--network <name>', 'TON network').choices(['testnet', 'mainnet']).default('testnet'))
        .option('--endpoint <url>', 'toncenter JSON-RPC endpoint (default: the network\'s toncenter)')
        .addOption(new Option('--attestation <kind>', 'attestation provider').choices(['tdx', 'dev']).default('tdx'))
        .option('--verifier-url <url>', 'a quote verifier service (--attestation tdx), repeatable', (v: string, p: string[] = []) => [...p, v])
        .option('--verifier-quorum <k>', "verifier signatures to collect (default: the root's verifierQuorum)")
        .option('--dev-backend', 'start the development backend (deterministic, no model) on loopback and use it')
        .addHelpText('after', HELP)
        .parse();
    const o = program.opts();

    const raw: Record<string, any> = o.config ? readConfigFile(o.config) : {};
    setPath(raw, 'model', o.model);
    setPath(raw, 'host', o.host);
    setPath(raw, 'port', o.port);
    setPath(raw, 'backend.url', o.backendUrl);
    setPath(raw, 'backend.model', o.backendModel);
    setPath(raw, 'root', o.root);
    setPath(raw, 'operator', o.operator);
    setPath(raw, 'measurement', o.measurement);
    setPath(raw, 'dbPath', o.db);
    setPath(raw, 'tls.certFile', o.tlsCert);
    setPath(raw, 'tls.keyFile', o.tlsKey);
    setPath(raw, 'logLevel', o.logLevel);

    let dev: DevBackend | null = null;
    if (o.devBackend) {
        dev = await DevBackend.start({ model: raw.backend?.model ?? 'dev-model' });
        setPath(raw, 'backend.url', dev.url);
        setPath(raw, 'backend.model', dev.model);
    }
    const config = parseWorkerConfig(raw);
    const log = createLogger(config.logLevel);
    if (dev) log.warn({ url: dev.url }, 'using the DEVELOPMENT backend: deterministic text, no model');

    const mnemonic = process.env.COCOON_OPERATOR_MNEMONIC;
    if (!mnemonic) throw new Error('COCOON_OPERATOR_MNEMONIC is not set: the node needs the operator wallet to claim payments');
    const keys = await mnemonicToPrivateKey(mnemonic.trim().split(/\s+/));
    const wallet = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
    if (!wallet.address.equals(Address.parse(config.operator))) {
        throw new Error(`COCOON_OPERATOR_MNEMONIC is the wallet ${wallet.address.toString()}, not the configured operator ${config.operator}`);
    }
    const network = o.network as NetworkName;
    const endpoint = o.endpoint ?? (network === 'mainnet' ? 'https://toncenter.com/api/v2/jsonRPC' : 'https://testnet.toncenter.com/api/v2/jsonRPC');
    const client = new TonClient({ endpoint, apiKey: process.env.COCOON_TONCENTER_API_KEY });
    const chain = new RemoteChain(network, client);
    const operatorSender = client.open(wallet).sender(keys.secretKey);

    const teeKey = keyFromSeed(loadTeeSeed(process.env.COCOON_TEE_SEED_FILE ?? 'tee-key.seed'));
    let attestationProvider: AttestationProvider;
    if (o.attestation === 'dev') {
        const seed = process.env.COCOON_DEV_VERIFIER_SEED;
        if (!seed || !/^[0-9a-fA-F]{64}$/.test(seed)) throw new Error('--attestation dev needs COCOON_DEV_VERIFIER_SEED (64 hex digits)');
        log.warn('using the DEVELOPMENT attestation provider: no TEE evidence, only networks that trust this key accept it');
        attestationProvider = new DevAttestationProvider(keyFromSeed(Buffer.from(seed, 'hex')));
    } else {
        const urls: string[] = o.verifierUrl ?? (process.env.COCOON_TDX_VERIFIER_URL ?? '').split(',').map((u) => u.trim()).filter(Boolean);
        if (urls.length === 0) throw new Error('--attestation tdx needs --verifier-url or COCOON_TDX_VERIFIER_URL (the quote verifier services)');
        const k = o.verifierQuorum ?? process.env.COCOON_TDX_VERIFIER_QUORUM;
        if (k !== undefined && !/^[1-9]\d*$/.test(String(k))) throw new Error(`--verifier-quorum / COCOON_TDX_VERIFIER_QUORUM must be a positive integer, got "${k}"`);
        const quorum = k !== undefined ? Number(k) : async () => Number(await chain.open(CocoonRoot.fromAddress(Address.parse(config.root))).getVerifierQuorum());
        attestationProvider = new TdxAttestationProvider(new HttpQuoteVerifier({ urls, quorum }), { tsmPath: process.env.COCOON_TSM_PATH || undefined });
    }

    const handle = await startWorkerNode(config, {
        chain, operatorSender, teeKey, attestationProvider, backendApiKey: process.env.COCOON_BACKEND_API_KEY, logger: log,
    });
    stopOnSignals({ ...handle, stop: async () => { await handle.stop(); await dev?.stop(); } }, log);
    log.info({ url: handle.url, worker: handle.worker.toString() }, 'ready; register the worker with the attestation from GET /attestation if not done');
}

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

main().catch((e) => {
    if (e instanceof ConfigError) console.error(e.message);
    else console.error(`cocoon-worker: ${(e as Error).message}`);
    process.exit(1);
});

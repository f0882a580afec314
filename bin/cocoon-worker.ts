#!/usr/bin/env ts-node
// cocoon-worker: runs a Cocoon worker node (OpenAI-compatible HTTPS API, receipts, on-chain claims).
// Usage: npx ts-node bin/cocoon-worker.ts --help
import { Command, Option } from 'commander';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Address, toNano } from '@ton/core';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { mnemonicToPrivateKey } from '@ton/crypto';
import { keyFromSeed, RemoteChain, CocoonRoot, type Chain, type Sender } from '../src/sdk';
import { hex256 } from '../src/sdk/tls';
import { DevBackend } from '../src/backend';
import {
    startWorkerNode, stopOnSignals, parseWorkerConfig, ConfigError, LedgerOpenError, createLogger, DevAttestationProvider, TdxAttestationProvider,
    HttpQuoteVerifier, AttestationProvider,
} from '../src/worker';
import { intArg, tonArg, hexArg } from './args';

const HELP = `
Configuration (JSON file given with --config; every field can also be set by a flag below, flags win):
  One model with one engine:
  model               public model name clients ask for (the root must list it for the measurement)
  host, port          where to listen (default 127.0.0.1:8443)
  backend.url         OpenAI-compatible base URL of the engine, incl. /v1     (required unless --dev-backend)
                      e.g. vLLM/SGLang http://127.0.0.1:8000/v1, llama.cpp http://127.0.0.1:8080/v1,
                      Ollama http://127.0.0.1:11434/v1
  backend.model       the engine's own model name, if it differs from model
  backend.timeoutMs   time allowed until the engine answers (default 120000)
  backend.features    {tools, responseFormat, logprobs}: what the engine supports (default tools and
                      responseFormat); requests using anything else get 400, never a silent drop
  backend.capabilities  routes served: ["chat", "completions", "embeddings"] (default chat, completions)
  Or several models, each with several engines (one per GPU), instead of model + backend:
  models              [{name, upstreams: [{url, model?}, ...], capabilities?, features?, timeoutMs?}]:
                      each call goes to the least loaded healthy upstream of its model; /v1/models
                      lists them; every name must be one the root lists for the measurement
  upstreamHealth      {intervalMs (10000), timeoutMs (2000), cooldownMs (5000)}: GET /models of each
                      upstream of a model with several; a failed call leaves an upstream out for cooldownMs
  root                address of the network's root contract                  (required)
  operator            the operator wallet address (owner of the Worker)       (required)
  measurement         0x-hex TEE measurement of this image (whitelisted)      (required)
  attestationTtlSec   lifetime of the attestation asked for (default 604800)
  tls.certFile/keyFile  PEM certificate + key; omitted: a fresh self-signed one each start (in memory;
                      its key hash is attested at every start anyway)
  dbPath              SQLite receipt ledger, the node's only state (default <data dir>/ledger.sqlite)
  register            auto|off: at start, put this start's fresh TEE key on the Worker contract
                      (RegisterWorker, stake 0) when the Worker exists (default auto)
  maxBodyBytes        request body limit (default 1 MiB) -> 413 beyond
  bodyTimeoutMs       the body must arrive within this (default 10000) -> 408
  headersTimeoutMs    TLS handshake and request headers within this (default 10000)
  idleTimeoutMs       a connection with no request in progress closes after this (default 30000)
  maxConnections      open connections at most, kept 256 below the file limit (default 4096)
  defaultMaxTokens    max_tokens when a request names none (default 1024)
  maxTokensLimit      largest max_tokens accepted (default 32768)
  maxInflight         admitted chat requests in progress before 429 (default 64)
  streamFlushMs       write a stream at most once per this many ms (default 10)
  escrowCacheMs       TTL of escrow state read from the chain, incl. the client key (default 2000)
  escrowCacheMax      escrows kept in that cache (default 10000)
  workerCacheMs       TTL of the Worker contract info, incl. the price (default 2000)
  auth.*              failures/unknownEscrows/rereads rates {burst, perSec}, maxPeers, rereadMinAgeMs
  tokenCount.*        syncMaxChars (2048), deadlineMs (1000), maxQueue (64)
  refreshWaitMs       a request waits this long for RefreshWorker of its escrow (default 30000)
  closingMarginSec    stop serving a CLOSING escrow this long before closeAt (default 600)
  claim.threshold     claim an escrow once unclaimed >= this many nanoton (default 1e9)
  claim.intervalMs    claim loop period (default 30000)
  claim.value         nanoton attached to each Claim, the rest is returned (default 5e7)
  claim.confirmTimeoutMs  wait for a Claim on-chain (default 90000)
  shutdownGraceMs     in-flight requests get this long at SIGINT/SIGTERM (default 10000)
  logLevel            fatal|error|warn|info|debug|trace|silent (default info)

The TEE key: made fresh at every start, in memory only (a TEE's sealed key never touches a disk).
No file holds it; the node re-attests and re-registers its Worker with it at start (stake 0, from the
operator wallet; --no-register to leave it to you). Escrows opened before are moved to the new key
(RefreshWorker) when their clients come back. Back up the data directory's ledger for the unclaimed
receipts; never restore an old copy over a newer one (see docs/OPERATIONS.md).

Secrets come from the environment only (never from the config file, never logged):
  COCOON_OPERATOR_MNEMONIC   24 words of the operator's wallet (v4R2): pays and receives claims
  COCOON_TONCENTER_API_KEY   API key for the toncenter endpoint (optional)
  COCOON_BACKEND_API_KEY     bearer token for the inference engine (optional)
  COCOON_DEV_VERIFIER_SEED   64 hex digits: the dev verifier key (--attestation dev only)
  COCOON_TDX_VERIFIER_URL    the quote verifier services (--attestation tdx; cocoon-verifier serve), comma-
                             separated; --verifier-url wins
  COCOON_TDX_VERIFIER_QUORUM signatures to collect (default: the root's verifierQuorum); --verifier-quorum wins
  COCOON_TSM_PATH            configfs-tsm report directory (default /sys/kernel/config/tsm/report)
  COCOON_WORKER_HOME         the data directory (default ~/.cocoon-worker)

--network sandbox runs the node against an embedded sandbox chain in this process (a root that
whitelists the measurement, a development verifier, the node registered with the minimum stake, and
an escrow for your client key from ~/.cocoon/client-key); nothing persists but the ledger. It is for
trying the node: mint a key with \`cocoon api-key --escrow <escrow shown> --ttl 1h\`.

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

/** The data directory (mode 0700): the ledger lives here unless --db says otherwise. Never the working directory by default. */
function dataDir(flag: string | undefined): string {
    const dir = resolve(flag ?? process.env.COCOON_WORKER_HOME ?? join(homedir(), '.cocoon-worker'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
        chmodSync(dir, 0o700);
    } catch {
        // not ours to change: the ledger's own error will say what is wrong
    }
    return dir;
}

/** The command line (options only; main() acts on them). */
export function buildWorkerProgram(): Command {
    return new Command()
        .name('cocoon-worker')
        .description('Cocoon worker node: OpenAI-compatible HTTPS API in front of an inference engine, paid through TON escrows')
        .option('-c, --config <file>', 'JSON config file')
        .option('--model <name>', 'public model name')
        .option('--host <host>', 'listen address')
        .option('--port <port>', 'listen port (0: any free port)', intArg('--port', 0, 65535))
        .option('--backend-url <url>', 'OpenAI-compatible engine base URL (…/v1)')
        .option('--backend-model <name>', "the engine's model name")
        .option('--root <address>', 'root contract address')
        .option('--operator <address>', 'operator wallet address')
        .option('--measurement <hex>', 'TEE measurement, 0x…', hexArg('--measurement'))
        .option('--data-dir <dir>', 'data directory (default $COCOON_WORKER_HOME or ~/.cocoon-worker)')
        .option('--db <file>', 'receipt ledger SQLite file (default <data dir>/ledger.sqlite)')
        .option('--tls-cert <file>', 'TLS certificate (PEM)')
        .option('--tls-key <file>', 'TLS private key (PEM)')
        .option('--max-inflight <n>', 'admitted chat requests in progress before 429', intArg('--max-inflight', 1, 100_000))
        .option('--max-connections <n>', 'open connections at most', intArg('--max-connections', 16, 1_000_000))
        .option('--no-register', 'do not re-register the Worker with the new TEE key at start')
        .option('--log-level <level>', 'log level')
        .addOption(new Option('--network <name>', 'TON network (sandbox: an embedded chain in this process, for trying the node)').choices(['testnet', 'mainnet', 'sandbox']).default('testnet'))
        .option('--endpoint <url>', 'toncenter JSON-RPC endpoint (default: the network\'s toncenter)')
        .addOption(new Option('--attestation <kind>', 'attestation provider').choices(['tdx', 'dev']).default('tdx'))
        .option('--verifier-url <url>', 'a quote verifier service (--attestation tdx), repeatable', (v: string, p: string[] = []) => [...p, v])
        .option('--verifier-quorum <k>', "verifier signatures to collect (default: the root's verifierQuorum)", intArg('--verifier-quorum', 1, 16))
        .option('--dev-backend', 'start the development backend (deterministic, no model) on loopback and use it')
        .option('--dev-tokens <n>', 'completion tokens of each development-backend answer', intArg('--dev-tokens', 1, 100_000))
        .option('--price <ton>', 'sandbox: the price set on-chain for every token class, TON per 1M tokens (default: 0.1 prompt, 0.025 cached, 0.3 completion)', tonArg('--price'))
        .option('--price-prompt <ton>', 'sandbox: the price of prompt tokens (overrides --price)', tonArg('--price-prompt', { allowZero: true }))
        .option('--price-cached <ton>', 'sandbox: the price of cached prompt tokens', tonArg('--price-cached', { allowZero: true }))
        .option('--price-completion <ton>', 'sandbox: the price of completion tokens (reasoning included)', tonArg('--price-completion', { allowZero: true }))
        .option('--deposit <ton>', "sandbox: the client escrow's deposit (default 10)", tonArg('--deposit'))
        .addHelpText('after', HELP);
}

export async function main(argv: string[] = process.argv): Promise<void> {
    const o = buildWorkerProgram().parse(argv).opts();
    const sandbox = o.network === 'sandbox';

    const raw: Record<string, any> = o.config ? readConfigFile(o.config) : {};
    setPath(raw, 'model', o.model);
    setPath(raw, 'host', o.host);
    setPath(raw, 'port', o.port);
    setPath(raw, 'backend.url', o.backendUrl);
    setPath(raw, 'backend.model', o.backendModel);
    setPath(raw, 'root', o.root);
    setPath(raw, 'operator', o.operator);
    setPath(raw, 'measurement', o.measurement);
    setPath(raw, 'tls.certFile', o.tlsCert);
    setPath(raw, 'tls.keyFile', o.tlsKey);
    setPath(raw, 'maxInflight', o.maxInflight);
    setPath(raw, 'maxConnections', o.maxConnections);
    setPath(raw, 'logLevel', o.logLevel);
    if (o.register === false) setPath(raw, 'register', 'off');
    if (o.db) setPath(raw, 'dbPath', resolve(o.db));
    else if (!raw.dbPath) setPath(raw, 'dbPath', join(dataDir(o.dataDir), sandbox ? 'ledger-sandbox.sqlite' : 'ledger.sqlite'));

    let dev: DevBackend | null = null;
    if (o.devBackend) {
        dev = await DevBackend.start({ model: raw.backend?.model ?? 'dev-model', tokens: o.devTokens, promptCache: true });
        if (Array.isArray(raw.models)) {
            // every model's upstreams: the development backend (it answers chat, completions and embeddings)
            for (const m of raw.models) if (m && typeof m === 'object') m.upstreams = [{ url: dev.url, model: dev.model }];
        } else {
            setPath(raw, 'backend.url', dev.url);
            setPath(raw, 'backend.model', dev.model);
        }
    }

    let chain: Chain;
    let operatorSender: Sender;
    let attestationProvider: AttestationProvider;
    let sandboxNet: Awaited<ReturnType<typeof import('../src/demo/workerSandbox').prepareWorkerSandbox>> | null = null;
    if (sandbox) {
        const { prepareWorkerSandbox } = await import('../src/demo/workerSandbox');
        // the image is whitelisted for every model the config serves
        const names = Array.isArray(raw.models) ? raw.models.map((m: { name?: unknown }) => String(m?.name ?? '')) : [String(raw.model ?? '')];
        const model = names.filter(Boolean).join(',');
        if (!model) throw new ConfigError([{ path: 'model', message: 'Required' }]);
        raw.measurement ??= '0x' + createHash('sha256').update('cocoon-worker-image:sandbox|' + model).digest('hex');
        const seed = process.env.COCOON_DEV_VERIFIER_SEED;
        sandboxNet = await prepareWorkerSandbox({ model, measurement: BigInt(raw.measurement), verifierSeed: seed && /^[0-9a-fA-F]{64}$/.test(seed) ? Buffer.from(seed, 'hex') : undefined });
        raw.root = sandboxNet.root.toString();
        raw.operator = sandboxNet.operator.address.toString();
        chain = sandboxNet.chain;
        operatorSender = sandboxNet.operator.getSender();
        attestationProvider = new DevAttestationProvider(sandboxNet.verifier);
    }
    const config = parseWorkerConfig(raw);
    const log = createLogger(config.logLevel);
    if (dev) log.warn({ url: dev.url }, 'using the DEVELOPMENT backend: deterministic text, no model');

    if (!sandbox) {
        const mnemonic = process.env.COCOON_OPERATOR_MNEMONIC;
        if (!mnemonic) throw new Error('COCOON_OPERATOR_MNEMONIC is not set: the node needs the operator wallet to claim payments');
        const keys = await mnemonicToPrivateKey(mnemonic.trim().split(/\s+/));
        const wallet = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
        if (!wallet.address.equals(Address.parse(config.operator))) {
            throw new Error(`COCOON_OPERATOR_MNEMONIC is the wallet ${wallet.address.toString()}, not the configured operator ${config.operator}`);
        }
        const network = o.network as 'testnet' | 'mainnet';
        const endpoint = o.endpoint ?? (network === 'mainnet' ? 'https://toncenter.com/api/v2/jsonRPC' : 'https://testnet.toncenter.com/api/v2/jsonRPC');
        const client = new TonClient({ endpoint, apiKey: process.env.COCOON_TONCENTER_API_KEY });
        chain = new RemoteChain(network, client);
        const opened = client.open(wallet).sender(keys.secretKey);
        operatorSender = { address: wallet.address, send: (args) => opened.send(args) };
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
            const remote = chain;
            const quorum = k !== undefined ? Number(k) : async () => Number(await remote.open(CocoonRoot.fromAddress(Address.parse(config.root))).getVerifierQuorum());
            attestationProvider = new TdxAttestationProvider(new HttpQuoteVerifier({ urls, quorum }), { tsmPath: process.env.COCOON_TSM_PATH || undefined });
        }
    } else {
        log.warn('SANDBOX: an embedded chain in this process, development attestation; nothing on it persists');
    }

    const handle = await startWorkerNode(config, {
        chain: chain!, operatorSender: operatorSender!, attestationProvider: attestationProvider!, backendApiKey: process.env.COCOON_BACKEND_API_KEY, logger: log,
    });
    stopOnSignals({
        stop: async () => {
            await handle.stop();
            await dev?.stop();
            sandboxNet?.stop();
        },
    }, log);
    if (sandboxNet) {
        const { finishWorkerSandbox } = await import('../src/demo/workerSandbox');
        const { loadClientKey } = await import('../src/client/clientKey');
        const ck = loadClientKey({ create: true });
        const price = {
            prompt: o.pricePrompt ?? o.price ?? toNano('0.1'), cached: o.priceCached ?? o.price ?? toNano('0.025'), completion: o.priceCompletion ?? o.price ?? toNano('0.3'),
        };
        const { escrow } = await finishWorkerSandbox(sandboxNet, handle, { price, deposit: o.deposit ?? toNano('10'), clientKey: ck.publicKey });
        log.info({
            url: handle.url, worker: handle.worker.toString(), escrow: escrow.toString(), clientKey: ck.source, teeKey: hex256(handle.teeKey),
            next: `cocoon api-key --escrow ${escrow.toString()} --ttl 1h`,
        }, 'sandbox ready: the worker is registered and your escrow is open');
    } else {
        log.info({ url: handle.url, worker: handle.worker.toString(), registration: handle.registration }, 'ready');
    }
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

/** Runs the node (ts-node bin/cocoon-worker.ts, or the bin/cocoon-worker.js shim); exits 1 on a failed start. */
export function run(argv: string[] = process.argv): void {
    main(argv).catch((e) => {
        if (e instanceof ConfigError || e instanceof LedgerOpenError) console.error(`cocoon-worker: ${e.message}`);
        else console.error(`cocoon-worker: ${(e as Error).message}`);
        process.exit(1);
    });
}

// Run directly (ts-node bin/cocoon-worker.ts) or through the bin/cocoon-worker.js shim (bin/run.js
// requires this file); a test that imports buildWorkerProgram runs nothing.
if (require.main === module || /[\\/]bin[\\/]run\.js$/.test(module.parent?.filename ?? '')) run();

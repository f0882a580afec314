// The Cocoon client CLI: list workers, manage an escrow, chat with pinned TLS and verified receipts.
//
//   cocoon workers --model M                 active workers for a model, cheapest first, with their reputation
//   cocoon open-escrow --worker W --deposit 1 --max-price 0.5   (or --max-prompt/--max-cached/--max-completion)
//   cocoon top-up --worker W --amount 1
//   cocoon escrow --worker W                 the escrow's state and the latest receipt held
//   cocoon chat "prompt" [--worker W]        streams the answer to stdout (with an API key minted on the fly)
//   cocoon api-key --worker W --ttl 7d [--limit 1.5]   prints an API key for any OpenAI client
//   cocoon api-key --escrow E --ttl 1h       the same, offline, for an escrow address
//   cocoon rotate-key                        new client key; SetClientKey on every escrow of yours
//   cocoon close --worker W                  starts the dispute window
//   cocoon withdraw --worker W               after the window: the rest of the deposit comes back
//
// The client key (~/.cocoon/client-key, mode 0600, or COCOON_CLIENT_KEY_SEED) is made by open-escrow;
// its public half is in each escrow; API keys are signed with it (docs/SIGNING.md "API key").
//
// --network testnet|mainnet needs --root (or COCOON_ROOT) and COCOON_CLIENT_MNEMONIC (24 words of a
// v4R2 wallet); COCOON_TONCENTER_API_KEY is optional. --network sandbox starts a whole local network
// (root + three worker nodes on loopback, development backend) for this one command: nothing persists.
import { Command, Option } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Address, toNano } from '@ton/core';
import { ESCROW_OPEN, mintApiKey, type Chain, type PriceSet } from '../src/sdk';
import { loadClientKey, type ClientKey } from '../src/client/clientKey';
import { rotateClientKey } from '../src/client/rotate';
import { intArg, tonArg, durationArg } from './args';
import { formatTable, formatTime } from '../src/sdk/format';
import {
    CocoonClient, ClientError, connectRemote, parseAddressArg, remoteEventSource, sandboxEventSource, stateName,
    type WorkerListing, type QuoteCheckOptions,
} from '../src/client';
import { FileCollateralSource, PccsCollateralSource, parsePolicy } from '../src/verifier';

type NetworkArg = 'sandbox' | 'testnet' | 'mainnet';

interface GlobalOpts {
    network: NetworkArg;
    root?: string;
    toncenter?: string;
    receipts?: string;
    verbose: boolean;
    verifyQuote?: boolean;
    collateral?: string;
    pccs?: string;
    acceptTcb?: string;
}

/** --verify-quote: check each worker's TDX quote with the verifier's code before the first prompt. */
function quoteCheckOf(g: GlobalOpts): QuoteCheckOptions | undefined {
    if (!g.verifyQuote) {
        if (g.collateral || g.pccs || g.acceptTcb) throw new ClientError('CONFIG', '--collateral, --pccs and --accept-tcb go with --verify-quote', 'add --verify-quote, or drop them.');
        return undefined;
    }
    if (!!g.collateral === !!g.pccs) {
        throw new ClientError('CONFIG', '--verify-quote needs Intel\'s collateral: --collateral FILE or --pccs URL (one of them)', 'e.g. --pccs https://api.trustedservices.intel.com');
    }
    let policy;
    try {
        policy = parsePolicy({ acceptedTcbStatuses: (g.acceptTcb ?? 'UpToDate').split(',').map((x) => x.trim()) });
    } catch (e) {
        throw new ClientError('CONFIG', `--accept-tcb: ${(e as Error).message}`, 'statuses: UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded.');
    }
    return { collateral: g.collateral ? new FileCollateralSource(g.collateral) : new PccsCollateralSource(g.pccs!), policy };
}

interface Ctx {
    client: CocoonClient;
    chain: Chain;
    network: NetworkArg;
    /** sandbox only: move the local clock (dispute window) */
    advance?: (seconds: number) => void;
    close(): Promise<void>;
}

const ton = (n: bigint) => {
    const neg = n < 0n;
    const a = neg ? -n : n;
    return `${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '') || '0'}`.replace(/\.$/, '');
};

interface CapOpts { maxPrice?: bigint; maxPrompt?: bigint; maxCached?: bigint; maxCompletion?: bigint }

/** The caps the options give: --max-price for every class, a class option for its class; `base` for a class given neither. */
function capsOf(o: CapOpts, base?: PriceSet): PriceSet | undefined {
    const all = o.maxPrice;
    const cls = (v: bigint | undefined, b: bigint | undefined) => v ?? all ?? b;
    const p = { prompt: cls(o.maxPrompt, base?.prompt), cached: cls(o.maxCached, base?.cached), completion: cls(o.maxCompletion, base?.completion) };
    if (p.prompt === undefined && p.cached === undefined && p.completion === undefined) return undefined;
    const none = 1n << 64n;
    // a class without a cap from any source is not limited by the filter (workers); an escrow always has base
    return { prompt: p.prompt ?? none - 1n, cached: p.cached ?? none - 1n, completion: p.completion ?? none - 1n };
}

const priceText = (p: PriceSet) => `${ton(p.prompt)}/${ton(p.cached)}/${ton(p.completion)}`;

/** The client key if there is one (a command that needs it fails with a hint when there is none). */
function optionalClientKey(create: boolean): ClientKey | undefined {
    try {
        return loadClientKey({ create });
    } catch (e) {
        if (e instanceof ClientError && /no client key at/.test(e.message)) return undefined;
        throw e;
    }
}

async function context(g: GlobalOpts): Promise<Ctx> {
    const verifyQuote = quoteCheckOf(g);
    if (g.network === 'sandbox') {
        const { startLocalNetwork, senderOf, DEMO_PRICES } = await import('../src/demo/localNetwork');
        const net = await startLocalNetwork({
            workers: 3, prices: DEMO_PRICES, stake: toNano('100'), completionTokens: 48,
            extraWallets: ['client'], print: g.verbose ? (l) => console.error(l) : undefined,
        });
        console.error(`[sandbox] local network with ${net.nodes.length} worker nodes started for this command (nothing persists)`);
        const client = new CocoonClient({
            chain: net.chain, root: net.root, wallet: senderOf(net.wallets.client), events: sandboxEventSource(net.bc, net.root), clientKey: optionalClientKey(true)?.key, verifyQuote,
        });
        return {
            client, chain: net.chain, network: 'sandbox',
            advance: (s) => { net.bc.now = (net.bc.now ?? Math.floor(Date.now() / 1000)) + s; },
            close: async () => { client.close(); await net.stop(); },
        };
    }
    const root = parseAddressArg('--root', g.root ?? process.env.COCOON_ROOT);
    const conn = await connectRemote({
        network: g.network, mnemonic: process.env.COCOON_CLIENT_MNEMONIC, mnemonicEnv: 'COCOON_CLIENT_MNEMONIC',
        endpoint: g.toncenter, apiKey: process.env.COCOON_TONCENTER_API_KEY,
    });
    const receiptsFile = g.receipts ?? join(homedir(), '.cocoon', `receipts-${g.network}-${root.toRawString().slice(2, 14)}.json`);
    const client = new CocoonClient({
        chain: conn.chain, root, wallet: conn.wallet, events: remoteEventSource(conn.client, root), receiptsFile, clientKey: optionalClientKey(false)?.key, verifyQuote,
    });
    if (g.verbose) console.error(`client wallet ${conn.wallet.address.toString({ testOnly: g.network === 'testnet' })}, receipts in ${receiptsFile}`);
    return { client, chain: conn.chain, network: g.network, close: async () => client.close() };
}

/** Runs a command with a context, turning errors into "what went wrong — what to do" and exit 1. */
function action<A extends unknown[]>(program: Command, fn: (ctx: Ctx, ...args: A) => Promise<void>) {
    return async (...args: A) => {
        let ctx: Ctx | null = null;
        try {
            ctx = await context(program.opts<GlobalOpts>());
            await fn(ctx, ...args);
        } catch (e) {
            if (e instanceof ClientError) console.error(`error: ${e.message}`);
            else console.error(`error: ${(e as Error).message}`);
            process.exitCode = 1;
        } finally {
            await ctx?.close();
        }
    };
}

/** The worker named by --worker, or in the sandbox the cheapest listed one. */
async function pickWorker(ctx: Ctx, worker: string | undefined, model?: string): Promise<WorkerListing> {
    if (worker) return ctx.client.listing(parseAddressArg('--worker', worker));
    const { workers } = await ctx.client.listWorkers({ model });
    if (workers.length === 0) throw new ClientError('WORKER_UNAVAILABLE', `no active worker${model ? ` for ${model}` : ''}`, 'try again later or another --model.');
    if (ctx.network !== 'sandbox') {
        for (const w of workers) {
            const v = await ctx.client.escrows.view(w.worker);
            if (v.state?.state === ESCROW_OPEN) return w;
        }
        throw new ClientError('ESCROW', 'you have no open escrow with any active worker', 'pick one with cocoon workers, then cocoon open-escrow --worker <address>.');
    }
    return workers[0];
}

/** Sandbox only: commands that need an escrow get one, since the network is new each time. */
async function sandboxEscrow(ctx: Ctx, w: WorkerListing): Promise<void> {
    if (ctx.network !== 'sandbox') return;
    const v = await ctx.client.escrows.view(w.worker);
    if (v.state?.state === ESCROW_OPEN) return;
    await ctx.client.escrows.open(w.worker, toNano('1'), w.prices, loadClientKey({ create: true }).publicKey);
    console.error(`[sandbox] opened an escrow of 1 TON with ${w.worker.toString()}`);
}

export function buildProgram(): Command {
    const program = new Command('cocoon')
        .description('Cocoon client: confidential AI inference paid from an on-chain escrow')
        .addOption(new Option('--network <name>', 'sandbox starts a local network for the command').choices(['sandbox', 'testnet', 'mainnet']).default('testnet'))
        .option('--root <address>', 'the network\'s CocoonRoot (default: $COCOON_ROOT)')
        .option('--toncenter <url>', 'toncenter JSON-RPC endpoint (default: the network\'s)')
        .option('--receipts <file>', 'where the latest receipt per escrow is kept (default: ~/.cocoon/receipts-<network>-<root>.json)')
        .option('-v, --verbose', 'progress on stderr', false)
        .option('--verify-quote', "trust no verifier: check each worker's TDX quote yourself (Intel's chain, TCB status, image, key binding) before the first prompt")
        .option('--collateral <file>', "with --verify-quote: Intel's collateral for the quotes, a JSON file")
        .option('--pccs <url>', 'with --verify-quote: fetch the collateral from this PCCS (e.g. https://api.trustedservices.intel.com)')
        .option('--accept-tcb <statuses>', 'with --verify-quote: TCB statuses accepted, comma-separated (default UpToDate)')
        .showHelpAfterError();

    const capOptions = (c: Command, what: string) => c
        .option('--max-price <ton>', `${what} for every token class (TON per 1M tokens)`, tonArg('--max-price'))
        .option('--max-prompt <ton>', `${what} for prompt tokens (overrides --max-price for them)`, tonArg('--max-prompt', { allowZero: true }))
        .option('--max-cached <ton>', `${what} for cached prompt tokens`, tonArg('--max-cached', { allowZero: true }))
        .option('--max-completion <ton>', `${what} for completion tokens (reasoning included)`, tonArg('--max-completion', { allowZero: true }));

    capOptions(program.command('workers')
        .description('list active workers, cheapest first (3 prompt : 1 completion token), then by settled volume; slashed ones skipped')
        .option('--model <name>', 'only workers attested for this model')
        .option('--include-slashed', 'also list workers with a proven equivocation', false)
        .option('--all', 'also show skipped workers and why', false), 'only workers at or below this price')
        .action(action(program, async (ctx, o: CapOpts & { model?: string; includeSlashed: boolean; all: boolean }) => {
            const r = await ctx.client.listWorkers({ model: o.model, maxPrice: capsOf(o), includeSlashed: o.includeSlashed });
            console.log(formatTable(['worker', 'models', 'prompt/cached/completion TON/1M', 'settled TON (escrows)', 'renewals', 'slashes', 'since', 'attested until', 'stake TON', 'endpoint'],
                r.workers.map((w) => [
                    w.worker.toString(), w.models.join(','), `${ton(w.prices.prompt)}/${ton(w.prices.cached)}/${ton(w.prices.completion)}`,
                    w.reputation ? `${ton(w.reputation.settledVolume)} (${w.reputation.settledEscrows})` : '-',
                    w.reputation ? w.reputation.renewals.toString() : '-', w.reputation ? w.reputation.slashes.toString() : '-',
                    w.reputation && w.reputation.registeredAt > 0n ? formatTime(w.reputation.registeredAt) : '-',
                    formatTime(w.expiresAt), ton(w.stake), w.endpoint,
                ])));
            if (o.all && r.skipped.length) {
                console.log('\nskipped');
                console.log(formatTable(['worker', 'reason'], r.skipped.map((s) => [s.worker.toString(), s.reason])));
            }
            if (r.workers.length === 0) console.error('no active worker matches; try without --model or the caps');
        }));

    capOptions(program.command('open-escrow')
        .description('open (deploy) your escrow with a worker')
        .requiredOption('--worker <address>', 'the Worker contract')
        .requiredOption('--deposit <ton>', 'TON to deposit', tonArg('--deposit')), "your cap (default: the worker's current price of each class)")
        .action(action(program, async (ctx, o: CapOpts & { worker: string; deposit: bigint }) => {
            const w = await ctx.client.listing(parseAddressArg('--worker', o.worker));
            const ck = loadClientKey({ create: true });
            if (ck.created) console.error(`created your client key in ${ck.source} (mode 0600): it signs your API keys; back it up`);
            else console.error(`client key: ${ck.source}`);
            const st = await ctx.client.escrows.open(w.worker, o.deposit, capsOf(o, w.prices)!, ck.publicKey);
            console.log(`escrow ${(await ctx.client.escrows.addressFor(w.worker)).toString()} open: deposit ${ton(st.deposit)} TON, caps ${priceText(st.caps)} TON/1M, epoch ${st.epoch}`);
            console.error(`next: cocoon api-key --worker ${w.worker.toString()} --ttl 7d   (an API key for any OpenAI client, baseURL ${w.endpoint}/v1)`);
        }));

    program.command('top-up')
        .description('add TON to your open escrow')
        .requiredOption('--worker <address>', 'the Worker contract')
        .requiredOption('--amount <ton>', 'TON to add', tonArg('--amount'))
        .action(action(program, async (ctx, o: { worker: string; amount: bigint }) => {
            const w = await ctx.client.listing(parseAddressArg('--worker', o.worker));
            await sandboxEscrow(ctx, w);
            const st = await ctx.client.escrows.topUp(w.worker, o.amount);
            console.log(`deposit now ${ton(st.deposit)} TON`);
        }));

    program.command('escrow')
        .description("your escrow's state with a worker and the latest receipt you hold")
        .requiredOption('--worker <address>', 'the Worker contract')
        .action(action(program, async (ctx, o: { worker: string }) => {
            const worker = parseAddressArg('--worker', o.worker);
            const v = await ctx.client.escrows.view(worker);
            if (!v.state) {
                console.log(`no escrow at ${v.address.toString()} (never opened, refused, or withdrawn)`);
                return;
            }
            const s = v.state;
            const r = ctx.client.receipts.latest(v.address);
            console.log(formatTable(['field', 'value'], [
                ['escrow', v.address.toString()], ['state', stateName(s.state)], ['deposit', `${ton(s.deposit)} TON`], ['paid', `${ton(s.paid)} TON`],
                ['caps prompt/cached/completion', `${priceText(s.caps)} TON/1M`], ['epoch', s.epoch.toString()], ['settled seq', s.lastSeq.toString()],
                ['close at', formatTime(s.closeAt)],
                ['latest receipt held', r ? `seq ${r.seq}, ${r.promptTokens} prompt + ${r.cachedTokens} cached + ${r.completionTokens} completion tokens, ${ton(r.cost)} TON` : '-'],
            ]));
        }));

    program.command('chat')
        .description('send a prompt; the answer streams to stdout, the receipt is checked before exit')
        .argument('<prompt>', 'the user message')
        .option('--worker <address>', 'the Worker contract (default: the cheapest one you have an open escrow with)')
        .option('--model <name>', 'model to ask for (default: the worker\'s)')
        .option('--system <text>', 'a system message')
        .option('--max-tokens <n>', 'completion token limit', intArg('--max-tokens', 1, 1_000_000), 256)
        .option('--no-stream', 'wait for the whole answer')
        .action(action(program, async (ctx, prompt: string, o: { worker?: string; model?: string; system?: string; maxTokens: number; stream: boolean }) => {
            const w = await pickWorker(ctx, o.worker, o.model);
            await sandboxEscrow(ctx, w);
            const session = await ctx.client.session(w);
            const messages = [...(o.system ? [{ role: 'system' as const, content: o.system }] : []), { role: 'user' as const, content: prompt }];
            const out = await session.chat({ model: o.model ?? w.model, messages, max_tokens: o.maxTokens }, {
                stream: o.stream, onDelta: (d) => process.stdout.write(d),
            });
            if (!o.stream) process.stdout.write(out.content);
            process.stdout.write('\n');
            const r = out.receipt;
            console.error(`[receipt seq ${r.seq} verified: ${r.request.promptTokens} prompt + ${r.request.cachedTokens} cached + ${r.request.completionTokens} completion tokens, ${ton(r.requestCost)} TON; ` +
                `escrow total ${r.tokens} tokens, ${ton(r.cost)} TON]`);
        }));

    program.command('api-key')
        .description('print an API key for your escrow with a worker: use it as apiKey in any OpenAI client, with baseURL <endpoint>/v1')
        .option('--worker <address>', 'the Worker contract (the escrow is yours with it)')
        .option('--escrow <address>', 'the escrow address itself (offline: no chain access needed)')
        .requiredOption('--ttl <duration>', 'how long the key works: 3600, 30m, 12h, 7d', durationArg('--ttl'))
        .option('--limit <ton>', 'most it may spend in all, TON (default: no limit beyond the escrow)', tonArg('--limit'))
        .action(async (o: { worker?: string; escrow?: string; ttl: number; limit?: bigint }) => {
            try {
                if (!!o.worker === !!o.escrow) throw new ClientError('CONFIG', 'pass exactly one of --worker and --escrow', 'e.g. cocoon api-key --worker <address> --ttl 7d');
                const ck = loadClientKey();
                const limit = o.limit ?? 0n;
                let escrow: Address;
                let notAfter: number;
                if (o.escrow) {
                    escrow = parseAddressArg('--escrow', o.escrow);
                    notAfter = Math.floor(Date.now() / 1000) + o.ttl;
                } else {
                    const ctx = await context(program.opts<GlobalOpts>());
                    try {
                        const worker = parseAddressArg('--worker', o.worker);
                        escrow = await ctx.client.escrows.addressFor(worker);
                        const st = (await ctx.client.escrows.view(worker)).state;
                        if (!st) console.error(`warning: there is no escrow at ${escrow.toString()} yet (cocoon open-escrow --worker ${worker.toString()})`);
                        else if (st.clientKey !== ck.publicKey) console.error(`warning: escrow ${escrow.toString()} holds another client key than ${ck.source}: the node will refuse this API key (cocoon rotate-key --resume sets yours)`);
                        notAfter = (await ctx.chain.now()) + o.ttl;
                    } finally {
                        await ctx.close();
                    }
                }
                const token = mintApiKey({ escrow, notAfter, limit }, ck.key);
                console.log(token);
                console.error(`API key for escrow ${escrow.toString()}, valid until ${new Date(notAfter * 1000).toISOString()}${limit > 0n ? `, spending at most ${ton(limit)} TON` : ''}; signed by ${ck.source}`);
            } catch (e) {
                console.error(`error: ${(e as Error).message}`);
                process.exitCode = 1;
            }
        });

    program.command('rotate-key')
        .description('make a new client key (the old file kept as a dated backup) and send SetClientKey to every escrow of yours')
        .option('--worker <address...>', "also these workers' escrows (others are found from your receipts and the root's attested workers)")
        .option('--resume', 'no new key: send SetClientKey with the current key to the escrows that do not hold it yet', false)
        .action(action(program, async (ctx, o: { worker?: string[]; resume: boolean }) => {
            const r = await rotateClientKey(ctx.client, {
                resume: o.resume, workers: (o.worker ?? []).map((w) => parseAddressArg('--worker', w)), say: (l) => console.error(l),
            });
            console.log(`${r.updated.length} escrow(s) now hold the new key${r.already.length ? ` (${r.already.length} already did)` : ''}.`);
            console.log('API keys signed by the old key stop working at each worker node within its escrow cache TTL (2 s by default) after SetClientKey;');
            console.log('mint new ones with: cocoon api-key --worker <address> --ttl 7d');
            if (r.failed.length > 0) {
                throw new ClientError('ESCROW', `${r.failed.length} escrow(s) still hold the old key: ${r.failed.map((f) => f.escrow.toString()).join(', ')}`, 'run cocoon rotate-key --resume to try them again.');
            }
        }));

    program.command('close')
        .description('close your escrow: the worker may still claim during the dispute window')
        .requiredOption('--worker <address>', 'the Worker contract')
        .action(action(program, async (ctx, o: { worker: string }) => {
            const w = await ctx.client.listing(parseAddressArg('--worker', o.worker));
            await sandboxEscrow(ctx, w);
            const st = await ctx.client.escrows.close(w.worker);
            console.log(`escrow closing; withdraw after ${formatTime(st.closeAt)}`);
        }));

    program.command('withdraw')
        .description('after the dispute window: take back what is left of the deposit')
        .requiredOption('--worker <address>', 'the Worker contract')
        .action(action(program, async (ctx, o: { worker: string }) => {
            const worker = parseAddressArg('--worker', o.worker);
            if (ctx.network === 'sandbox') {
                const w = await ctx.client.listing(worker);
                await sandboxEscrow(ctx, w);
                const st = await ctx.client.escrows.close(worker);
                ctx.advance!(Number(st.disputeWindow) + 1);
                console.error('[sandbox] closed the escrow and moved the local clock past the dispute window');
            }
            const amount = await ctx.client.escrows.withdraw(worker);
            ctx.client.receipts.forget(await ctx.client.escrows.addressFor(worker));
            console.log(`withdrawn: ${ton(amount)} TON back to ${ctx.client.address.toString()}`);
        }));

    // ---- dashboard (src/dashboard): the network in a browser, actions through TonConnect; runs until Ctrl-C
    program.command('dashboard')
        .description('serve the web dashboard (workers, escrows, actions through TonConnect; --network sandbox: a local network with a development wallet)')
        .option('--port <n>', 'port to listen on (0: any free port)', (v) => {
            const n = Number(v);
            if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ClientError('CONFIG', `--port: "${v}" is not a port`, 'pass 0..65535.');
            return n;
        }, 8081)
        .option('--host <address>', 'address to bind (keep 127.0.0.1 unless a proxy in front serves it)', '127.0.0.1')
        .option('--public-url <url>', 'where people reach the page (HTTPS for real wallets): the TonConnect manifest\'s url')
        .action(async (o: { port: number; host: string; publicUrl?: string }) => {
            const g = program.opts<GlobalOpts>();
            try {
                const { runDashboardCommand } = await import('../src/dashboard/cli');
                await runDashboardCommand({ network: g.network, root: g.root, toncenter: g.toncenter, apiKey: process.env.COCOON_TONCENTER_API_KEY, ...o });
            } catch (e) {
                console.error(`error: ${(e as Error).message}`);
                process.exitCode = 1;
            }
        });

    // ---- gateway (src/gateway, docs/GATEWAY.md): one local OpenAI endpoint in front of the network; runs until Ctrl-C
    const fraction = (name: string) => (v: string) => {
        const n = Number(v);
        if (!/^0?\.\d+$/.test(v.trim()) || !(n > 0 && n < 1)) throw new ClientError('CONFIG', `${name}: "${v}" is not a fraction between 0 and 1`, 'e.g. 0.25.');
        return n;
    };
    const gateway = program.command('gateway')
        .description('run a local OpenAI-compatible endpoint that picks workers, pays them from escrows it manages on a budget, and verifies every receipt (cocoon gateway status: what it holds)');
    gateway.command('run', { isDefault: true })
        .description('run the gateway (the default): --network sandbox starts a local network for it')
        .option('--port <n>', 'port on 127.0.0.1 (0: any free port)', intArg('--port', 0, 65535), 8080)
        .option('--host <address>', 'loopback address to bind (127.0.0.1 or ::1)', '127.0.0.1')
        .option('--budget <ton>', 'most TON deposited at once across all escrows (required off the sandbox)', tonArg('--budget'))
        .option('--per-worker-deposit <ton>', 'what an escrow is opened and topped up with (required off the sandbox)', tonArg('--per-worker-deposit'))
        .option('--max-price <ton>', 'your cap, TON per 1M tokens: no worker above it (required off the sandbox)', tonArg('--max-price'))
        .option('--min-workers <n>', 'keep budget room for escrows with this many workers; healthy only with this many usable', intArg('--min-workers', 1, 64), 1)
        .option('--idle-close <duration>', 'close an escrow unused this long, withdraw after its dispute window', durationArg('--idle-close'), 3600)
        .option('--top-up-below <fraction>', "top up when an escrow's credit falls below this share of --per-worker-deposit", fraction('--top-up-below'), 0.25)
        .option('--lease-margin <duration>', "skip workers whose attestation lease ends sooner", durationArg('--lease-margin'), 300)
        .option('--cooldown <duration>', 'skip a worker this long after it failed', durationArg('--cooldown'), 30)
        .option('--sticky', 'keep a conversation on the same worker while it is usable', false)
        .option('--state-dir <dir>', 'receipts and dropped workers (default ~/.cocoon/gateway/<network>-<root>)')
        .option('--mnemonic-file <file>', 'the wallet\'s 24 words (mode 0600, outside the working directory; default $COCOON_CLIENT_MNEMONIC)')
        .option('--log-level <level>', 'pino log level', 'info')
        .action(async (o: Record<string, unknown>) => {
            const g = program.opts<GlobalOpts>();
            try {
                const { runGatewayCommand } = await import('../src/gateway/cli');
                await runGatewayCommand({ network: g.network, root: g.root, toncenter: g.toncenter, ...o } as Parameters<typeof runGatewayCommand>[0]);
            } catch (e) {
                console.error(`error: ${(e as Error).message}`);
                process.exitCode = 1;
            }
        });
    gateway.command('status')
        .description('what a running gateway holds: escrows, deposits, spent, receipts, pending withdrawals, workers, on-chain actions')
        .option('--url <url>', 'the gateway', 'http://127.0.0.1:8080')
        .option('--json', 'print the JSON of GET /gateway/status', false)
        .action(async (o: { url: string; json: boolean }) => {
            try {
                const { gatewayStatusCommand } = await import('../src/gateway/cli');
                await gatewayStatusCommand(o);
            } catch (e) {
                console.error(`error: ${(e as Error).message}`);
                process.exitCode = 1;
            }
        });

    return program;
}

/** Runs the CLI (ts-node bin/cocoon.ts, or the bin/cocoon.js shim). */
export function main(argv: string[] = process.argv): void {
    buildProgram().parseAsync(argv).catch((e) => {
        console.error(`error: ${(e as Error).message}`);
        process.exitCode = 1;
    });
}

// Run directly (ts-node bin/cocoon.ts) or through the bin/cocoon.js shim (bin/run.js requires this
// file); a test that imports buildProgram runs nothing.
if (require.main === module || /[\\/]bin[\\/]run\.js$/.test(module.parent?.filename ?? '')) main();

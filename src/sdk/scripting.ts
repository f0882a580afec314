// Blueprint glue: a Blueprint NetworkProvider as a Chain, CocoonOps bound to it, and what every
// `npx blueprint run` script shares (its arguments, the root, addresses as people read them, the
// reports of governance proposals). The operations themselves are in ops.ts.
import { Address, Contract, OpenedContract, Sender } from '@ton/core';
import type { Params } from './contracts';
import { SandboxChain, RemoteChain, type Chain, type NetworkName } from './chain';
import { CocoonOps, type OpsOptions } from './ops';
import { escrowFor } from './addresses';
import { proposalRows, type PendingProposal } from './governance';
import { ArgReader, parseAddress, type Prompter } from './validate';
import { formatAddress, formatKeyValues, formatTime, formatHex256 } from './format';

/** The part of Blueprint's NetworkProvider the SDK uses; `sandbox` marks a sandbox-backed provider. */
export interface ProviderLike {
    network(): string;
    sender(): Sender;
    open<T extends Contract>(contract: T): OpenedContract<T>;
    /** Set by test harnesses that back the provider with @ton/sandbox. */
    sandbox?: import('@ton/sandbox').Blockchain;
}

export function chainFromProvider(p: ProviderLike): Chain {
    if (p.sandbox) return new SandboxChain(p.sandbox);
    const n = p.network();
    const name: NetworkName = n === 'mainnet' || n === 'testnet' ? n : 'custom';
    return new RemoteChain(name, p);
}

/** Ops over a Blueprint provider; root from `rootArg`, else the COCOON_ROOT environment variable. */
export function opsFromProvider(p: ProviderLike, rootArg?: string | Address | null, opts: OpsOptions = {}): CocoonOps {
    const raw = rootArg ?? process.env.COCOON_ROOT ?? null;
    let root: Address | null = null;
    if (raw) {
        try {
            root = raw instanceof Address ? raw : Address.parse(raw.trim());
        } catch {
            throw new Error(`root: "${raw}" is not a TON address`);
        }
    }
    return new CocoonOps(chainFromProvider(p), p.sender(), root, opts);
}


/** The part of Blueprint's NetworkProvider a script uses. */
export interface ScriptProvider extends ProviderLike {
    ui(): Prompter & { write(message: string): void };
}

export interface ScriptContext {
    ops: CocoonOps;
    args: ArgReader;
    network: NetworkName;
    write(line: string): void;
    /** An address as people read it on this network (test-only flag off mainnet). */
    addr(a: Address | null | undefined, bounceable?: boolean): string;
    /** The escrow named by escrow=, else the sender's escrow with worker= (or operator=). */
    escrowArg(): Promise<Address>;
}

/**
 * Everything a Blueprint script needs: parsed args (`positional` names bare words), the root from
 * root= or COCOON_ROOT (asked for when `needsRoot` and missing), and ops bound to the provider.
 */
export async function scriptContext(provider: ScriptProvider, argv: string[], positional: string[] = [], needsRoot = true): Promise<ScriptContext> {
    const ui = provider.ui();
    const args = new ArgReader(argv, positional, ui);
    let root: Address | null = null;
    const rootRaw = args.optional('root') ?? process.env.COCOON_ROOT;
    if (rootRaw) root = parseAddress('root', rootRaw);
    else if (needsRoot) root = await args.address('root', 'CocoonRoot address (or set COCOON_ROOT):');
    const ops = new CocoonOps(chainFromProvider(provider), provider.sender(), root);
    const network = ops.chain.network;
    const addr = (a: Address | null | undefined, bounceable = true) => formatAddress(a, network, bounceable);
    const escrowArg = async () => {
        if (args.has('escrow')) return parseAddress('escrow', args.optional('escrow'));
        let worker: Address;
        if (args.has('worker')) worker = parseAddress('worker', args.optional('worker'));
        else if (args.has('operator')) worker = await ops.workerOf(parseAddress('operator', args.optional('operator')));
        else return args.address('escrow', 'ClientEscrow address:');
        return (await escrowFor(worker, ops.me)).address;
    };
    return { ops, args, network, write: (l) => ui.write(l), addr, escrowArg };
}

/** Prints a change just proposed: its id, when it acts, and how to execute or cancel it. */
export function reportProposed(ctx: Pick<ScriptContext, 'write'>, r: { id: bigint; eta: number; description: string }): void {
    ctx.write(`Proposed: ${r.description}`);
    ctx.write(formatKeyValues('proposal', [['id', formatHex256(r.id)], ['eta', formatTime(r.eta)]]));
    ctx.write(`Anyone can execute it from ${formatTime(r.eta)}: npx blueprint run execute id=${formatHex256(r.id)}`);
    ctx.write(`Until then the owner can withdraw it: npx blueprint run cancel id=${formatHex256(r.id)}`);
}

/** Prints the pending proposals with the time left (status). */
export function reportPending(ctx: Pick<ScriptContext, 'write'>, pending: PendingProposal[], current?: Params): void {
    if (!pending.length) {
        ctx.write('pending proposals: none');
        return;
    }
    ctx.write(`pending proposals: ${pending.length}`);
    for (const p of pending) {
        ctx.write('');
        ctx.write(formatKeyValues('proposal', proposalRows(p, current)));
    }
}

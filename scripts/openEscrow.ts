// Opens the sender's ClientEscrow with a worker (given by worker= or operator=) and deposits TON.
// npx blueprint run openEscrow --testnet --tonconnect operator=<address> deposit=5 maxPrice=0.5
// maxPrice= caps every token class; maxPrompt= maxCached= maxCompletion= cap one class each.
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, parseAddress, parseTon, formatTon, formatPrices, formatKeyValues, formatHex256, attachFor } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['worker', 'deposit', 'maxPrice']);
    const worker = a.has('operator')
        ? await ops.workerOf(parseAddress('operator', a.optional('operator')))
        : await a.address('worker', 'Worker contract address:');
    const deposit = await a.ton('deposit', 'Deposit (TON):');
    const perClass = a.has('maxPrompt') || a.has('maxCached') || a.has('maxCompletion');
    const base = perClass && !a.has('maxPrice') ? undefined : await a.ton('maxPrice', 'Your maximum price for every token class (TON per 1M tokens):');
    const cap = (name: 'maxPrompt' | 'maxCached' | 'maxCompletion') => {
        const v = a.optional(name);
        if (v !== undefined) return parseTon(name, v);
        if (base === undefined) throw new Error(`${name}: give it, or maxPrice= for the classes not given`);
        return base;
    };
    const maxPrice = { prompt: cap('maxPrompt'), cached: cap('maxCached'), completion: cap('maxCompletion') };
    write(`Attaching ${formatTon(deposit + attachFor('openEscrow'))} (deposit + fees; the unused part comes back)`);
    const clientKey = await a.uint256('clientKey', "Your client public key (0x…; it signs your API keys — `cocoon open-escrow` creates one in ~/.cocoon/client-key):");
    const r = await ops.openEscrow(worker, deposit, maxPrice, clientKey);
    write(formatKeyValues('escrow', [
        ['escrow', addr(r.escrow)],
        ['worker', addr(worker)],
        ['deposit', formatTon(r.deposit)],
        ['caps', formatPrices(r.caps)],
        ['epoch', r.epoch.toString()],
        ['teeKey', formatHex256(r.teeKey)],
    ]));
    write(`Mint an API key for your requests with: cocoon api-key --worker ${addr(worker)} (signed with your client key).`);
}

// Sets the sender's Worker prices per token class, in TON per million tokens (each at most the root's
// maxPrice): price= for every class, or prompt= cached= completion= (the classes not given take price=).
// npx blueprint run setPrice --testnet --tonconnect price=0.2
// npx blueprint run setPrice --testnet --tonconnect prompt=0.1 cached=0.025 completion=0.4
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatPrices, parseTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['price']);
    const perClass = a.has('prompt') || a.has('cached') || a.has('completion');
    const base = perClass && !a.has('price') ? undefined : await a.ton('price', 'Price for every token class (TON per 1M tokens):');
    const cls = (name: 'prompt' | 'cached' | 'completion') => {
        const v = a.optional(name);
        if (v !== undefined) return parseTon(name, v);
        if (base === undefined) throw new Error(`${name}: give it, or price= for the classes not given`);
        return base;
    };
    const r = await ops.setPrice({ prompt: cls('prompt'), cached: cls('cached'), completion: cls('completion') });
    write(`Worker ${addr(r.worker)} prices: ${formatPrices(r.price.before)} -> ${formatPrices(r.price.after)}`);
}

// Sets the sender's Worker price, in TON per million tokens (at most the root's maxPrice).
// npx blueprint run setPrice --testnet --tonconnect price=0.2
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatPrice } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['price']);
    const price = await a.ton('price', 'Price (TON per 1M tokens):');
    const r = await ops.setPrice(price);
    write(`Worker ${addr(r.worker)} price: ${formatPrice(r.price.before)} -> ${formatPrice(r.price.after)}`);
}

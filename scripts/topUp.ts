// Adds TON to the sender's open escrow (escrow=, or worker=/operator= to derive it).
// npx blueprint run topUp --testnet --tonconnect escrow=<address> amount=2
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, formatTon } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr, escrowArg } = await scriptContext(provider, args, ['escrow', 'amount']);
    const escrow = await escrowArg();
    const amount = await a.ton('amount', 'Amount to add (TON):');
    const r = await ops.topUpEscrow(escrow, amount);
    write(`Escrow ${addr(r.escrow)} deposit: ${formatTon(r.deposit.before)} -> ${formatTon(r.deposit.after)}`);
}

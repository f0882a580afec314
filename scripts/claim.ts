// Settles a receipt signed by the worker's TEE key (anyone may send it; the operator usually does).
// file: the cocoon_receipt JSON a worker node returns (alone or the whole response) or a SignedReceipt BOC.
// npx blueprint run claim --testnet --tonconnect file=receipt.json
import { readFileSync } from 'node:fs';
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, readSignedReceipt, parseAddress, formatTon, formatKeyValues } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['file'], false);
    const file = await a.text('file', 'Receipt file (cocoon_receipt JSON or BOC):');
    const signed = readSignedReceipt(readFileSync(file, 'utf8'));
    const escrow = a.has('escrow') ? parseAddress('escrow', a.optional('escrow')) : signed.receipt.escrow;
    const r = await ops.claim(escrow, signed);
    write(formatKeyValues('claim', [
        ['escrow', addr(r.escrow)],
        ['seq', r.seq.toString()],
        ['tokens', `${signed.receipt.promptTokens} prompt, ${signed.receipt.cachedTokens} cached, ${signed.receipt.completionTokens} completion`],
        ['paid', formatTon(r.paid)],
        ['protocol fee', formatTon(r.fee)],
        ['to operator', formatTon(r.toOperator)],
    ]));
}

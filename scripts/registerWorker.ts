// Registers the sending wallet as an operator: the root checks the attestation and deploys the
// operator's Worker with the stake. Also re-attests (new TEE key / expiry) with stake=0.
// file: the SignedAttestation as BOC (base64/hex) or JSON with attestationBoc (GET /attestation).
// npx blueprint run registerWorker --testnet --tonconnect file=attestation.json stake=100
import { readFileSync } from 'node:fs';
import { NetworkProvider } from '@ton/blueprint';
import { scriptContext, readSignedAttestation, formatTon, formatTime, formatHex256, formatKeyValues, attachFor } from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args, ['file', 'stake']);
    const file = await a.text('file', 'SignedAttestation file (BOC base64 or JSON):');
    const attestation = readSignedAttestation(readFileSync(file, 'utf8'));
    const stake = await a.ton('stake', 'Stake to bond (TON; 0 to re-attest only):');
    write(`Attaching ${formatTon(stake + attachFor('registerWorker'))} (stake + fees; the unused part comes back)`);
    const r = await ops.registerWorker(attestation, stake);
    write(formatKeyValues('worker', [
        ['worker', addr(r.worker)],
        ['stake', `${formatTon(r.stake.before)} -> ${formatTon(r.stake.after)}`],
        ['teeKey', formatHex256(r.teeKey)],
        ['measurement', formatHex256(r.measurement)],
        ['expiresAt', formatTime(r.expiresAt)],
        ['active', String(r.active)],
    ]));
}

// Writes tests/vectors/signing.json: fixed test vectors for the signed payloads (attestation
// statement, SignedAttestation, receipt, SignedReceipt), so another implementation can check itself.
// Run: npx ts-node tests/vectors/generate.ts   (then review the diff: the vectors are a contract)
// tests/Sdk.spec.ts checks the SDK against the committed file; it fails if an encoding changes.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Address } from '@ton/core';
import {
    keyFromSeed, publicKeyToBigInt, signStatement, signReceipt, signedReceiptCell, type Statement, type UsageReceipt,
} from '../../src/sdk';

const sha = (s: string) => createHash('sha256').update(s).digest();
const addr = (label: string) => new Address(0, sha('cocoon-vector:' + label));
const hex256 = (v: bigint) => '0x' + v.toString(16).padStart(64, '0');

function attestationVector(name: string, seedLabel: string, s: Statement) {
    const seed = sha(seedLabel);
    const key = keyFromSeed(seed);
    const a = signStatement(s, key);
    return {
        name,
        verifierSeed: seed.toString('hex'),
        verifierPublicKey: key.publicKey.toString('hex'),
        statement: {
            root: s.root.toRawString(), operator: s.operator.toRawString(), expiresAt: s.expiresAt, issuedAt: s.issuedAt,
            teeKey: hex256(s.teeKey), measurement: hex256(s.measurement), tlsKeyHash: hex256(s.tlsKeyHash),
        },
        statementHash: a.statementCell.hash().toString('hex'),
        statementBoc: a.statementCell.toBoc().toString('base64'),
        signature: a.signature.toString('hex'),
        signedAttestationHash: a.cell.hash().toString('hex'),
        signedAttestationBoc: a.cell.toBoc().toString('base64'),
    };
}

function receiptVector(name: string, seedLabel: string, r: UsageReceipt) {
    const seed = sha(seedLabel);
    const key = keyFromSeed(seed);
    const s = signReceipt(r, key);
    const signed = signedReceiptCell(s);
    return {
        name,
        teeSeed: seed.toString('hex'),
        teePublicKey: key.publicKey.toString('hex'),
        receipt: { escrow: r.escrow.toRawString(), epoch: r.epoch.toString(), seq: r.seq.toString(), tokens: r.tokens.toString(), cost: r.cost.toString() },
        receiptHash: s.cell.hash().toString('hex'),
        receiptBoc: s.cell.toBoc().toString('base64'),
        signature: s.signature.toString('hex'),
        signedReceiptHash: signed.hash().toString('hex'),
        signedReceiptBoc: signed.toBoc().toString('base64'),
    };
}

const tee1 = publicKeyToBigInt(keyFromSeed(sha('cocoon-vector:tee-1')).publicKey);
const vectors = {
    description: 'Cocoon-TON signing vectors. Seeds are ed25519 32-byte seeds (RFC 8032). Hashes are TON cell representation hashes; the signature is ed25519 over the 32-byte cell hash. BOCs are standard bag-of-cells, base64, @ton/core toBoc() defaults (no index, crc32c). Layouts: docs/SIGNING.md.',
    tags: { attestation: '0x43415454', receipt: '0x43524354' },
    attestations: [
        attestationVector('typical', 'cocoon-vector:verifier-1', {
            root: addr('root'), operator: addr('operator'), expiresAt: 1_800_604_800, issuedAt: 1_800_000_000,
            teeKey: tee1, measurement: BigInt('0x' + sha('cocoon-worker-image:v1|llama-3-8b-instruct').toString('hex')),
            tlsKeyHash: BigInt('0x' + sha('tls:operator').toString('hex')),
        }),
        attestationVector('extremes', 'cocoon-vector:verifier-2', {
            root: new Address(0, Buffer.alloc(32, 0)), operator: new Address(0, Buffer.alloc(32, 0xff)),
            expiresAt: 0xffffffff, issuedAt: 0, teeKey: 1n, measurement: (1n << 256n) - 1n, tlsKeyHash: 0n,
        }),
    ],
    receipts: [
        receiptVector('typical', 'cocoon-vector:tee-1', { escrow: addr('escrow'), epoch: 47_000_000_000_001n, seq: 3n, tokens: 12_345n, cost: 6_172_500n }),
        receiptVector('extremes', 'cocoon-vector:tee-2', { escrow: addr('escrow-2'), epoch: (1n << 64n) - 1n, seq: 1n, tokens: 0n, cost: 0n }),
        receiptVector('large', 'cocoon-vector:tee-1', { escrow: addr('escrow'), epoch: 1n, seq: (1n << 64n) - 1n, tokens: (1n << 64n) - 1n, cost: (1n << 120n) - 1n }),
    ],
};

const out = join(__dirname, 'signing.json');
writeFileSync(out, JSON.stringify(vectors, null, 2) + '\n');
console.log(`wrote ${out}`);

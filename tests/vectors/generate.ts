// Writes tests/vectors/signing.json: fixed test vectors for the signed payloads (attestation
// statement, SignedAttestation, receipt, SignedReceipt), so another implementation can check itself.
// Run: npx ts-node tests/vectors/generate.ts   (then review the diff: the vectors are a contract)
// tests/Sdk.spec.ts checks the SDK against the committed file; it fails if an encoding changes.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Address } from '@ton/core';
import {
    keyFromSeed, publicKeyToBigInt, signStatementWith, signedAttestation, signReceipt, signedReceiptCell, keyBinding, TCB_STATUS,
    mintApiKey, parseApiKey, apiKeyPayload, type ApiKeyTerms, capCost,
    type Statement, type UsageReceipt, type PriceSet, type ClassTokens,
} from '../../src/sdk';

const sha = (s: string) => createHash('sha256').update(s).digest();
const addr = (label: string) => new Address(0, sha('cocoon-vector:' + label));
const hex256 = (v: bigint) => '0x' + v.toString(16).padStart(64, '0');

function attestationVector(name: string, seedLabels: string[], s: Statement) {
    const seeds = seedLabels.map(sha);
    const keys = seeds.map((seed) => keyFromSeed(seed));
    const a = signedAttestation(s, keys.map((k) => signStatementWith(s, k)));
    return {
        name,
        verifiers: seeds.map((seed, i) => ({
            seed: seed.toString('hex'),
            publicKey: keys[i].publicKey.toString('hex'),
            signature: signStatementWith(s, keys[i]).signature.toString('hex'),
        })),
        statement: {
            root: s.root.toRawString(), operator: s.operator.toRawString(), expiresAt: s.expiresAt, issuedAt: s.issuedAt,
            teeKey: hex256(s.teeKey), measurement: hex256(s.measurement), tlsKeyHash: hex256(s.tlsKeyHash),
            quoteHash: hex256(s.quoteHash), tcbStatus: s.tcbStatus, fmspc: '0x' + s.fmspc.toString(16).padStart(12, '0'),
        },
        statementHash: a.statementCell.hash().toString('hex'),
        statementBoc: a.statementCell.toBoc().toString('base64'),
        /** Signatures in the order they are on the wire (keys ascending). */
        wireOrder: a.signatures.map((x) => x.verifierKey.toString(16).padStart(64, '0')),
        signedAttestationHash: a.cell.hash().toString('hex'),
        signedAttestationBoc: a.cell.toBoc().toString('base64'),
    };
}

function apiKeyVector(name: string, seedLabel: string, t: ApiKeyTerms) {
    const seed = sha(seedLabel);
    const key = keyFromSeed(seed);
    const token = mintApiKey(t, key);
    const k = parseApiKey(token);
    return {
        name,
        clientSeed: seed.toString('hex'),
        clientPublicKey: key.publicKey.toString('hex'),
        terms: { escrow: t.escrow.toRawString(), notAfter: t.notAfter, limit: t.limit.toString(), nonce: t.nonce.toString() },
        payload: apiKeyPayload(t).toString('hex'),
        signature: k.signature.toString('hex'),
        id: k.id,
        token,
    };
}

function bindingVector(name: string, b: { root: Address; operator: Address; teeKey: bigint; tlsKeyHash: bigint }) {
    return {
        name,
        root: b.root.toRawString(), operator: b.operator.toRawString(), teeKey: hex256(b.teeKey), tlsKeyHash: hex256(b.tlsKeyHash),
        reportData: keyBinding(b).toString('hex'),
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
        receipt: {
            escrow: r.escrow.toRawString(), epoch: r.epoch.toString(), seq: r.seq.toString(),
            promptTokens: r.promptTokens.toString(), cachedTokens: r.cachedTokens.toString(), completionTokens: r.completionTokens.toString(), cost: r.cost.toString(),
        },
        receiptHash: s.cell.hash().toString('hex'),
        receiptBoc: s.cell.toBoc().toString('base64'),
        signature: s.signature.toString('hex'),
        signedReceiptHash: signed.hash().toString('hex'),
        signedReceiptBoc: signed.toBoc().toString('base64'),
    };
}

/** The pricing rule (docs/SIGNING.md "Pricing rule"): a request moving the class totals from t0 to t1 at prices p. */
const M = 1_000_000n;
const cum = (t: ClassTokens, p: PriceSet) => (t.promptTokens * p.prompt) / M + (t.cachedTokens * p.cached) / M + (t.completionTokens * p.completion) / M;
function pricingVector(name: string, t0: ClassTokens, c0: bigint, request: ClassTokens, prices: PriceSet, caps: PriceSet) {
    const t1 = { promptTokens: t0.promptTokens + request.promptTokens, cachedTokens: t0.cachedTokens + request.cachedTokens, completionTokens: t0.completionTokens + request.completionTokens };
    let c1 = c0 + cum(t1, prices) - cum(t0, prices);
    const cap = capCost(t1, caps);
    if (c1 > cap) c1 = cap < c0 ? c0 : cap;
    const s = (t: ClassTokens) => ({ promptTokens: t.promptTokens.toString(), cachedTokens: t.cachedTokens.toString(), completionTokens: t.completionTokens.toString() });
    const sp = (p: PriceSet) => ({ prompt: p.prompt.toString(), cached: p.cached.toString(), completion: p.completion.toString() });
    return { name, before: { ...s(t0), cost: c0.toString() }, request: s(request), prices: sp(prices), caps: sp(caps), after: { ...s(t1), cost: c1.toString() }, requestCost: (c1 - c0).toString(), capCost: cap.toString() };
}
const cls = (promptTokens: bigint, cachedTokens: bigint, completionTokens: bigint): ClassTokens => ({ promptTokens, cachedTokens, completionTokens });

const tee1 = publicKeyToBigInt(keyFromSeed(sha('cocoon-vector:tee-1')).publicKey);
const vectors = {
    description: 'Cocoon-TON signing vectors. Seeds are ed25519 32-byte seeds (RFC 8032). Hashes are TON cell representation hashes; the signature is ed25519 over the 32-byte cell hash. BOCs are standard bag-of-cells, base64, @ton/core toBoc() defaults (no index, crc32c). Layouts: docs/SIGNING.md.',
    tags: { attestation: '0x43415454', receipt: '0x43524332', apiKey: '0x43415049' },
    keyBindingDomain: 'cocoon-ton/tdx-binding/v1',
    attestations: [
        attestationVector('typical', ['cocoon-vector:verifier-1'], {
            root: addr('root'), operator: addr('operator'), expiresAt: 1_800_604_800, issuedAt: 1_800_000_000,
            teeKey: tee1, measurement: BigInt('0x' + sha('cocoon-worker-image:v1|llama-3-8b-instruct').toString('hex')),
            tlsKeyHash: BigInt('0x' + sha('tls:operator').toString('hex')),
            quoteHash: BigInt('0x' + sha('cocoon-vector:quote').toString('hex')), tcbStatus: TCB_STATUS.UpToDate, fmspc: 0x50806f000000n,
        }),
        attestationVector('development (no quote)', ['cocoon-vector:verifier-1'], {
            root: addr('root'), operator: addr('operator'), expiresAt: 1_800_604_800, issuedAt: 1_800_000_000,
            teeKey: tee1, measurement: BigInt('0x' + sha('cocoon-worker-image:v1|llama-3-8b-instruct').toString('hex')),
            tlsKeyHash: BigInt('0x' + sha('tls:operator').toString('hex')), quoteHash: 0n, tcbStatus: TCB_STATUS.None, fmspc: 0n,
        }),
        attestationVector('quorum of three', ['cocoon-vector:verifier-1', 'cocoon-vector:verifier-2', 'cocoon-vector:verifier-3'], {
            root: addr('root'), operator: addr('operator'), expiresAt: 1_800_604_800, issuedAt: 1_800_000_000,
            teeKey: tee1, measurement: BigInt('0x' + sha('cocoon-worker-image:v1|llama-3-8b-instruct').toString('hex')),
            tlsKeyHash: BigInt('0x' + sha('tls:operator').toString('hex')),
            quoteHash: BigInt('0x' + sha('cocoon-vector:quote').toString('hex')), tcbStatus: TCB_STATUS.OutOfDate, fmspc: 0x00806f050000n,
        }),
        attestationVector('extremes', ['cocoon-vector:verifier-2'], {
            root: new Address(0, Buffer.alloc(32, 0)), operator: new Address(0, Buffer.alloc(32, 0xff)),
            expiresAt: 0xffffffff, issuedAt: 0, teeKey: 1n, measurement: (1n << 256n) - 1n, tlsKeyHash: 0n,
            quoteHash: (1n << 256n) - 1n, tcbStatus: 255, fmspc: (1n << 48n) - 1n,
        }),
    ],
    apiKeys: [
        apiKeyVector('typical: 7 days, 1.5 TON limit', 'cocoon-vector:client-1', { escrow: addr('escrow'), notAfter: 1_800_604_800, limit: 1_500_000_000n, nonce: 0x0123456789abcdefn }),
        apiKeyVector('no limit', 'cocoon-vector:client-1', { escrow: addr('escrow'), notAfter: 1_800_086_400, limit: 0n, nonce: 1n }),
        apiKeyVector('extremes (masterchain escrow)', 'cocoon-vector:client-2', { escrow: new Address(-1, Buffer.alloc(32, 0xff)), notAfter: 0xffffffff, limit: (1n << 64n) - 1n, nonce: (1n << 64n) - 1n }),
    ],
    keyBindings: [
        bindingVector('typical', { root: addr('root'), operator: addr('operator'), teeKey: tee1, tlsKeyHash: BigInt('0x' + sha('tls:operator').toString('hex')) }),
        bindingVector('masterchain root, zeros', { root: new Address(-1, Buffer.alloc(32, 0x11)), operator: new Address(0, Buffer.alloc(32, 0)), teeKey: 0n, tlsKeyHash: 0n }),
    ],
    receipts: [
        // 8,000 prompt at 0.5 TON, 2,000 cached at 0.125 TON, 2,345 completion at 1.5 TON per 1M tokens
        receiptVector('typical', 'cocoon-vector:tee-1', { escrow: addr('escrow'), epoch: 47_000_000_000_001n, seq: 3n, promptTokens: 8_000n, cachedTokens: 2_000n, completionTokens: 2_345n, cost: 7_767_500n }),
        receiptVector('extremes', 'cocoon-vector:tee-2', { escrow: addr('escrow-2'), epoch: (1n << 64n) - 1n, seq: 1n, promptTokens: 0n, cachedTokens: 0n, completionTokens: 0n, cost: 0n }),
        receiptVector('large', 'cocoon-vector:tee-1', { escrow: addr('escrow'), epoch: 1n, seq: (1n << 64n) - 1n, promptTokens: (1n << 64n) - 1n, cachedTokens: (1n << 64n) - 1n, completionTokens: (1n << 64n) - 1n, cost: (1n << 120n) - 1n }),
    ],
    pricing: [
        pricingVector('first request', cls(0n, 0n, 0n), 0n, cls(1_200n, 300n, 450n),
            { prompt: 500_000_000n, cached: 125_000_000n, completion: 1_500_000_000n }, { prompt: 500_000_000n, cached: 125_000_000n, completion: 1_500_000_000n }),
        pricingVector('each class rounds down on its own cumulative total', cls(3n, 1n, 2n), 1n, cls(1n, 2n, 1n),
            { prompt: 333_333n, cached: 111_111n, completion: 777_777n }, { prompt: 333_333n, cached: 111_111n, completion: 777_777n }),
        pricingVector('a price change: the increment at the new prices', cls(1_000_000n, 0n, 500_000n), 1_250_000_000n, cls(1_000_000n, 2_000_000n, 500_000n),
            { prompt: 400_000_000n, cached: 100_000_000n, completion: 1_200_000_000n }, { prompt: 500_000_000n, cached: 125_000_000n, completion: 1_500_000_000n }),
        pricingVector('clamped to the caps', cls(10n, 0n, 10n), 0n, cls(1_000_000n, 0n, 0n),
            { prompt: 900_000_000n, cached: 0n, completion: 900_000_000n }, { prompt: 500_000_000n, cached: 500_000_000n, completion: 2_000_000_000n }),
    ],
};

const out = join(__dirname, 'signing.json');
writeFileSync(out, JSON.stringify(vectors, null, 2) + '\n');
console.log(`wrote ${out}`);

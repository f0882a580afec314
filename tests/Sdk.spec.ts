import '@ton/test-utils';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, toNano, Transaction } from '@ton/core';
import { loadConfigParamsAsSlice, configParseGasLimitsPrices, configParseMsgPrices } from '@ton/ton';
import {
    NO_QUOTE, signStatementWith, signedAttestation, keyBinding, loadSignedAttestation, workerRegistrations,
    validateModelName, modelNames,
    mintApiKey, parseApiKey, verifyApiKey, apiKeyPayload, clientPublicKeyObject,
    CocoonOps, SandboxChain, CocoonError, defaultParams, keyFromSeed, publicKeyToBigInt, signStatement, signReceipt,
    signedReceiptCell, buildStatementCell, signedAttestationCell, parseSignedAttestation, verifySignedAttestation,
    buildReceiptCell, parseSignedReceiptCell, storeAttestationStatement, storeAttestedKeys, storeReceipt,
    readSignedAttestation, readSignedReceipt, parseAddress, parseTon, parseUint256, parseArgs, validateParams,
    requirePositive, validateEndpoint, computeFee, forwardFee, chainFee, workerDeployFee, feeTable, requiredFor, attachFor, pricesFrom, BASECHAIN_PRICES,
    formatTon, formatTable, formatAddress, formatBps, formatDuration, formatPrice, workerAttestedEvents, listWorkers,
    fetchRootTransactions, escrowFor, failureIn, ArgReader, CocoonRoot,
    WORKER_STORAGE_RESERVE, ESCROW_STORAGE_RESERVE, TAG_ATTESTATION, TAG_RECEIPT, STATUS_ACTIVE, STATUS_UNBONDING,
    STATUS_SLASHED, GAS_ROOT_ATTEST, FWD_CELLS, FWD_BITS, WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS,
    GAS_WORKER_RESULT, GAS_WORKER_OP, GAS_WORKER_SLASH, GAS_ROOT_SYNC, GAS_ROOT_PAY, GAS_ROOT_DEACTIVATE,
    GAS_ESCROW_OPEN, GAS_WORKER_QUERY, GAS_ESCROW_INFO, GAS_ESCROW_CLAIM, GAS_ROOT_FEE, GAS_SIMPLE,
    ERR_PAUSED, ERR_PRICE_TOO_HIGH, ERR_BAD_RECEIPT, ERR_NOT_OWNER, ERR_STAKE_TOO_LOW,
    asPrices, pricesWithin, capCost, nextCost, maxPriceOf, typicalPrice, byPriceThenStake, describePrices, formatPrices, receiptTokens,
    type Statement, type Ed25519Key, type SignedUsageReceipt,
} from '../src/sdk';

const vectors = JSON.parse(readFileSync(join(__dirname, 'vectors', 'signing.json'), 'utf8'));
const sha = (s: string) => createHash('sha256').update(s).digest();
const key = (label: string) => keyFromSeed(sha('cocoon-sdk-test:' + label));
const MODEL = 'llama-3-8b-instruct';
const MEASUREMENT = BigInt('0x' + sha('cocoon-worker-image:v1|' + MODEL).toString('hex'));
const NOW = 1_800_000_000;

describe('signing vectors (tests/vectors/signing.json)', () => {
    it.each(vectors.attestations.map((v: any) => [v.name, v]) as [string, any][])('attestation %s', (_n: string, v: any) => {
        const s: Statement = {
            root: Address.parseRaw(v.statement.root), operator: Address.parseRaw(v.statement.operator),
            expiresAt: v.statement.expiresAt, issuedAt: v.statement.issuedAt,
            teeKey: BigInt(v.statement.teeKey), measurement: BigInt(v.statement.measurement), tlsKeyHash: BigInt(v.statement.tlsKeyHash),
            quoteHash: BigInt(v.statement.quoteHash), tcbStatus: v.statement.tcbStatus, fmspc: BigInt(v.statement.fmspc),
        };
        const cell = buildStatementCell(s);
        expect(cell.hash().toString('hex')).toBe(v.statementHash);
        expect(cell.toBoc().toString('base64')).toBe(v.statementBoc);
        // the contract's own layout (Tact-generated codec) gives the same cell
        const keys = beginCell().store(storeAttestedKeys({ $$type: 'AttestedKeys', teeKey: s.teeKey, measurement: s.measurement, tlsKeyHash: s.tlsKeyHash })).endCell();
        const tact = beginCell().store(storeAttestationStatement({
            $$type: 'AttestationStatement', tag: TAG_ATTESTATION, root: s.root, operator: s.operator,
            expiresAt: BigInt(s.expiresAt), issuedAt: BigInt(s.issuedAt),
            quoteHash: s.quoteHash, tcbStatus: BigInt(s.tcbStatus), fmspc: s.fmspc, keys,
        })).endCell();
        expect(tact.hash().toString('hex')).toBe(v.statementHash);
        const verifiers = v.verifiers.map((x: any) => {
            const k = keyFromSeed(Buffer.from(x.seed, 'hex'));
            expect(k.publicKey.toString('hex')).toBe(x.publicKey);
            return k;
        });
        const sigs = verifiers.map((k: any) => signStatementWith(s, k));
        expect(sigs.map((x: any) => x.signature.toString('hex'))).toEqual(v.verifiers.map((x: any) => x.signature));
        const signed = signedAttestation(s, sigs);
        expect(signed.signatures.map((x) => x.verifierKey.toString(16).padStart(64, '0'))).toEqual(v.wireOrder);
        expect(signed.cell.hash().toString('hex')).toBe(v.signedAttestationHash);
        expect(signed.cell.toBoc().toString('base64')).toBe(v.signedAttestationBoc);
        // the same signatures given in another order make the same cell
        expect(signedAttestation(s, [...sigs].reverse()).cell.hash().toString('hex')).toBe(v.signedAttestationHash);
        const fromBoc = Cell.fromBase64(v.signedAttestationBoc);
        const parsed = parseSignedAttestation(fromBoc);
        expect(buildStatementCell(parsed.statement).hash().toString('hex')).toBe(v.statementHash);
        expect([parsed.statement.quoteHash, parsed.statement.tcbStatus, parsed.statement.fmspc]).toEqual([s.quoteHash, s.tcbStatus, s.fmspc]);
        expect(parsed.statement.operator.equals(s.operator)).toBe(true);
        expect(parsed.signatures.map((x) => x.verifierKey.toString(16).padStart(64, '0'))).toEqual(v.wireOrder);
        expect(verifySignedAttestation(parsed)).toBe(true);
        expect(signedAttestationCell(cell, parsed.signatures).hash().toString('hex')).toBe(v.signedAttestationHash);
        // the contract's own codec reads the first signature and the list
        const tactSigned = loadSignedAttestation(fromBoc.beginParse());
        expect(tactSigned.verifierKey.toString(16).padStart(64, '0')).toBe(v.wireOrder[0]);
        expect(tactSigned.more === null).toBe(v.wireOrder.length === 1);
        // the script's file reader takes the BOC alone or the node's /attestation JSON
        expect(readSignedAttestation(v.signedAttestationBoc).cell.hash().toString('hex')).toBe(v.signedAttestationHash);
        expect(readSignedAttestation(JSON.stringify({ attestationBoc: v.signedAttestationBoc })).signatures.length).toBe(v.verifiers.length);
    });

    it('refuses a key counted twice and checks every signature', () => {
        const v = vectors.attestations.find((a: any) => a.name === 'quorum of three');
        const parsed = parseSignedAttestation(Cell.fromBase64(v.signedAttestationBoc));
        expect(() => signedAttestation(parsed.statement, [parsed.signatures[0], parsed.signatures[0]])).toThrow(/same verifier key signed twice/);
        // a wire list out of order, or one bad signature among good ones, does not verify
        expect(verifySignedAttestation({ ...parsed, signatures: [...parsed.signatures].reverse() })).toBe(false);
        const bad = parsed.signatures.map((x, i) => (i === 2 ? { ...x, signature: Buffer.from(x.signature).fill(1, 0, 1) } : x));
        expect(verifySignedAttestation({ ...parsed, signatures: bad })).toBe(false);
    });

    it.each(vectors.apiKeys.map((v: any) => [v.name, v]) as [string, any][])('API key %s', (_n: string, v: any) => {
        const key = keyFromSeed(Buffer.from(v.clientSeed, 'hex'));
        expect(key.publicKey.toString('hex')).toBe(v.clientPublicKey);
        const terms = { escrow: Address.parseRaw(v.terms.escrow), notAfter: v.terms.notAfter, limit: BigInt(v.terms.limit), nonce: BigInt(v.terms.nonce) };
        expect(apiKeyPayload(terms).toString('hex')).toBe(v.payload);
        const token = mintApiKey(terms, key);
        expect(token).toBe(v.token);
        const k = parseApiKey(v.token);
        expect(k.escrow.equals(terms.escrow)).toBe(true);
        expect([k.notAfter, k.limit, k.nonce, k.version, k.id]).toEqual([terms.notAfter, terms.limit, terms.nonce, 1, v.id]);
        expect(k.signature.toString('hex')).toBe(v.signature);
        expect(verifyApiKey(k, publicKeyToBigInt(key.publicKey))).toBe(true);
        expect(verifyApiKey(parseApiKey('Bearer ' + v.token), clientPublicKeyObject(publicKeyToBigInt(key.publicKey)))).toBe(true);
    });

    it('an API key verifies only against its client key, with every byte as signed', () => {
        const v = vectors.apiKeys[0];
        const k = parseApiKey(v.token);
        const right = BigInt('0x' + v.clientPublicKey);
        for (const other of ['operator', 'tee', 'verifier', 'another-client']) {
            expect(verifyApiKey(k, publicKeyToBigInt(keyFromSeed(sha('x:' + other)).publicKey))).toBe(false);
        }
        expect(verifyApiKey(k, 0n)).toBe(false);
        // flip each byte of payload and signature: the key is refused (or cannot be parsed at all)
        const raw = Buffer.from(v.token.slice('cocoon_'.length), 'base64url');
        for (let i = 0; i < raw.length; i++) {
            const t = Buffer.from(raw);
            t[i] ^= 0x01;
            let parsed: ReturnType<typeof parseApiKey> | null = null;
            try {
                parsed = parseApiKey('cocoon_' + t.toString('base64url'));
            } catch (e) {
                expect(i).toBeLessThan(5); // only the version and the tag are checked before the signature
                continue;
            }
            expect(verifyApiKey(parsed, right)).toBe(false);
        }
    });

    it('parseApiKey says what is wrong with a malformed key', () => {
        const v = vectors.apiKeys[0];
        expect(() => parseApiKey('sk-abc')).toThrow(/must start with "cocoon_"/);
        expect(() => parseApiKey('cocoon_' + 'A'.repeat(10))).toThrow(/base64url characters/);
        expect(() => parseApiKey(v.token + 'A')).toThrow(/base64url characters/);
        expect(() => parseApiKey(v.token.slice(0, -1) + '*')).toThrow(/base64url characters/);
        const raw = Buffer.from(v.token.slice('cocoon_'.length), 'base64url');
        raw[0] = 2;
        expect(() => parseApiKey('cocoon_' + raw.toString('base64url'))).toThrow(/version 2 is not supported/);
        expect(() => mintApiKey({ escrow: Address.parseRaw(v.terms.escrow), notAfter: 0, limit: 0n }, keyFromSeed(sha('c')))).toThrow(/notAfter/);
        expect(() => mintApiKey({ escrow: Address.parseRaw(v.terms.escrow), notAfter: 1, limit: -1n }, keyFromSeed(sha('c')))).toThrow(/limit/);
    });

    it.each(vectors.keyBindings.map((v: any) => [v.name, v]) as [string, any][])('key binding (TDX REPORTDATA) %s', (_n: string, v: any) => {
        const b = { root: Address.parseRaw(v.root), operator: Address.parseRaw(v.operator), teeKey: BigInt(v.teeKey), tlsKeyHash: BigInt(v.tlsKeyHash) };
        const rd = keyBinding(b);
        expect(rd.length).toBe(64);
        expect(rd.toString('hex')).toBe(v.reportData);
        // every field is bound: changing one changes the binding
        expect(keyBinding({ ...b, teeKey: b.teeKey ^ 1n }).toString('hex')).not.toBe(v.reportData);
        expect(keyBinding({ ...b, operator: new Address(b.operator.workChain === 0 ? -1 : 0, b.operator.hash) }).toString('hex')).not.toBe(v.reportData);
    });

    it.each(vectors.receipts.map((v: any) => [v.name, v]) as [string, any][])('receipt %s', (_n: string, v: any) => {
        const r = {
            escrow: Address.parseRaw(v.receipt.escrow), epoch: BigInt(v.receipt.epoch), seq: BigInt(v.receipt.seq),
            promptTokens: BigInt(v.receipt.promptTokens), cachedTokens: BigInt(v.receipt.cachedTokens), completionTokens: BigInt(v.receipt.completionTokens),
            cost: BigInt(v.receipt.cost),
        };
        expect(vectors.tags.receipt).toBe('0x' + TAG_RECEIPT.toString(16));
        const cell = buildReceiptCell(r);
        expect(cell.hash().toString('hex')).toBe(v.receiptHash);
        expect(cell.toBoc().toString('base64')).toBe(v.receiptBoc);
        const tact = beginCell().store(storeReceipt({ $$type: 'Receipt', tag: TAG_RECEIPT, ...r })).endCell();
        expect(tact.hash().toString('hex')).toBe(v.receiptHash);
        const tee = keyFromSeed(Buffer.from(v.teeSeed, 'hex'));
        expect(tee.publicKey.toString('hex')).toBe(v.teePublicKey);
        const s = signReceipt(r, tee);
        expect(s.signature.toString('hex')).toBe(v.signature);
        const signed = signedReceiptCell(s);
        expect(signed.hash().toString('hex')).toBe(v.signedReceiptHash);
        expect(signed.toBoc().toString('base64')).toBe(v.signedReceiptBoc);
        const parsed = parseSignedReceiptCell(Cell.fromBase64(v.signedReceiptBoc));
        expect(parsed.receipt.cost).toBe(r.cost);
        expect(parsed.signature.toString('hex')).toBe(v.signature);
        // the worker node's cocoon_receipt JSON (integers as decimal strings)
        const json = { cocoon_receipt: { ...v.receipt, requestTokens: '1', requestCost: '1', signature: v.signature, boc: v.signedReceiptBoc } };
        expect(readSignedReceipt(JSON.stringify(json)).cell.hash().toString('hex')).toBe(v.receiptHash);
        expect(() => readSignedReceipt(JSON.stringify({ ...json.cocoon_receipt, cost: (r.cost + 1n).toString() })))
            .toThrow(/cost .* differs from .* in the signed cell/);
    });
});

describe('prices per token class (src/sdk/prices.ts)', () => {
    it('one number is the same price for every class; each class must fit uint64', () => {
        expect(asPrices(5n)).toEqual({ $$type: 'Prices', prompt: 5n, cached: 5n, completion: 5n });
        expect(asPrices({ prompt: 1n, cached: 0n, completion: 3n })).toEqual({ $$type: 'Prices', prompt: 1n, cached: 0n, completion: 3n });
        expect(() => asPrices(-1n, 'maxPrice')).toThrow(/maxPrice.prompt must be a nanoton amount/);
        expect(() => asPrices({ prompt: 1n, cached: 1n << 64n, completion: 1n })).toThrow(/prices.cached/);
    });

    it('within: every class at most its cap; the cap cost is floor(sum tokens x cap / 1e6)', () => {
        const caps = { prompt: 300n, cached: 100n, completion: 900n };
        expect(pricesWithin(caps, caps)).toBe(true);
        expect(pricesWithin({ ...caps, cached: 101n }, caps)).toBe(false);
        expect(maxPriceOf(caps)).toBe(900n);
        // one sum, one floor: 1 x 300 + 1 x 100 + 1 x 900 = 1300 -> 0; 1000 of each -> 1
        expect(capCost({ promptTokens: 1n, cachedTokens: 1n, completionTokens: 1n }, caps)).toBe(0n);
        expect(capCost({ promptTokens: 1000n, cachedTokens: 1000n, completionTokens: 1000n }, caps)).toBe(1n);
        expect(receiptTokens({ promptTokens: 1n, cachedTokens: 2n, completionTokens: 3n })).toBe(6n);
    });

    it('cheapest first by a typical request (3 prompt : 1 completion), then the completion price, then the larger stake', () => {
        const a = { prices: { prompt: 100n, cached: 0n, completion: 400n }, stake: 1n }; // 700
        const b = { prices: { prompt: 200n, cached: 0n, completion: 50n }, stake: 1n };  // 650
        const c = { prices: { prompt: 150n, cached: 0n, completion: 250n }, stake: 2n }; // 700, cheaper completion
        const d = { prices: { prompt: 150n, cached: 0n, completion: 250n }, stake: 3n }; // same, more stake
        expect(typicalPrice(a.prices)).toBe(700n);
        expect([a, b, c, d].sort(byPriceThenStake)).toEqual([b, d, c, a]);
        expect(describePrices({ prompt: 1_000_000_000n, cached: 250_000_000n, completion: 3_000_000_000n }, formatTon)).toBe('prompt 1 TON / cached 0.25 TON / completion 3 TON');
        expect(formatPrices({ prompt: 100_000_000n, cached: 0n, completion: 300_000_000n })).toBe('prompt 0.1 / cached 0 / completion 0.3 TON per 1M tokens');
    });
});

describe('pricing vectors (tests/vectors/signing.json "pricing")', () => {
    const cls = (o: any) => ({ promptTokens: BigInt(o.promptTokens), cachedTokens: BigInt(o.cachedTokens), completionTokens: BigInt(o.completionTokens) });
    const ps = (o: any) => ({ prompt: BigInt(o.prompt), cached: BigInt(o.cached), completion: BigInt(o.completion) });
    it.each(vectors.pricing.map((v: any) => [v.name, v]) as [string, any][])('%s', (_n: string, v: any) => {
        // the one rule the node signs by and the client checks (src/sdk/prices.ts)
        const r = nextCost(cls(v.before), BigInt(v.before.cost), cls(v.request), ps(v.prices), ps(v.caps));
        expect(r.tokens).toEqual(cls(v.after));
        expect(r.cost).toBe(BigInt(v.after.cost));
        expect(r.cost - BigInt(v.before.cost)).toBe(BigInt(v.requestCost));
        expect(capCost(r.tokens, ps(v.caps))).toBe(BigInt(v.capCost));
        expect(r.cost).toBeLessThanOrEqual(BigInt(v.capCost));
    });
    it('covers rounding per class, a price change and the clamp', () => {
        expect(vectors.pricing.map((v: any) => v.name)).toEqual(['first request', 'each class rounds down on its own cumulative total', 'a price change: the increment at the new prices', 'clamped to the caps']);
    });
});

describe('validate', () => {
    it('rejects bad inputs with messages that name them', () => {
        expect(() => parseAddress('operator', 'not-an-address')).toThrow('operator: "not-an-address" is not a TON address');
        expect(() => parseAddress('operator', '')).toThrow('operator: an address is required');
        expect(parseTon('stake', '1.5')).toBe(1_500_000_000n);
        expect(() => parseTon('stake', '-1')).toThrow('stake: "-1" is not a TON amount');
        expect(() => parseTon('stake', '0.0000000001')).toThrow(/at most 9 decimals/);
        expect(() => requirePositive('deposit', 0n)).toThrow('deposit must be positive, got 0');
        expect(() => validateParams(defaultParams({ protocolFeeBps: 10001n }))).toThrow('params.protocolFeeBps is in basis points and must be within 0..10000, got 10001');
        expect(() => validateParams(defaultParams({ minStake: toNano('0.5') }))).toThrow(/minStake must be at least/);
        expect(() => validateParams(defaultParams({ disputeWindow: 0n }))).toThrow('params.disputeWindow must be positive');
        expect(parseUint256('m', '0x01')).toBe(1n);
        expect(parseUint256('m', 'ff'.repeat(32))).toBe((1n << 256n) - 1n);
        expect(() => parseUint256('m', '0x' + '1'.repeat(65))).toThrow(/not a 256-bit value/);
        expect(() => validateEndpoint('http://x.example')).toThrow(/must use https/);
        expect(validateEndpoint('https://x.example:8443')).toBe('https://x.example:8443');
        expect(() => readSignedAttestation('{"foo":1}')).toThrow(/JSON without attestationBoc/);
        expect(() => readSignedReceipt('not base64 !!')).toThrow(/receipt file/);
        expect(() => validateParams(defaultParams({ slashBps: 0n }))).toThrow(/slashBps must be at least 1/);
    });

    it('model lists: one image may serve several models, named once each', () => {
        expect(validateModelName('llama-3-8b-instruct,qwen2.5-7b-instruct')).toBe('llama-3-8b-instruct,qwen2.5-7b-instruct');
        expect(modelNames('llama-3-8b-instruct,qwen2.5-7b-instruct')).toEqual(['llama-3-8b-instruct', 'qwen2.5-7b-instruct']);
        expect(modelNames('one')).toEqual(['one']);
        expect(modelNames(null)).toEqual([]);
        expect(() => validateModelName('a,,b')).toThrow(/empty name/);
        expect(() => validateModelName('a, b')).toThrow(/spaces around a name/);
        expect(() => validateModelName('a,a')).toThrow(/listed twice/);
        expect(() => validateModelName(Array.from({ length: 17 }, (_, i) => 'm' + i).join(','))).toThrow(/at most 16 names/);
        expect(() => validateModelName('x'.repeat(65))).toThrow(/longer than 64 bytes/);
    });

    it('parses script words: name=value and positional', async () => {
        expect(parseArgs(['a', 'stake=1.5', 'b'], ['file', 'x'])).toEqual({ file: 'a', stake: '1.5', x: 'b' });
        expect(() => parseArgs(['a', 'b'], ['file'])).toThrow('unexpected argument "b"');
        const asked: string[] = [];
        const r = new ArgReader(['deposit=2'], [], { input: async (m) => { asked.push(m); return '0.5'; } });
        expect(await r.ton('deposit', 'Deposit:')).toBe(toNano('2'));
        expect(await r.ton('maxPrice', 'Max price:')).toBe(toNano('0.5'));
        expect(asked).toEqual(['Max price:']);
        await expect(new ArgReader([], []).text('file', 'File:')).rejects.toThrow('file: a value is required (pass file=...)');
    });
});

describe('fees', () => {
    it('uses the prices of the chain config and mirrors chainFee of utils.tact', async () => {
        const b = await Blockchain.create();
        const m = loadConfigParamsAsSlice(b.config.toBoc().toString('base64'));
        const prices = pricesFrom(configParseGasLimitsPrices(m.get(21)!), configParseMsgPrices(m.get(25)!));
        expect(prices).toEqual(BASECHAIN_PRICES);
        // 40000 flat + (15000 - 100) x 400; 400000 lump + 3000 x 400 + 4 x 40000
        expect(computeFee(GAS_ROOT_ATTEST)).toBe(6_000_000n);
        expect(forwardFee(FWD_CELLS, FWD_BITS)).toBe(1_760_000n);
        expect(chainFee(GAS_ROOT_ATTEST, 1)).toBe(7_760_000n);
        expect(chainFee(GAS_ROOT_ATTEST, 3)).toBe(6_000_000n + 3n * 1_760_000n);
        expect(computeFee(50n)).toBe(40_000n);
        // 400000 lump + 59500 x 400 + 94 x 40000
        expect(workerDeployFee()).toBe(forwardFee(WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS));
        expect(workerDeployFee()).toBe(27_960_000n);
    });

    it("requires exactly the contracts' entry minimums", () => {
        const t = feeTable();
        // root.tact RegisterWorker: reserve + chainFee(15000 + 55000, 2) + the deploy message's forward fee
        expect(t.registerWorker.required).toBe(WORKER_STORAGE_RESERVE + 28_000_000n + 3_520_000n + 27_960_000n);
        expect(t.registerWorker.required).toBe(WORKER_STORAGE_RESERVE + chainFee(GAS_ROOT_ATTEST + GAS_WORKER_RESULT, 2) + workerDeployFee());
        expect(t.deactivateWorker.required).toBe(chainFee(GAS_ROOT_DEACTIVATE + GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 4));
        expect(t.dropInactive.required).toBe(chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 3));
        expect(t.fundRewards.required).toBe(chainFee(GAS_SIMPLE, 1));
        expect(t.topUpStake.required).toBe(chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 5));
        expect(t.unbond.required).toBe(chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP, 3));
        expect(t.claimRewards.required).toBe(chainFee(GAS_WORKER_OP + GAS_ROOT_SYNC + GAS_WORKER_OP + GAS_ROOT_PAY, 4));
        expect(t.openEscrow.required).toBe(ESCROW_STORAGE_RESERVE + chainFee(GAS_ESCROW_OPEN + GAS_WORKER_QUERY + GAS_ESCROW_INFO, 3));
        expect(t.topUpEscrow.required).toBe(chainFee(GAS_SIMPLE, 1));
        expect(t.claim.required).toBe(chainFee(GAS_ESCROW_CLAIM + GAS_ROOT_FEE, 2));
        expect(t.refreshWorker.required).toBe(chainFee(GAS_WORKER_QUERY + GAS_ESCROW_INFO, 2) + chainFee(GAS_SIMPLE, 1));
        expect(t.slash.required).toBe(chainFee(GAS_WORKER_SLASH + GAS_ROOT_SYNC + GAS_WORKER_OP, 2));
        for (const op of ['governance', 'withdrawTreasury', 'setPrice', 'setEndpoint', 'withdrawStake', 'closeEscrow', 'withdrawEscrow', 'deployRoot'] as const) {
            expect([op, t[op].required]).toEqual([op, 0n]);
        }
        for (const e of Object.values(t)) expect(requiredFor(e.op)).toBe(e.required);
    });

    it('attaches at least the contract minimum plus 0.02 TON, in 0.01 TON steps', () => {
        const t = feeTable();
        // 109.48M + 50% of the 59.48M fee part = 139.22M, rounded up
        expect(t.registerWorker.attach).toBe(toNano('0.14'));
        expect(attachFor('registerWorker')).toBe(toNano('0.14'));
        for (const e of Object.values(t)) {
            expect(e.attach % 10_000_000n).toBe(0n);
            if (e.op !== 'deployRoot') expect(e.attach).toBeGreaterThanOrEqual(e.required + 20_000_000n);
            expect(e.attach).toBeGreaterThan(e.required);
        }
        // the fee part scales with the prices: doubled gas and forward prices need more
        const dear = { ...BASECHAIN_PRICES, gasPrice: BASECHAIN_PRICES.gasPrice * 2n, flatGasPrice: BASECHAIN_PRICES.flatGasPrice * 2n, bitPrice: BASECHAIN_PRICES.bitPrice * 2n, cellPrice: BASECHAIN_PRICES.cellPrice * 2n, lumpPrice: BASECHAIN_PRICES.lumpPrice * 2n };
        expect(feeTable(dear).registerWorker.required).toBe(WORKER_STORAGE_RESERVE + 2n * (t.registerWorker.required - WORKER_STORAGE_RESERVE));
    });

    it("docs/OPERATIONS.md's fee table shows what feeTable() computes", () => {
        const doc = readFileSync(join(__dirname, '..', 'docs', 'OPERATIONS.md'), 'utf8');
        const amountWord: Partial<Record<string, string>> = { fundRewards: 'amount', registerWorker: 'stake', topUpStake: 'amount', openEscrow: 'deposit', topUpEscrow: 'amount' };
        for (const e of Object.values(feeTable())) {
            const word = amountWord[e.op];
            const req = e.required === 0n ? '-' : (word ? word + ' + ' : '') + formatTon(e.required);
            const att = (word ? word + ' + ' : '') + formatTon(e.attach);
            expect([e.op, doc.includes(`| \`${e.op}\` | ${req} | ${att} |`)]).toEqual([e.op, true]);
        }
    });
});

describe('format', () => {
    it('formats amounts, addresses, durations and tables', () => {
        expect(formatTon(1_500_000_000n)).toBe('1.5 TON');
        expect(formatTon(-5n)).toBe('-0.000000005 TON');
        expect(formatPrice(toNano('0.5'))).toBe('0.5 TON / 1M tokens');
        expect(formatBps(500n)).toBe('5% (500 bps)');
        expect(formatBps(1234n)).toBe('12.34% (1234 bps)');
        expect(formatDuration(7 * 86400 + 3600)).toBe('7d 1h');
        const a = new Address(0, Buffer.alloc(32, 1));
        expect(formatAddress(a, 'testnet')).toBe(a.toString({ testOnly: true }));
        expect(formatAddress(a, 'mainnet', false)).toBe(a.toString({ bounceable: false }));
        expect(formatTable(['k', 'value'], [['long-key', '1'], ['b', '22']])).toBe('k         value\n--------  -----\nlong-key  1\nb         22');
    });
});

// ---------------------------------------------------------------- sandbox

interface World {
    chain: Blockchain;
    owner: SandboxContract<TreasuryContract>;
    gov: CocoonOps;
    root: Address;
    verifier: Ed25519Key;
}

async function world(): Promise<World> {
    const chain = await Blockchain.create();
    chain.now = NOW;
    const owner = await chain.treasury('owner');
    const verifier = key('verifier');
    const bare = new CocoonOps(new SandboxChain(chain), owner.getSender());
    const dep = await bare.deployRoot({
        networkId: 7, params: defaultParams(), governanceDelay: 3600,
        measurements: [[MEASUREMENT, MODEL]], verifierKeys: [publicKeyToBigInt(verifier.publicKey)],
    });
    const gov = bare.withRoot(dep.root);
    return { chain, owner, gov, root: dep.root, verifier };
}

function attestationFor(w: World, operator: Address, tee: Ed25519Key, over: Partial<Statement> = {}) {
    const now = w.chain.now!;
    return signStatement({
        root: w.root, operator, expiresAt: now + 7 * 86400, issuedAt: now, teeKey: publicKeyToBigInt(tee.publicKey),
        measurement: MEASUREMENT, tlsKeyHash: 5n, ...NO_QUOTE, ...over,
    }, w.verifier);
}

async function operatorOps(w: World, name: string, stake = toNano('100')) {
    const wallet = await w.chain.treasury(name);
    const ops = w.gov.as(wallet.getSender());
    const tee = key('tee:' + name);
    const reg = await ops.registerWorker(attestationFor(w, wallet.address, tee), stake);
    return { wallet, ops, tee, reg, events: ops.lastTransactions };
}

describe('ops on the sandbox', () => {
    it('runs governance: deploy, params, whitelist, pause, ownership transfer', async () => {
        const w = await world();
        const root = w.chain.openContract(CocoonRoot.fromAddress(w.root));
        expect(await root.getModelOf(MEASUREMENT)).toBe(MODEL);
        expect(await root.getIsVerifierKey(publicKeyToBigInt(w.verifier.publicKey))).toBe(true);
        expect((await w.chain.getContract(w.root)).balance).toBeGreaterThan(0n);

        // a lower fee acts at once; a higher minimum stake is timelocked
        const p = await w.gov.setParams(defaultParams({ protocolFeeBps: 300n }));
        expect(p.before.protocolFeeBps).toBe(500n);
        expect(p.after.protocolFeeBps).toBe(300n);
        await expect(w.gov.setParams(defaultParams({ protocolFeeBps: 300n, minStake: toNano('20') }))).rejects.toThrow(/changing minStake adds power, so it is timelocked: propose it/);
        await expect(w.gov.setParams(defaultParams({ slashBps: 20000n }))).rejects.toThrow('params.slashBps is in basis points and must be within 0..10000, got 20000');
        const pr = await w.gov.proposeParams(defaultParams({ protocolFeeBps: 300n, minStake: toNano('20') }));
        expect(pr.description).toBe('setParams: minStake 10000000000 -> 20000000000');
        expect(pr.eta).toBe(NOW + 3600);
        expect((await w.gov.proposals()).map((x) => [x.id, x.secondsLeft, x.executable])).toEqual([[pr.id, 3600, false]]);
        await expect(w.gov.execute(pr.id)).rejects.toThrow(/too early; the proposal can be executed from/);
        w.chain.now = pr.eta;
        await w.gov.as(w.owner.getSender()).execute(pr.id);
        expect((await w.gov.root.getParams()).minStake).toBe(toNano('20'));
        await expect(w.gov.execute(pr.id)).rejects.toThrow(/no pending proposal/);

        expect(await w.gov.setPaused(true)).toEqual({ before: false, after: true });
        expect(await w.gov.setPaused(false)).toEqual({ before: true, after: false });

        const other = await w.chain.treasury('other-measure');
        const m2 = 77n;
        const add = await w.gov.proposeAddMeasurement(m2, 'mistral-7b');
        const dropped = await w.gov.proposeAddVerifierKey(99n);
        expect((await w.gov.cancel(dropped.id)).change).toEqual({ kind: 'addVerifierKey', key: 99n });
        w.chain.now = add.eta;
        // anyone executes a proposal whose time has come
        await w.gov.as(other.getSender()).execute(add.id);
        expect(await w.gov.removeMeasurement(m2)).toEqual({ before: 'mistral-7b', after: null });
        await expect(w.gov.removeMeasurement(m2)).rejects.toThrow('removeMeasurement: that measurement is not whitelisted');
        expect(await w.gov.removeVerifierKey(publicKeyToBigInt(w.verifier.publicKey))).toEqual({ before: true, after: false });
        const back = await w.gov.proposeAddVerifierKey(publicKeyToBigInt(w.verifier.publicKey));
        w.chain.now = back.eta;
        await w.gov.execute(back.id);
        expect(await w.gov.root.getIsVerifierKey(publicKeyToBigInt(w.verifier.publicKey))).toBe(true);

        // only the owner: checked off-chain, and on-chain when the check is skipped
        const stranger = w.gov.as(other.getSender());
        await expect(stranger.setPaused(true)).rejects.toThrow(/only the root owner/);
        const raw = new CocoonOps(w.gov.chain, other.getSender(), w.root, { checkOnChain: false });
        await expect(raw.setPaused(true)).rejects.toMatchObject({ exitCode: Number(ERR_NOT_OWNER), errorName: 'NotOwner' });

        const next = await w.chain.treasury('next-owner');
        const prop = await w.gov.proposeOwner(next.address);
        expect(prop.before).toBeNull();
        expect(prop.after!.equals(next.address)).toBe(true);
        await expect(stranger.acceptOwnership()).rejects.toThrow(/is not the proposed owner/);
        const acc = await w.gov.as(next.getSender()).acceptOwnership();
        expect(acc.before.equals(w.owner.address)).toBe(true);
        expect(acc.after.equals(next.address)).toBe(true);
        expect((await root.getOwner()).equals(next.address)).toBe(true);
        await expect(w.gov.deployRoot({
            networkId: 7, params: defaultParams(), governanceDelay: 3600,
            measurements: [[MEASUREMENT, MODEL]], verifierKeys: [publicKeyToBigInt(w.verifier.publicKey)],
        })).rejects.toThrow(/already deployed/);
    });

    it('registers a worker and runs the operator operations', async () => {
        const w = await world();
        const op = await operatorOps(w, 'op1');
        expect(op.reg.stake).toEqual({ before: 0n, after: toNano('100') });
        expect(op.reg.active).toBe(true);
        expect(op.reg.measurement).toBe(MEASUREMENT);
        // the Worker holds exactly the stake plus its storage reserve
        expect((await w.chain.getContract(op.reg.worker)).balance).toBe(toNano('100') + WORKER_STORAGE_RESERVE);

        expect((await op.ops.setPrice(toNano('0.2'))).price).toMatchObject({ before: { prompt: 0n, cached: 0n, completion: 0n }, after: { prompt: toNano('0.2'), cached: toNano('0.2'), completion: toNano('0.2') } });
        await expect(op.ops.setPrice(toNano('2'))).rejects.toThrow(/the prompt price 2000000000 nanoton per 1M tokens is above the root's maxPrice/);
        await expect(op.ops.setPrice({ prompt: 1n, cached: 1n, completion: toNano('2') })).rejects.toThrow(/the completion price .* is above the root's maxPrice/);
        expect((await op.ops.setEndpoint('https://op1.example:8443')).endpoint).toEqual({ before: null, after: 'https://op1.example:8443' });
        expect((await op.ops.topUpStake(toNano('5'))).stake).toEqual({ before: toNano('100'), after: toNano('105') });

        // re-attestation: a newer statement with a new key and no new stake
        w.chain.now = NOW + 100;
        const tee2 = key('tee:op1:2');
        const re = await op.ops.registerWorker(attestationFor(w, op.wallet.address, tee2), 0n);
        expect(re.teeKey).toBe(publicKeyToBigInt(tee2.publicKey));
        expect(re.stake).toEqual({ before: toNano('105'), after: toNano('105') });
        await expect(op.ops.registerWorker(attestationFor(w, op.wallet.address, tee2, { issuedAt: NOW + 50 }), 0n))
            .rejects.toThrow(/not newer than the one in force/);

        const lease = Number((await op.ops.openWorker(op.reg.worker).getInfo()).expiresAt);
        const ub = await op.ops.unbond();
        expect(ub.unbonding).toBe(toNano('105'));
        // the later of the unbonding period and the key's last payable moment (lease end + dispute window)
        expect(ub.withdrawableAt).toBe(Math.max(NOW + 100 + 7 * 86400, lease + 86400));
        await expect(op.ops.withdrawStake()).rejects.toThrow(/the stake is withdrawable from .* lease end \+ dispute window/);
        w.chain.now = ub.withdrawableAt;
        const before = (await w.chain.getContract(op.wallet.address)).balance;
        const wd = await op.ops.withdrawStake();
        expect(wd.amount).toBe(toNano('105'));
        const gained = (await w.chain.getContract(op.wallet.address)).balance - before;
        // the stake, less the gas of the withdrawal (the attached value comes back)
        expect(gained).toBeLessThan(toNano('105'));
        expect(gained).toBeGreaterThan(toNano('105') - toNano('0.01'));
    });

    it('refuses bad registrations before sending, and names the contract error when it sends anyway', async () => {
        const w = await world();
        const wallet = await w.chain.treasury('op-bad');
        const ops = w.gov.as(wallet.getSender());
        const tee = key('tee:bad');
        await expect(ops.registerWorker(attestationFor(w, wallet.address, tee, { expiresAt: NOW - 1 }), toNano('100')))
            .rejects.toThrow(/attestation: expired at/);
        await expect(ops.registerWorker(attestationFor(w, wallet.address, tee, { root: wallet.address }), toNano('100')))
            .rejects.toThrow(/another network/);
        const someoneElse = await w.chain.treasury('someone');
        await expect(ops.registerWorker(attestationFor(w, someoneElse.address, tee), toNano('100'))).rejects.toThrow(/names operator/);
        await expect(ops.registerWorker(attestationFor(w, wallet.address, tee), toNano('5'))).rejects.toThrow(/below the minimum stake/);
        await expect(ops.registerWorker(attestationFor(w, wallet.address, tee), -1n)).rejects.toThrow('stake must not be negative, got -1');

        await w.gov.setPaused(true);
        await expect(ops.registerWorker(attestationFor(w, wallet.address, tee), toNano('100'))).rejects.toThrow('registerWorker: the network is paused');
        const raw = new CocoonOps(w.gov.chain, wallet.getSender(), w.root, { checkOnChain: false });
        const before = (await w.chain.getContract(wallet.address)).balance;
        await expect(raw.registerWorker(attestationFor(w, wallet.address, tee), toNano('100')))
            .rejects.toEqual(expect.objectContaining({ exitCode: Number(ERR_PAUSED), errorName: 'Paused' }));
        // the stake bounced back: only fees were spent
        expect(before - (await w.chain.getContract(wallet.address)).balance).toBeLessThan(toNano('0.05'));
        await w.gov.setPaused(false);
        await expect(raw.registerWorker(attestationFor(w, wallet.address, tee), toNano('5')))
            .rejects.toMatchObject({ exitCode: Number(ERR_STAKE_TOO_LOW) });
    });

    it('opens an escrow, claims receipts, tops up, closes and withdraws', async () => {
        const w = await world();
        const op = await operatorOps(w, 'op1');
        await op.ops.setPrice(toNano('0.4'));
        const clientWallet = await w.chain.treasury('client');
        const client = w.gov.as(clientWallet.getSender());
        await expect(client.openEscrow(op.reg.worker, toNano('5'), toNano('0.3'), 7n)).rejects.toThrow(/price .* is above your maxPrice/);
        await expect(client.openEscrow(op.reg.worker, 0n, toNano('0.5'), 7n)).rejects.toThrow('deposit must be positive, got 0');
        // a cap per class: the completion cap below the worker's price is named
        await expect(client.openEscrow(op.reg.worker, toNano('5'), { prompt: toNano('1'), cached: toNano('1'), completion: toNano('0.39') }, 7n))
            .rejects.toThrow(/completion price 400000000 is above your maxPrice 390000000 for completion tokens/);
        await expect(client.openEscrow(op.reg.worker, toNano('5'), 0n, 7n)).rejects.toThrow(/positive for at least one token class/);
        const opened = await client.openEscrow(op.reg.worker, toNano('5'), { prompt: toNano('0.5'), cached: toNano('0.4'), completion: toNano('0.5') }, 7n);
        expect(opened.caps).toMatchObject({ prompt: toNano('0.5'), cached: toNano('0.4'), completion: toNano('0.5') });
        expect(opened.escrow.equals((await escrowFor(op.reg.worker, clientWallet.address)).address)).toBe(true);
        expect(opened.deposit).toBe(toNano('5'));
        expect(opened.teeKey).toBe(publicKeyToBigInt(op.tee.publicKey));
        expect((await w.chain.getContract(opened.escrow)).balance).toBe(toNano('5') + ESCROW_STORAGE_RESERVE);

        const receipt = (seq: bigint, tokens: bigint, over: Partial<{ escrow: Address; epoch: bigint }> = {}): SignedUsageReceipt =>
            signReceipt({ escrow: opened.escrow, epoch: opened.epoch, seq, promptTokens: tokens, cachedTokens: 0n, completionTokens: 0n, cost: (tokens * toNano('0.4')) / 1_000_000n, ...over }, op.tee);

        const other = await escrowFor(op.reg.worker, op.wallet.address);
        await expect(op.ops.claim(opened.escrow, receipt(1n, 1000n, { escrow: other.address }))).rejects.toThrow(/the receipt is for escrow .*, not/);
        await expect(op.ops.claim(opened.escrow, receipt(1n, 1000n, { epoch: 5n }))).rejects.toThrow(/the receipt is for epoch 5/);
        await expect(op.ops.claim(opened.escrow, signReceipt({ escrow: opened.escrow, epoch: opened.epoch, seq: 1n, promptTokens: 10n, cachedTokens: 0n, completionTokens: 0n, cost: toNano('1') }, op.tee)))
            .rejects.toThrow(/above the client's price caps/);
        await expect(op.ops.claim(opened.escrow, signReceipt({ escrow: opened.escrow, epoch: opened.epoch, seq: 1n, promptTokens: 1000n, cachedTokens: 0n, completionTokens: 0n, cost: 1n }, key('intruder'))))
            .rejects.toThrow(/not signed by the worker's attested TEE key/);
        const raw = new CocoonOps(w.gov.chain, op.wallet.getSender(), w.root, { checkOnChain: false });
        await expect(raw.claim(opened.escrow, receipt(1n, 1000n, { epoch: 5n }))).rejects.toMatchObject({ exitCode: Number(ERR_BAD_RECEIPT), errorName: 'BadReceipt' });

        const c1 = await op.ops.claim(opened.escrow, receipt(1n, 1_000_000n));
        expect(c1.paid).toBe(toNano('0.4'));
        expect(c1.fee).toBe((toNano('0.4') * 500n) / 10000n);
        expect(c1.toOperator).toBe(toNano('0.4') - c1.fee);
        await expect(op.ops.claim(opened.escrow, receipt(1n, 2_000_000n))).rejects.toThrow(/is not newer than the last settled 1/);
        // anyone may claim
        const c2 = await client.claim(opened.escrow, receipt(2n, 1_500_000n));
        expect(c2.paid).toBe(toNano('0.2'));

        expect((await client.topUpEscrow(opened.escrow, toNano('1'))).deposit).toEqual({ before: toNano('4.4'), after: toNano('5.4') });
        await expect(op.ops.topUpEscrow(opened.escrow, toNano('1'))).rejects.toThrow(/only the escrow's client/);
        const rf = await op.ops.refreshWorker(opened.escrow);
        expect(rf.teeKey.after).toBe(publicKeyToBigInt(op.tee.publicKey));

        const closed = await client.closeEscrow(opened.escrow);
        expect(closed.closeAt).toBe(NOW + 86400);
        await expect(client.withdrawEscrow(opened.escrow)).rejects.toThrow(/the dispute window ends at/);
        w.chain.now = NOW + 86400;
        const before = (await w.chain.getContract(clientWallet.address)).balance;
        const held = (await w.chain.getContract(opened.escrow)).balance;
        const wd = await client.withdrawEscrow(opened.escrow);
        expect(wd.amount).toBe(toNano('5.4'));
        expect(wd.feesFlushed).toBe(c1.fee + (toNano('0.2') * 500n) / 10000n);
        const got = (await w.chain.getContract(clientWallet.address)).balance - before;
        // everything the escrow held but the protocol fees, less the gas of the withdrawal and the fee hop
        expect(got).toBeLessThan(held - wd.feesFlushed);
        expect(got).toBeGreaterThan(held - wd.feesFlushed - toNano('0.02'));
        expect(await client.escrowState(opened.escrow)).toBeNull();
        const root = w.chain.openContract(CocoonRoot.fromAddress(w.root));
        expect((await root.getRewardState()).treasury).toBe(wd.feesFlushed / 2n);
    });

    it('topUpEscrow returns the unused value to the client', async () => {
        const w = await world();
        const op = await operatorOps(w, 'op1');
        const client = w.gov.as((await w.chain.treasury('client')).getSender());
        const opened = await client.openEscrow(op.reg.worker, toNano('5'), toNano('0.5'), 7n);
        expect((await w.chain.getContract(opened.escrow)).balance).toBe(toNano('5') + ESCROW_STORAGE_RESERVE);
        await client.topUpEscrow(opened.escrow, toNano('1'));
        // the escrow holds exactly deposit + storage reserve: the excess went back with Excesses
        expect((await w.chain.getContract(opened.escrow)).balance).toBe(toNano('6') + ESCROW_STORAGE_RESERVE);
    });

    it('funds and claims rewards, withdraws the treasury, deactivates and slashes workers', async () => {
        const w = await world();
        const a = await operatorOps(w, 'opA', toNano('100'));
        const b = await operatorOps(w, 'opB', toNano('300'));
        const funder = w.gov.as((await w.chain.treasury('funder')).getSender());
        await expect(funder.fundRewards(0n)).rejects.toThrow('amount must be positive, got 0');
        const f = await funder.fundRewards(toNano('8'));
        expect(f.pool).toEqual({ before: 0n, after: toNano('8') });
        const ca = await a.ops.claimRewards();
        expect(ca.amount).toBe(toNano('2'));
        const cb = await b.ops.claimRewards();
        expect(cb.amount).toBe(toNano('6'));

        // slash B with two receipts for the same seq and different totals
        const clientWallet = await w.chain.treasury('client');
        const client = w.gov.as(clientWallet.getSender());
        const e = await client.openEscrow(b.reg.worker, toNano('1'), toNano('1'), 7n);
        const r1 = signReceipt({ escrow: e.escrow, epoch: e.epoch, seq: 3n, promptTokens: 10n, cachedTokens: 0n, completionTokens: 5n, cost: 1n }, b.tee);
        const r2 = signReceipt({ escrow: e.escrow, epoch: e.epoch, seq: 3n, promptTokens: 5n, cachedTokens: 5n, completionTokens: 5n, cost: 1n }, b.tee);
        await expect(client.slash(b.reg.worker, r1, r1)).rejects.toThrow('slash: the two receipts do not contradict each other');
        const s = await client.slash(b.reg.worker, r1, r2);
        expect(s.slashed).toBe(toNano('150'));
        expect(s.status).toEqual({ before: STATUS_ACTIVE, after: STATUS_SLASHED });

        // treasury: slashed 150 TON, 10% bounty to the reporter
        const owner = w.gov;
        const root = w.chain.openContract(CocoonRoot.fromAddress(w.root));
        const treasury = (await root.getRewardState()).treasury;
        expect(treasury).toBe(toNano('135'));
        await expect(owner.withdrawTreasury(treasury + 1n)).rejects.toThrow(/the treasury holds/);
        expect(await owner.withdrawTreasury(toNano('35'))).toEqual({ before: toNano('135'), after: toNano('100') });

        // deactivate A after its measurement is revoked
        await expect(owner.deactivateWorker(a.wallet.address, MEASUREMENT)).rejects.toThrow(/still whitelisted/);
        await owner.removeMeasurement(MEASUREMENT);
        const d = await owner.deactivateWorker(a.wallet.address, MEASUREMENT);
        expect(d.status).toEqual({ before: STATUS_ACTIVE, after: STATUS_UNBONDING });
        expect(d.unbonding).toBe(toNano('100'));
        expect(await root.getTotalStake()).toBe(0n);
    });

    it("discovers active workers from the root's registrations; WorkerAttested events come from the Workers", async () => {
        const w = await world();
        const txs: Transaction[] = [];
        const a = await operatorOps(w, 'opA');
        txs.push(...a.events);
        const b = await operatorOps(w, 'opB');
        txs.push(...b.events);
        await a.ops.setPrice(toNano('0.3'));
        await b.ops.setPrice(toNano('0.1'));
        await b.ops.setEndpoint('https://b.example');
        const c = await operatorOps(w, 'opC');
        txs.push(...c.events);
        await c.ops.unbond();

        const events = await workerAttestedEvents(txs, w.root);
        expect(events.map((e) => e.worker.toRawString())).toEqual([a, b, c].map((x) => x.reg.worker.toRawString()));
        expect(events[0].measurement).toBe(MEASUREMENT);
        expect(events[0].expiresAt).toBe(NOW + 7 * 86400);
        expect([events[0].quoteHash, events[0].tcbStatus]).toEqual([0n, 255]);
        expect(await workerAttestedEvents(txs, a.wallet.address)).toEqual([]);
        const regs = await workerRegistrations(txs, w.root);
        expect(regs.map((e) => e.worker.toRawString())).toEqual([a, b, c].map((x) => x.reg.worker.toRawString()));
        expect(regs.map((e) => e.operator.toRawString())).toEqual([a, b, c].map((x) => x.wallet.address.toRawString()));
        expect(await workerRegistrations(txs, a.wallet.address)).toEqual([]);

        const chain = new SandboxChain(w.chain);
        const all = await listWorkers(chain, w.root, txs, { model: MODEL });
        expect(all.map((l) => l.worker.toRawString())).toEqual([b, a].map((x) => x.reg.worker.toRawString()));
        expect(all[0].prices).toMatchObject({ prompt: toNano('0.1'), cached: toNano('0.1'), completion: toNano('0.1') });
        expect(all[0].endpoint).toBe('https://b.example');
        expect(all[0].model).toBe(MODEL);
        expect((await listWorkers(chain, w.root, txs, { maxPrice: toNano('0.2') })).length).toBe(1);
        // a cap per class: a (0.3 everywhere) is above a completion cap of 0.2, b (0.1) within
        expect((await listWorkers(chain, w.root, txs, { maxPrice: { prompt: toNano('0.3'), cached: toNano('0.3'), completion: toNano('0.2') } })).map((l) => l.worker.toRawString()))
            .toEqual([b.reg.worker.toRawString()]);
        expect((await listWorkers(chain, w.root, txs, { requireEndpoint: true })).length).toBe(1);
        expect(await listWorkers(chain, w.root, txs, { model: 'other-model' })).toEqual([]);
        expect(await listWorkers(chain, w.root, txs, { minRemaining: 8 * 86400 })).toEqual([]);

        // TonClient-style paging over the root's history (newest first)
        const rootTxs = txs.filter((t) => t.address === BigInt('0x' + w.root.hash.toString('hex'))).reverse();
        const calls: any[] = [];
        const source = {
            async getTransactions(_a: Address, o: { limit: number; lt?: string }) {
                calls.push(o);
                const start = o.lt ? rootTxs.findIndex((t) => t.lt.toString() === o.lt) + 1 : 0;
                return rootTxs.slice(start, start + o.limit);
            },
        };
        const fetched = await fetchRootTransactions(source, w.root, 100, 2);
        expect(fetched.length).toBe(rootTxs.length);
        expect(calls.length).toBe(Math.ceil((rootTxs.length + 1) / 2));
        // the root's own history holds the registrations; the events are in the Workers' transactions
        expect((await workerRegistrations(fetched, w.root)).length).toBe(3);
        expect((await workerAttestedEvents(fetched, w.root)).length).toBe(0);
    });

    it('reports a failed compute phase of our contracts only', () => {
        const addr = new Address(0, Buffer.alloc(32, 9));
        const tx = (exitCode: number, at: Address) => ({
            address: BigInt('0x' + at.hash.toString('hex')),
            description: { type: 'generic', computePhase: { type: 'vm', success: exitCode === 0, exitCode }, aborted: exitCode !== 0 },
        });
        expect(failureIn({ transactions: [tx(0, addr)] }, [addr])).toBeNull();
        expect(failureIn({ transactions: [tx(1102, new Address(0, Buffer.alloc(32, 1)))] }, [addr])).toBeNull();
        const e = failureIn({ transactions: [tx(Number(ERR_PRICE_TOO_HIGH), addr)] }, [addr]);
        expect(e).toBeInstanceOf(CocoonError);
        expect(e!.errorName).toBe('PriceTooHigh');
        expect(failureIn(undefined, [addr])).toBeNull();
    });
});

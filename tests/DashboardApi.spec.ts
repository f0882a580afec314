// The dashboard's JSON API and its development wallet, without a browser: a local sandbox network
// (two worker nodes), the dashboard on a free port, every endpoint read against the contracts, and the
// development wallet's transactions checked for their exact on-chain effects. Also the refusals: bad
// input, actions the contracts would bounce, requests a wallet must refuse, and the server's edge checks.
import { request } from 'node:http';
import { Address, Cell, beginCell, loadStateInit, storeStateInit, toNano } from '@ton/core';
import {
    CocoonOps, ClientEscrow, Worker, attachFor, escrowAddress, escrowForOpening, formatAddress, keyFromSeed, loadOpenEscrow,
    publicKeyToBigInt, workerAddress, ESCROW_STORAGE_RESERVE,
} from '../src/sdk';
import { startLocalNetwork, senderOf, DEMO_MODEL, type LocalNetwork } from '../src/demo/localNetwork';
import { startSandboxDashboard } from '../src/dashboard/sandbox';
import type { DashboardHandle } from '../src/dashboard/server';
import type { Service } from '../src/demo/serve';
import { stopAll } from '../src/demo/serve';

let net: LocalNetwork;
let dash: DashboardHandle;
let services: Service[];
let base: string;
const clientKey = publicKeyToBigInt(keyFromSeed(Buffer.alloc(32, 7)).publicKey);
const hexKey = '0x' + clientKey.toString(16).padStart(64, '0');

beforeAll(async () => {
    net = await startLocalNetwork({ workers: 2, prices: [toNano('100'), toNano('150')], stake: toNano('100'), completionTokens: 8, extraWallets: ['client', 'funder'] });
    const d = await startSandboxDashboard({ bc: net.bc, root: net.root, accounts: ['client', 'operator-1', 'operator-2'], port: 0, log: () => undefined });
    dash = d.dashboard;
    services = d.services;
    base = dash.url;
}, 120_000);

afterAll(async () => {
    await stopAll(services ?? []);
    await net?.stop();
});

async function get(path: string): Promise<{ status: number; body: any; headers: Headers }> {
    const r = await fetch(base + path);
    return { status: r.status, body: await r.json().catch(() => null), headers: r.headers };
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
}

const client = () => net.wallets.client.address;
const chainNow = () => net.bc.now!;
const escrowOf = async (worker: Address) => escrowAddress(worker, client());
const escrowState = async (worker: Address) => {
    try {
        return await net.bc.openContract(ClientEscrow.fromAddress(await escrowOf(worker))).getState();
    } catch {
        return null;
    }
};
const balance = async (a: Address) => (await net.bc.getContract(a)).balance;
/** An escrow's balance: exactly what it holds, less the storage fee of the seconds since (the sandbox clock follows the wall clock). */
const expectHolding = async (a: Address, holds: bigint) => {
    const b = await balance(a);
    expect(b).toBeLessThanOrEqual(holds);
    expect(b).toBeGreaterThan(holds - 100n);
};

/** Builds an action with the API and has the development wallet send it. */
async function act(body: Record<string, unknown>, from: Address = client()) {
    const built = await post('/api/tx', { ...body, from: from.toRawString() });
    expect(built.status).toBe(200);
    const sent = await post('/api/dev/send', { account: from.toRawString(), request: built.body.request });
    expect(sent.status).toBe(200);
    return { built: built.body, sent: sent.body };
}

describe('read endpoints', () => {
    it('/api/config names the network, the development wallet and the SDK fee table', async () => {
        const { status, body } = await get('/api/config');
        expect(status).toBe(200);
        expect(body).toMatchObject({ network: 'sandbox', chain: 'sandbox', wallet: 'development', explorer: null, canAdvanceClock: true });
        expect(body.root.raw).toBe(net.root.toRawString());
        expect(body.root.address).toBe(formatAddress(net.root, 'sandbox', true));
        expect(body.fees.openEscrow.attach).toBe(attachFor('openEscrow').toString());
        expect(body.fees.claimRewards.attach).toBe(attachFor('claimRewards').toString());
        expect(body.manifestUrl).toBe(`${base}/tonconnect-manifest.json`);
    });

    it('/api/network: parameters, quorum, total stake and registrations as the root has them', async () => {
        const { body } = await get('/api/network');
        expect(body.params).toEqual({
            minStake: net.params.minStake.toString(), maxPrice: net.params.maxPrice.toString(), unbondingPeriod: Number(net.params.unbondingPeriod),
            maxAttestationTtl: Number(net.params.maxAttestationTtl), disputeWindow: Number(net.params.disputeWindow), protocolFeeBps: Number(net.params.protocolFeeBps),
            stakerShareBps: Number(net.params.stakerShareBps), slashBps: Number(net.params.slashBps), reporterBountyBps: Number(net.params.reporterBountyBps),
        });
        expect(body).toMatchObject({ verifierQuorum: 1, registrations: 2, paused: false, networkId: 1, feesCollected: '0', settledVolume: '0' });
        expect(body.rewards.totalStake).toBe(toNano('200').toString());
        expect(body.owner.raw).toBe(net.owner.address.toRawString());
        expect(body.owner.address.startsWith('0Q')).toBe(true); // a wallet: non-bounceable, test-only
        expect(body.balance).toBe((await balance(net.root)).toString());
    });

    it('/api/workers: both workers from their contracts, cheapest first, with their on-chain reputation', async () => {
        const { body } = await get('/api/workers');
        expect(body.workers).toHaveLength(2);
        const [a, b] = body.workers;
        // one price for every token class in this network; the list sorts by a typical request's price
        expect([a.prices, b.prices]).toEqual([toNano('100'), toNano('150')].map((p) => ({ prompt: p.toString(), cached: p.toString(), completion: p.toString() })));
        expect([a.typicalPrice, b.typicalPrice]).toEqual([toNano('100').toString(), toNano('150').toString()]);
        const info = await net.bc.openContract(Worker.fromAddress(net.nodes[0].worker)).getInfo();
        expect(a).toMatchObject({
            model: DEMO_MODEL, active: true, status: 'active', stake: toNano('100').toString(), endpoint: net.nodes[0].url,
            expiresAt: Number(info.expiresAt), tcb: 'None', tcbStatus: 255, settled: { volume: '0', claims: 0 },
        });
        const rep = await net.bc.openContract(Worker.fromAddress(net.nodes[0].worker)).getReputation();
        expect(a.reputation).toEqual({ registeredAt: Number(rep.registeredAt), renewals: 0, slashes: 0, settledEscrows: 0, settledVolume: '0' });
        expect(a.reputation.registeredAt).toBeGreaterThan(0);
        expect(a.worker.raw).toBe(net.nodes[0].worker.toRawString());
        expect(a.worker.address.startsWith('kQ')).toBe(true); // a contract: bounceable, test-only
        expect(a.operator.raw).toBe(net.operators[0].address.toRawString());
    });

    it('/api/workers/:address answers 404 for an address that is no Worker and 400 for one that is no address', async () => {
        expect((await get(`/api/workers/${net.nodes[1].worker.toString()}`)).body.worker.prices.completion).toBe(toNano('150').toString());
        expect((await get(`/api/workers/${client().toString()}`)).status).toBe(404);
        const bad = await get('/api/workers/not-an-address');
        expect(bad.status).toBe(400);
        expect(bad.body.error.message).toMatch(/TON address/);
    });

    it('/api/events lists the registrations, bounded by limit (1..200)', async () => {
        const { body } = await get('/api/events?limit=200');
        expect(body.events.filter((e: any) => e.kind === 'register')).toHaveLength(2);
        const attested = body.events.filter((e: any) => e.kind === 'attested');
        expect(attested).toHaveLength(2);
        // the root sent them: a contract, shown bounceable; an operator's registration comes from a wallet
        expect(attested[0].from).toEqual({ address: formatAddress(net.root, 'sandbox', true), raw: net.root.toRawString() });
        expect(body.events.find((e: any) => e.kind === 'register').from.address.startsWith('0Q')).toBe(true);
        expect((await get('/api/events?limit=1')).body.events).toHaveLength(1);
        expect((await get('/api/events?limit=1000')).status).toBe(400);
        expect((await get('/api/events?limit=x')).status).toBe(400);
    });
});

describe('actions and the development wallet', () => {
    it('builds OpenEscrow as TonConnect wants it: user-friendly address, nanoton string, the SDK body and StateInit', async () => {
        const worker = net.nodes[0].worker;
        const { status, body } = await post('/api/tx', { op: 'openEscrow', from: client().toString(), worker: worker.toString(), deposit: '2000000000', clientKey: hexKey });
        expect(status).toBe(200);
        const req = body.request;
        const wall = Math.floor(Date.now() / 1000);
        expect(req.network).toBe('sandbox');
        expect(req.from).toBe(client().toRawString());
        expect(req.validUntil).toBeGreaterThan(wall + 250);
        expect(req.validUntil).toBeLessThanOrEqual(wall + 301);
        expect(req.messages).toHaveLength(1);
        const m = req.messages[0];
        const escrow = await escrowOf(worker);
        expect(m.address).toBe(formatAddress(escrow, 'sandbox', true));
        expect(m.amount).toBe((2_000_000_000n + attachFor('openEscrow')).toString());
        const open = loadOpenEscrow(Cell.fromBase64(m.payload).beginParse());
        // the caps: the worker's prices, class by class; the root the dashboard serves
        expect(open).toMatchObject({ deposit: 2_000_000_000n, caps: { prompt: toNano('100'), cached: toNano('100'), completion: toNano('100') }, clientKey });
        expect(open.root.equals(net.root)).toBe(true);
        const init = loadStateInit(Cell.fromBase64(m.stateInit).beginParse());
        const expected = (await escrowForOpening(worker, client())).init!;
        expect(beginCell().store(storeStateInit(init)).endCell().hash().equals(beginCell().store(storeStateInit({ code: expected.code, data: expected.data })).endCell().hash())).toBe(true);
        expect(body.summary).toMatchObject({ op: 'openEscrow', principal: '2000000000', fees: attachFor('openEscrow').toString() });
    });

    it('opens an escrow through the development wallet: deposit, cap, client key and reserve on-chain, the change back', async () => {
        const worker = net.nodes[0].worker;
        expect(await escrowState(worker)).toBeNull();
        const before = await balance(client());
        const { sent } = await act({ op: 'openEscrow', worker: worker.toString(), deposit: '2000000000', clientKey: hexKey });
        expect(sent.ok).toBe(true);
        expect(sent.trace.length).toBeGreaterThanOrEqual(4); // wallet, escrow (deploy), worker (query), escrow (info)
        expect(Cell.fromBase64(sent.boc)).toBeInstanceOf(Cell);
        const st = (await escrowState(worker))!;
        expect(st).toMatchObject({ state: 2n, deposit: 2_000_000_000n, caps: { prompt: toNano('100'), cached: toNano('100'), completion: toNano('100') }, paid: 0n, clientKey });
        expect(st.epoch).toBeGreaterThan(0n);
        // the escrow holds exactly the deposit and its storage reserve; the rest of the attached value came back
        await expectHolding(await escrowOf(worker), 2_000_000_000n + ESCROW_STORAGE_RESERVE);
        const spent = before - (await balance(client()));
        expect(spent).toBeGreaterThan(2_000_000_000n + ESCROW_STORAGE_RESERVE);
        expect(spent).toBeLessThan(2_000_000_000n + ESCROW_STORAGE_RESERVE + attachFor('openEscrow'));
        const c = (await get(`/api/clients/${client().toString()}`)).body;
        expect(c.escrows).toHaveLength(1);
        expect(c.escrows[0]).toMatchObject({ state: 'open', deposit: '2000000000', paid: '0', clientKey: hexKey, caps: { prompt: '100000000000', cached: '100000000000', completion: '100000000000' } });
        expect(c.escrows[0].payUntil).toBe(Number(st.payUntil));
        const ev = (await get('/api/events?limit=1')).body.events[0];
        expect(ev).toMatchObject({ kind: 'open-escrow', amount: '2000000000' });
        expect(ev.from.raw).toBe(client().toRawString());
    });

    it('refuses what the contracts would refuse, with a reason', async () => {
        const worker = net.nodes[0].worker.toString();
        const from = client().toString();
        const again = await post('/api/tx', { op: 'openEscrow', from, worker, deposit: '1000000000', clientKey: hexKey });
        expect(again.status).toBe(409);
        expect(again.body.error.message).toMatch(/already open.*top it up/);
        const early = await post('/api/tx', { op: 'withdrawEscrow', from, worker });
        expect(early.status).toBe(409);
        expect(early.body.error.message).toMatch(/close the escrow first/);
        const none = await post('/api/tx', { op: 'topUpEscrow', from, worker: net.nodes[1].worker.toString(), amount: '1' });
        expect(none.status).toBe(409);
        expect(none.body.error.message).toMatch(/no escrow with this worker/);
        const cap = await post('/api/tx', { op: 'openEscrow', from, worker: net.nodes[1].worker.toString(), deposit: '1000000000', maxPrice: toNano('149').toString(), clientKey: hexKey });
        expect(cap.status).toBe(409);
        expect(cap.body.error.message).toMatch(/above your cap/);
        const notOperator = await post('/api/tx', { op: 'claimRewards', from });
        expect(notOperator.status).toBe(409);
        expect(notOperator.body.error.message).toMatch(/operates no Worker/);
    });

    it('validates input: nanoton strings, 64-hex keys, known ops, no extra fields', async () => {
        const from = client().toString();
        const worker = net.nodes[1].worker.toString();
        for (const [body, msg] of [
            [{ op: 'openEscrow', from, worker, deposit: '1.5', clientKey: hexKey }, /deposit: must be nanoton/],
            [{ op: 'openEscrow', from, worker, deposit: '1000', clientKey: '0x1234' }, /clientKey: must be 64 hex digits/],
            [{ op: 'openEscrow', from, worker, deposit: '1000', clientKey: '0x' + '0'.repeat(64) }, /public key/],
            [{ op: 'openEscrow', from: 'nobody', worker, deposit: '1000', clientKey: hexKey }, /from: must be a TON address/],
            [{ op: 'mint', from }, /op/],
            [{ op: 'closeEscrow', from, worker, extra: 1 }, /Unrecognized key/],
        ] as const) {
            const r = await post('/api/tx', body);
            expect(r.status).toBe(400);
            expect(r.body.error.message).toMatch(msg);
        }
        expect((await post('/api/tx', '{not json')).status).toBe(400);
    });

    it('the development wallet refuses what a wallet must refuse (TonConnect error 1 or 100)', async () => {
        const from = client().toRawString();
        const built = (await post('/api/tx', { op: 'openEscrow', from, worker: net.nodes[1].worker.toString(), deposit: '1000000000', clientKey: hexKey })).body.request;
        const m = built.messages[0];
        const cases: [unknown, RegExp, number, string?][] = [
            [{ ...built, network: '-239' }, /for network -239/, 1],
            [{ ...built, validUntil: Math.floor(Date.now() / 1000) - 1 }, /expired/, 1],
            [{ ...built, messages: [{ ...m, address: Address.parse(m.address).toRawString() }] }, /user-friendly/, 1],
            [{ ...built, messages: [{ ...m, amount: '1.5' }] }, /decimal string/, 1],
            [{ ...built, messages: [{ ...m, payload: '!!!' }] }, /base64/, 1],
            [{ ...built, messages: [{ ...m, stateInit: (await escrowForOpening(net.nodes[0].worker, client())).init && beginCell().store(storeStateInit((await escrowForOpening(net.nodes[0].worker, client())).init!)).endCell().toBoc().toString('base64') }] }, /does not belong/, 1],
            [{ ...built, from: net.operators[0].address.toRawString() }, /another account/, 1],
            [{ ...built, messages: [] }, /messages/, 1],
            [built, /no account/, 100, net.owner.address.toRawString()],
        ];
        for (const [request, msg, code, account] of cases) {
            const r = await post('/api/dev/send', { account: account ?? from, request });
            expect(r.status).toBe(400);
            expect(r.body.error).toMatchObject({ walletCode: code });
            expect(r.body.error.message).toMatch(msg);
        }
        expect(await escrowState(net.nodes[1].worker)).toBeNull(); // nothing was sent
    });

    it('top up, close, then withdraw after the dispute window (sandbox clock) through the development wallet', async () => {
        const worker = net.nodes[0].worker;
        await act({ op: 'topUpEscrow', worker: worker.toString(), amount: '500000000' });
        expect((await escrowState(worker))!.deposit).toBe(2_500_000_000n);
        await expectHolding(await escrowOf(worker), 2_500_000_000n + ESCROW_STORAGE_RESERVE);

        const t = chainNow();
        await act({ op: 'closeEscrow', worker: worker.toString() });
        const closing = (await escrowState(worker))!;
        expect(closing.state).toBe(3n);
        expect(Number(closing.closeAt)).toBeGreaterThanOrEqual(t + Number(net.params.disputeWindow));
        expect(Number(closing.closeAt)).toBeLessThanOrEqual(chainNow() + Number(net.params.disputeWindow));
        const early = await post('/api/tx', { op: 'withdrawEscrow', from: client().toRawString(), worker: worker.toString() });
        expect(early.status).toBe(409);
        expect(early.body.error.message).toMatch(/dispute window ends at/);

        const moved = await post('/api/dev/advance', { seconds: Number(closing.closeAt) - chainNow() + 1 });
        expect(moved.status).toBe(200);
        expect(moved.body.now).toBeGreaterThan(Number(closing.closeAt));
        expect((await post('/api/dev/advance', { seconds: 0 })).status).toBe(400);

        const before = await balance(client());
        const { sent } = await act({ op: 'withdrawEscrow', worker: worker.toString() });
        expect(sent.ok).toBe(true);
        expect(await escrowState(worker)).toBeNull();
        expect(await balance(await escrowOf(worker))).toBe(0n);
        const got = (await balance(client())) - before;
        // the deposit and the reserve came back, less the wallet's fees for this one withdrawal
        expect(got).toBeGreaterThan(2_500_000_000n + ESCROW_STORAGE_RESERVE - toNano('0.01'));
        expect(got).toBeLessThan(2_500_000_000n + ESCROW_STORAGE_RESERVE);
        expect((await get(`/api/clients/${client().toString()}`)).body.escrows).toEqual([]);
        const kinds = (await get('/api/events?limit=3')).body.events.map((e: any) => e.kind);
        expect(kinds).toEqual(['withdraw-escrow', 'close-escrow', 'top-up-escrow']);
    });

    it("an operator's page and claim rewards through the development wallet: exactly the pending rewards are paid", async () => {
        const op = net.operators[0].address;
        const o = (await get(`/api/operators/${op.toString()}`)).body;
        expect(o.workerAddress.raw).toBe((await workerAddress(net.root, op)).toRawString());
        expect(o.worker.prices.prompt).toBe(toNano('100').toString());
        expect(o.pendingRewards).toBe('0');
        expect(o.earnings).toEqual({ payouts: '0', claims: 0, rewards: '0' });
        const nothing = await post('/api/tx', { op: 'claimRewards', from: op.toRawString() });
        expect(nothing.status).toBe(409);
        expect(nothing.body.error.message).toMatch(/no rewards to claim/);

        await new CocoonOps(net.chain, senderOf(net.wallets.funder), net.root).fundRewards(toNano('2'));
        const pending = BigInt((await get(`/api/operators/${op.toString()}`)).body.pendingRewards);
        expect(pending).toBe(toNano('1')); // two workers with equal stake share 2 TON
        const { sent } = await act({ op: 'claimRewards' }, op);
        expect(sent.ok).toBe(true);
        const after = (await get(`/api/operators/${op.toString()}`)).body;
        expect(after.pendingRewards).toBe('0');
        expect(after.earnings.rewards).toBe(pending.toString());
        const ev = (await get('/api/events?limit=5')).body.events.find((e: any) => e.kind === 'rewards-paid');
        expect(ev.amount).toBe(pending.toString());
        expect(ev.to.raw).toBe(op.toRawString());
    });

    it('unbond through the development wallet; withdrawStake waits for withdrawableAt', async () => {
        const op = net.operators[1].address;
        const { sent } = await act({ op: 'unbond' }, op);
        expect(sent.ok).toBe(true);
        const w = (await get(`/api/operators/${op.toString()}`)).body.worker;
        expect(w).toMatchObject({ status: 'unbonding', stake: '0', unbonding: toNano('100').toString(), active: false });
        const early = await post('/api/tx', { op: 'withdrawStake', from: op.toRawString() });
        expect(early.status).toBe(409);
        expect(early.body.error.message).toMatch(/withdrawable from/);
        expect((await get('/api/network')).body.rewards.totalStake).toBe(toNano('100').toString());
    });
});

describe('the server edge', () => {
    const raw = (path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
            const u = new URL(base + path);
            const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: o.method ?? 'GET', headers: o.headers }, (res) => {
                let b = '';
                res.on('data', (d) => (b += d));
                res.on('end', () => resolve({ status: res.statusCode!, body: b }));
            });
            req.on('error', reject);
            req.end(o.body);
        });

    it('serves the page with a strict CSP, the TonConnect bundle from node_modules, and nothing else from disk', async () => {
        const page = await fetch(base + '/');
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<script type="module" src="/app.js">');
        expect(page.headers.get('content-security-policy')).toContain("connect-src 'self';");
        expect(page.headers.get('x-content-type-options')).toBe('nosniff');
        const tc = await fetch(base + '/vendor/tonconnect-ui.min.js');
        expect(tc.status).toBe(200);
        expect(tc.headers.get('content-type')).toMatch(/javascript/);
        expect(await tc.text()).toContain('TON_CONNECT_UI');
        expect((await raw('/../package.json')).status).toBe(404);
        expect((await raw('/%2e%2e/package.json')).status).toBe(404);
        expect((await raw('/views/../../../package.json')).status).toBe(404);
    });

    it('serves the TonConnect manifest with the fields wallets read, open to any origin, and a 180x180 PNG icon', async () => {
        const r = await fetch(base + '/tonconnect-manifest.json');
        expect(r.headers.get('access-control-allow-origin')).toBe('*');
        const m = await r.json() as { url: string; name: string; iconUrl: string };
        expect(m).toEqual({ url: base, name: 'Cocoon dashboard', iconUrl: `${base}/icon-180.png` });
        const png = Buffer.from(await (await fetch(m.iconUrl)).arrayBuffer());
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([180, 180]);
    });

    it('refuses a foreign Host (DNS rebinding), a cross-site POST, a non-JSON POST and a body over 16 KiB', async () => {
        expect((await raw('/api/network', { headers: { host: 'evil.example:80' } })).status).toBe(421);
        const xsite = await post('/api/dev/advance', { seconds: 1 }, { origin: 'https://evil.example' });
        expect(xsite.status).toBe(403);
        const t = chainNow();
        expect((await post('/api/dev/advance', '{"seconds":1}', { 'content-type': 'text/plain' })).status).toBe(415);
        expect(chainNow()).toBeLessThan(t + 1 + 2); // neither moved the clock (only the wall-clock tick may have)
        const big = await post('/api/tx', JSON.stringify({ op: 'claimRewards', from: 'x'.repeat(20_000) }));
        expect(big.status).toBe(413);
        expect((await post('/api/nope', {})).status).toBe(404);
    });
});

describe('timelocked governance in the history', () => {
    it('a proposal shows what it changes and when it acts; its execution and a cancellation name the same change', async () => {
        const gov = new CocoonOps(net.chain, senderOf(net.owner), net.root);
        const measurement = 0xabcdefn;
        const p = await gov.propose({ kind: 'addMeasurement', measurement, model: 'timelocked-model' });
        const q = await gov.propose({ kind: 'setVerifierQuorum', quorum: 1n });
        await gov.cancel(q.id);
        net.bc.now = p.eta;
        await gov.execute(p.id);
        const events = (await get('/api/events?limit=10')).body.events.filter((e: any) => e.kind === 'governance').map((e: any) => e.detail);
        const what = `addMeasurement 0x${measurement.toString(16).padStart(64, '0')} = timelocked-model`;
        expect(events).toEqual(expect.arrayContaining([
            `proposed: ${what} (executable from ${new Date(p.eta * 1000).toISOString()})`,
            `executed: ${what}`,
            'cancelled: setVerifierQuorum 1',
        ]));
    });
});

// The entry points' fee checks use constants for what they cannot measure cheaply on-chain; these
// tests keep the constants honest against the real messages and the real gas.
import '@ton/test-utils';
import { Address, Cell } from '@ton/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
    escrowForOpening, workerAddress, emptyWorkerState, Worker,
    WORKER_DEPLOY_CELLS, WORKER_DEPLOY_BITS, GAS_ROOT_ATTEST, GAS_WORKER_RESULT, GAS_ESCROW_OPEN, GAS_WORKER_QUERY, GAS_ESCROW_INFO, GAS_ESCROW_CLAIM,
} from '../src/sdk';
import { createNet, registerWorker, openEscrow, signedReceiptFor, claimBody } from './helpers/network';
import { toNano } from '@ton/core';

function treeSize(c: Cell, seen = new Set<string>()): { cells: number; bits: number } {
    const h = c.hash().toString('hex');
    if (seen.has(h)) return { cells: 0, bits: 0 };
    seen.add(h);
    let cells = 1;
    let bits = c.bits.length;
    for (const r of c.refs) {
        const s = treeSize(r, seen);
        cells += s.cells;
        bits += s.bits;
    }
    return { cells, bits };
}

function gasOn(tx: any): number {
    const d = tx.description;
    return d.type === 'generic' && d.computePhase.type === 'vm' ? Number(d.computePhase.gasUsed) : 0;
}

describe('generated contract constants', () => {
    it("contracts/escrow_code.tact holds the compiled escrow code's hash and depth (scripts/build-contracts.mjs writes it)", async () => {
        const text = readFileSync(join(__dirname, '..', 'contracts', 'escrow_code.tact'), 'utf8');
        const code = Cell.fromBoc(Buffer.from(JSON.parse(readFileSync(join(__dirname, '..', 'build', 'ClientEscrow.compiled.json'), 'utf8')).hex, 'hex'))[0];
        expect(/ESCROW_CODE_HASH: Int = 0x([0-9a-f]{64});/.exec(text)?.[1]).toBe(code.hash().toString('hex'));
        expect(/ESCROW_CODE_DEPTH: Int = (\d+);/.exec(text)?.[1]).toBe(String(code.depth()));
        // and the same code is what the SDK derives escrow addresses from
        const e = await escrowForOpening(new Address(0, Buffer.alloc(32, 1)), new Address(0, Buffer.alloc(32, 2)));
        expect(e.init!.code.hash().toString('hex')).toBe(code.hash().toString('hex'));
    });
});

describe("the Worker's initial state and address, as the root derives them", () => {
    it("contracts/worker.tact's WORKER_INIT_STATE is WorkerState {} as the Worker's init stores it: [root][operator] + ^state", async () => {
        const text = readFileSync(join(__dirname, '..', 'contracts', 'worker.tact'), 'utf8');
        const b64 = /const WORKER_INIT_STATE: Cell = cell\("([A-Za-z0-9+/=]+)"\);/.exec(text)?.[1];
        expect(b64).toBeDefined();
        const constant = Cell.fromBase64(b64!);
        const w = await Worker.fromInit(new Address(0, Buffer.alloc(32, 1)), new Address(0, Buffer.alloc(32, 2)), emptyWorkerState());
        const data = w.init!.data;
        expect([data.bits.length, data.refs.length]).toEqual([534, 1]);
        // if this fails after a change of WorkerState, put this in WORKER_INIT_STATE:
        // data.refs[0].toBoc({ idx: false, crc32: false }).toString('base64')
        expect(data.refs[0].toBoc({ idx: false, crc32: false }).toString('base64')).toBe(b64);
        expect(data.refs[0].hash().equals(constant.hash())).toBe(true);
    });

    it('the root derives, from hashes and depths alone, the address the SDK derives for any operator', async () => {
        const net = await createNet();
        const operators = [
            (await net.chain.treasury('op-a')).address,
            (await net.chain.treasury('op-b')).address,
            new Address(0, Buffer.alloc(32, 0)),
            new Address(0, Buffer.alloc(32, 0xff)),
            new Address(-1, Buffer.alloc(32, 7)),
        ];
        for (const operator of operators) {
            const sdk = await workerAddress(net.root.address, operator);
            expect([operator.toRawString(), (await net.root.getWorkerAddressOf(operator)).toRawString()]).toEqual([operator.toRawString(), sdk.toRawString()]);
        }
        // and deploys exactly there
        const w = await registerWorker(net, 'op');
        expect(w.result.transactions).toHaveTransaction({ from: net.root.address, to: await workerAddress(net.root.address, w.operator.address), deploy: true, success: true });
    });
});

describe('fee constants', () => {
    it('WORKER_DEPLOY_CELLS/BITS bound the message that deploys a worker', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op');
        const deploy = w.result.transactions.find((t) => t.inMessage?.info.dest?.toString() === w.worker.address.toString());
        expect(deploy).toBeDefined();
        const msg = deploy!.inMessage!;
        // the forward fee counts every cell of the message but its root: the StateInit's code and data
        // and the trees the body refers to (the root writes the AttestResult body inline, in the root cell)
        const raw = deploy!.raw.refs[0].refs[0]; // the transaction's ^[in_msg, out_msgs], its in_msg
        expect(raw.refs.map((r) => r.hash().toString('hex'))).toEqual(
            [msg.init!.code!, msg.init!.data!, ...msg.body.refs].map((r) => r.hash().toString('hex')));
        const parts = [msg.init?.code, msg.init?.data, ...msg.body.refs].filter((c): c is Cell => !!c);
        const seen = new Set<string>();
        let cells = 0;
        let bits = 0;
        for (const p of parts) {
            const s = treeSize(p, seen);
            cells += s.cells;
            bits += s.bits;
        }
        expect(cells).toBeLessThanOrEqual(Number(WORKER_DEPLOY_CELLS));
        expect(bits).toBeLessThanOrEqual(Number(WORKER_DEPLOY_BITS));
        // and not so loose that operators overpay a lot
        expect(Number(WORKER_DEPLOY_BITS)).toBeLessThan(bits * 1.25);
    });

    it('gas budgets cover the measured handlers', async () => {
        const net = await createNet();
        const w = await registerWorker(net, 'op');
        const [, rootTx, workerTx] = w.result.transactions;
        expect(gasOn(rootTx)).toBeLessThanOrEqual(Number(GAS_ROOT_ATTEST));
        expect(gasOn(workerTx)).toBeLessThanOrEqual(Number(GAS_WORKER_RESULT));
        const e = await openEscrow(net, w, 'client');
        const [, open, query, info] = e.result.transactions;
        expect(gasOn(open)).toBeLessThanOrEqual(Number(GAS_ESCROW_OPEN));
        expect(gasOn(query)).toBeLessThanOrEqual(Number(GAS_WORKER_QUERY));
        expect(gasOn(info)).toBeLessThanOrEqual(Number(GAS_ESCROW_INFO));
        const r = await signedReceiptFor(e, w.tee, { seq: 1n, tokens: 1_000_000n, cost: toNano('0.4') });
        const res = await e.escrow.send(w.operator.getSender(), { value: toNano('0.1') }, claimBody(r) as any);
        expect(res.transactions).toHaveTransaction({ to: e.escrow.address, success: true });
        expect(gasOn(res.transactions[1])).toBeLessThanOrEqual(Number(GAS_ESCROW_CLAIM));
    });
});

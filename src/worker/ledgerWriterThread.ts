// The receipt ledger's writer thread (see groupCommit.ts): it opens its own SQLite connection (WAL,
// synchronous=FULL), signs the rows it is handed when it holds the TEE key, and commits every group
// waiting in its queue in one transaction. It only writes rows it is given: what to write is decided
// on the main thread by GroupCommitWriter.
// Plain JavaScript so the thread needs no TypeScript loader. It only writes rows it is given.
export const WRITER_THREAD = String.raw`
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const { createHash, sign } = require('node:crypto');
const key = workerData.signingKey || null;
const keyHex = workerData.signingKeyHex || null;
const CRC = new Int32Array(256);
for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    CRC[n] = c;
}
// rows flagged 'sign' carry the SignedReceipt BOC with a zero signature (src/sdk/receipt.ts
// signedReceiptBoc): the receipt cell's representation sits at 78..end-4, the signature at 13..77,
// the CRC32-C of everything before it in the last 4 bytes.
const COL = workerData.columns;
function signRow(r) {
    if (!key) throw new Error('the writer has no signing key');
    const u8 = r.receipt[COL.boc];
    const boc = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    const end = boc.length - 4;
    const sig = sign(null, createHash('sha256').update(boc.subarray(78, end)).digest(), key);
    sig.copy(boc, 13);
    let crc = -1;
    for (let i = 0; i < end; i++) crc = CRC[(crc ^ boc[i]) & 0xff] ^ (crc >>> 8);
    boc.writeInt32LE(crc ^ -1, end);
    r.receipt[COL.signature] = sig;
    r.receipt[COL.boc] = boc;
    r.receipt[COL.teeKey] = keyHex;
}
const db = new Database(workerData.path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
for (const p of workerData.pragmas || []) db.pragma(p);
db.defaultSafeIntegers(true);
const insertReceipt = db.prepare(workerData.insertReceipt);
const upsertAccount = db.prepare(workerData.upsertAccount);
const addSpend = db.prepare(workerData.addSpend);
const probe = db.prepare(workerData.probe);
const probeClean = db.prepare(workerData.probeClean);
const probeTx = db.transaction((at) => {
    probe.run(at);
    probeClean.run();
});
const commit = db.transaction((groups) => {
    for (const g of groups) {
        for (const r of g.rows) {
            insertReceipt.run(...r.receipt);
            if (r.spend) addSpend.run(...r.spend);
        }
        for (const a of g.accounts) upsertAccount.run(...a);
    }
});
// After a failed transaction every group already queued is refused (it may continue the failed
// one's seqs) until the main thread, having seen the failure, sends reset.
let refusing = null;
let tx = 0;
function handle(first) {
    // every group waiting in the queue goes into this one transaction
    const groups = [first];
    for (let m; (m = receiveMessageOnPort(parentPort)); ) groups.push(m.message);
    let batch = [];
    const flush = () => {
        if (batch.length === 0) return;
        const gs = batch;
        batch = [];
        if (refusing) {
            for (const g of gs) parentPort.postMessage({ id: g.id, ok: false, error: refusing });
            return;
        }
        try {
            for (const g of gs) for (const r of g.rows) if (r.sign) signRow(r);
            commit.immediate(gs);
            tx++;
        } catch (e) {
            refusing = 'an earlier commit failed: ' + String((e && e.message) || e);
            for (const g of gs) parentPort.postMessage({ id: g.id, ok: false, error: String((e && e.message) || e) });
            return;
        }
        for (const g of gs) parentPort.postMessage({ id: g.id, ok: true, tx, signed: g.rows.map((r) => (r.sign ? [r.receipt[COL.signature], r.receipt[COL.boc]] : null)) });
    };
    for (const m of groups) {
        if (m.rows) {
            batch.push(m);
            continue;
        }
        flush();
        if (m.reset) {
            refusing = null;
            parentPort.postMessage({ id: m.id, ok: true });
        } else if (m.probe) {
            try {
                if (refusing) throw new Error(refusing);
                probeTx.immediate(String(m.at));
                parentPort.postMessage({ id: m.id, ok: true });
            } catch (e) {
                parentPort.postMessage({ id: m.id, ok: false, error: String((e && e.message) || e) });
            }
        } else if (m.close) {
            db.close();
            parentPort.postMessage({ id: m.id, ok: true });
        }
    }
    flush();
}
parentPort.on('message', handle);
parentPort.postMessage({ ready: true });
`;

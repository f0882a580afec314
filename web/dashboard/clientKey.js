// The client key in the browser: the ed25519 key whose public half an escrow stores (OpenEscrow's
// clientKey) and which signs the client's API keys for worker nodes. Its secret never leaves the browser:
//
// - created with WebCrypto from 32 random bytes (the same 32-byte seed format as ~/.cocoon/client-key,
//   so the CLI can use it through COCOON_CLIENT_KEY_SEED, and a CLI key can be imported here);
// - kept in IndexedDB as a non-extractable CryptoKey: scripts of this page can sign with it but cannot
//   read it, and it is never sent to the server (the server only ever sees the public key);
// - the seed is shown once, at creation, for a backup; importing a seed makes the same key.
// Why not the wallet's own key: TonConnect wallets sign transactions and ton_proof, not arbitrary
// ed25519 payloads, and a wallet key must not double as an API-key signer. Why not the server: the
// server is shared infrastructure; whoever holds the secret can spend the escrow's API access.
const DB = 'cocoon-dashboard';
const STORE = 'keys';
const ID = 'client-key';
// PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows.
const PKCS8_PREFIX = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (h) => new Uint8Array(h.match(/../g).map((x) => parseInt(x, 16)));
const b64urlToBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4)), (c) => c.charCodeAt(0));

function db() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function tx(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => { d.close(); resolve(req?.result); };
    t.onerror = () => { d.close(); reject(t.error); };
  });
}

export function supported() {
  return Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);
}

/** The stored key: { publicKey: '0x…64 hex', createdAt } or null. */
export async function loadClientKey() {
  const rec = await tx('readonly', (s) => s.get(ID));
  return rec ? { publicKey: rec.publicKey, createdAt: rec.createdAt, imported: rec.imported } : null;
}

async function keep(seed, imported) {
  const pkcs8 = new Uint8Array(PKCS8_PREFIX.length + 32);
  pkcs8.set(PKCS8_PREFIX);
  pkcs8.set(seed, PKCS8_PREFIX.length);
  let extractable;
  try {
    extractable = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  } catch (e) {
    throw new Error(`this browser has no Ed25519 in WebCrypto (${e.message}); use a current Chrome, Firefox or Safari`);
  }
  // the public half, from the private key's JWK (x); then the secret is re-imported non-extractable
  const jwk = await crypto.subtle.exportKey('jwk', extractable);
  const publicKey = '0x' + hex(b64urlToBytes(jwk.x));
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  pkcs8.fill(0);
  const rec = { privateKey, publicKey, createdAt: Date.now(), imported };
  await tx('readwrite', (s) => s.put(rec, ID));
  return { publicKey, createdAt: rec.createdAt, imported };
}

/** A new key. Returns its public key and the seed (hex) to show once for a backup. */
export async function createClientKey() {
  const seed = crypto.getRandomValues(new Uint8Array(32));
  const seedHex = hex(seed);
  const k = await keep(seed, false);
  seed.fill(0);
  return { ...k, seedHex };
}

/** The key of a 32-byte seed in hex (what ~/.cocoon/client-key holds). */
export async function importClientKey(seedHex) {
  const h = String(seedHex ?? '').trim().replace(/^0x/, '');
  if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new Error('a client key seed is exactly 64 hex digits (the content of ~/.cocoon/client-key)');
  const seed = fromHex(h);
  const k = await keep(seed, true);
  seed.fill(0);
  return k;
}

export async function forgetClientKey() {
  await tx('readwrite', (s) => s.delete(ID));
}

/** Signs `bytes` with the stored key (ed25519); the secret stays inside WebCrypto. */
export async function signWithClientKey(bytes) {
  const rec = await tx('readonly', (s) => s.get(ID));
  if (!rec) throw new Error('no client key in this browser: create or import one first');
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, rec.privateKey, bytes));
}

// Who may spend an escrow: the holder of an API key (docs/SIGNING.md "API key") signed by the client
// key the escrow holds on-chain. Checked from the request's headers alone, before its body is read.
//
//   1. the peer has not failed too often (token bucket per address; 429 otherwise, before any work);
//   2. `Authorization: Bearer cocoon_…` parses (fixed length, version, tag);
//   3. not expired (notAfter, against chain time);
//   4. X-Cocoon-Escrow, if sent, names the key's escrow (the header is optional: the key names it);
//   5. the escrow is read (cache; an address not in the cache costs a token of a global bucket);
//      something that is not a ClientEscrow, or nothing, is refused;
//   6. the signature verifies against the escrow's clientKey. A key verified before against the same
//      clientKey is remembered (a map lookup); a failed check re-reads the escrow once if its cached
//      state is older than rereadMinAgeMs (a client that has just rotated its key, SetClientKey, works
//      at once), within a global bucket of re-reads, so nobody can make the node read the chain at will;
//   7. the escrow belongs to this worker (403 otherwise: the key is good, just sent to the wrong node).
//
// Steps 2-6 failing count against the peer's bucket. Spend limits are checked at admission, where
// the request's worst case is known.
import type { IncomingMessage } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { Address } from '@ton/core';
import { parseApiKey, verifyApiKey, clientPublicKeyObject, ApiKeyFormatError, type ApiKey } from '../sdk';
import type { EscrowSnapshot, EscrowView } from './chainViews';
import { LookupRateLimited } from './chainViews';
import { HttpError, Refuse } from './errors';
import { KeyedBuckets, TokenBucket, peerKey, type BucketRate } from './rateLimit';

export interface AuthConfig {
    failures: BucketRate;
    maxPeers: number;
    unknownEscrows: BucketRate;
    rereads: BucketRate;
    rereadMinAgeMs: number;
    verifiedCache: number;
}

export interface Principal {
    key: ApiKey;
    escrow: Address;
    /** The escrow as read (or cached) while authenticating. */
    snap: EscrowSnapshot;
    /** The peer's rate-limit key. */
    peer: string;
}

export interface AuthenticatorDeps {
    escrows: EscrowView;
    /** This node's Worker contract address. */
    worker: Address;
    /** Chain time, unix seconds. */
    now: () => Promise<number>;
    config: AuthConfig;
    /** Told of each refused authentication (metrics). */
    onFailure?: (reason: string) => void;
    clock?: () => number;
}

type FailReason = 'no_key' | 'bad_format' | 'expired' | 'escrow_mismatch' | 'no_escrow' | 'not_escrow' | 'bad_signature';

const hexOf = (k: bigint) => k.toString(16);

export class Authenticator {
    private readonly failures: KeyedBuckets;
    private readonly unknown: TokenBucket;
    private readonly rereads: TokenBucket;
    /** clientKey (hex) -> KeyObject, built once per key. */
    private readonly pubKeys = new Map<string, KeyObject>();
    /** token -> the clientKey (hex) it verified against. */
    private readonly verified = new Map<string, string>();
    /** Signature checks done (tests, the cost measurement). */
    readonly stats = { verifications: 0, cacheHits: 0, rereads: 0, failures: 0 };

    constructor(private readonly d: AuthenticatorDeps) {
        const clock = d.clock ?? Date.now;
        this.failures = new KeyedBuckets(d.config.failures, d.config.maxPeers, clock);
        this.unknown = new TokenBucket(d.config.unknownEscrows, clock);
        this.rereads = new TokenBucket(d.config.rereads, clock);
    }

    /** The principal of a request, from its headers; throws HttpError (401, 403, 429). */
    async authenticate(req: Pick<IncomingMessage, 'headers' | 'socket'>): Promise<Principal> {
        const peer = peerKey(req.socket?.remoteAddress);
        if (!this.failures.ready(peer)) throw Refuse.tooManyAuthFailures(Math.max(1, this.failures.waitSec(peer)));
        const fail = (reason: FailReason, e: HttpError): never => {
            this.failures.take(peer);
            this.stats.failures++;
            this.d.onFailure?.(reason);
            throw e;
        };
        const header = req.headers.authorization;
        if (!header) fail('no_key', Refuse.noApiKey());
        let key: ApiKey;
        try {
            key = parseApiKey(header!);
        } catch (e) {
            return fail('bad_format', Refuse.badApiKey(e instanceof ApiKeyFormatError ? e.message : 'it cannot be parsed'));
        }
        if (key.notAfter <= (await this.d.now())) fail('expired', Refuse.expiredApiKey(key.notAfter));
        const named = req.headers['x-cocoon-escrow'];
        const namedValue = Array.isArray(named) ? named[0] : named;
        if (namedValue !== undefined && namedValue !== '') {
            let a: Address | null = null;
            try {
                a = Address.parse(namedValue.trim());
            } catch {
                a = null;
            }
            if (!a || !a.equals(key.escrow)) {
                fail('escrow_mismatch', Refuse.badApiKey(`it is for escrow ${key.escrow.toString()}, but X-Cocoon-Escrow names ${namedValue.slice(0, 80)} (the header is optional: drop it)`));
            }
        }
        let lookup;
        try {
            lookup = await this.d.escrows.lookup(key.escrow, { unknown: this.unknown });
        } catch (e) {
            if (e instanceof LookupRateLimited) {
                this.failures.take(peer);
                throw Refuse.lookupsBusy();
            }
            throw e;
        }
        if (lookup.kind === 'none') fail('no_escrow', Refuse.badApiKey(`there is no ClientEscrow at ${key.escrow.toString()} (open one with cocoon open-escrow)`));
        if (lookup.kind === 'not_escrow') fail('not_escrow', Refuse.badApiKey(`${key.escrow.toString()} is not a ClientEscrow`));
        let snap = (lookup as { kind: 'escrow'; snap: EscrowSnapshot }).snap;
        if (!this.check(key, snap)) {
            // the client may have just rotated its key: read the escrow again, within limits
            const old = this.d.escrows.age(key.escrow) >= this.d.config.rereadMinAgeMs;
            if (old && this.rereads.take()) {
                this.stats.rereads++;
                const again = await this.d.escrows.lookup(key.escrow, { fresh: true });
                if (again.kind === 'escrow') snap = again.snap;
            }
            if (!this.check(key, snap)) {
                fail('bad_signature', Refuse.badApiKey(`its signature does not match the client key escrow ${key.escrow.toString()} holds (a key signed before SetClientKey is void)`));
            }
        }
        if (!snap.worker.equals(this.d.worker)) {
            throw new HttpError(403, `this API key's escrow ${key.escrow.toString()} belongs to another worker (${snap.worker.toString()}); send it to that worker's node`,
                'permission_denied', 'wrong_worker');
        }
        return { key, escrow: key.escrow, snap, peer };
    }

    /** True when the key is signed by the escrow's client key (remembered per token and client key). */
    private check(key: ApiKey, snap: EscrowSnapshot): boolean {
        const ck = snap.state.clientKey;
        if (ck === 0n) return false;
        const hex = hexOf(ck);
        const token = key.payload.toString('base64') + key.signature.toString('base64');
        if (this.verified.get(token) === hex) {
            this.stats.cacheHits++;
            return true;
        }
        let pub = this.pubKeys.get(hex);
        if (!pub) {
            pub = clientPublicKeyObject(ck);
            this.pubKeys.set(hex, pub);
            if (this.pubKeys.size > this.d.config.verifiedCache + 1) this.pubKeys.delete(this.pubKeys.keys().next().value as string);
        }
        this.stats.verifications++;
        const ok = verifyApiKey(key, pub);
        if (ok && this.d.config.verifiedCache > 0) {
            this.verified.set(token, hex);
            if (this.verified.size > this.d.config.verifiedCache) this.verified.delete(this.verified.keys().next().value as string);
        }
        return ok;
    }

    /** True when a peer address is out of failed-authentication tokens (its connections can be dropped at once). */
    blocked(remoteAddress: string | undefined): boolean {
        return !this.failures.ready(peerKey(remoteAddress));
    }

    /** Peers currently tracked by the failure limiter (bounded by maxPeers). */
    get trackedPeers(): number {
        return this.failures.size;
    }
}

// The workers the gateway can use: read from the chain (the root's registrations and each Worker's
// info(), through the client library), re-read every refreshSec, and one pinned session per worker.
import type { Logger } from 'pino';
import { modelNames } from '../sdk';
import type { CocoonClient, WorkerListing, WorkerSession } from '../client';
import type { Candidate } from './policy';

/** Most workers tracked (a root with more is cut to the cheapest). */
export const MAX_WORKERS = 1000;

export class WorkerRegistry {
    private listings = new Map<string, WorkerListing>();
    private readonly sessions = new Map<string, WorkerSession>();
    private loadedAt = 0;
    private inFlight: Promise<void> | null = null;
    lastError: string | null = null;

    constructor(private readonly client: CocoonClient, private readonly log: Logger, private readonly refreshMs: number) {}

    /** Reads the workers again (concurrent calls share one read). */
    refresh(): Promise<void> {
        if (!this.inFlight) {
            this.inFlight = (async () => {
                try {
                    // every attested worker; the policy decides (and reports) which are usable
                    const r = await this.client.listWorkers({ minValiditySec: 0 });
                    const next = new Map<string, WorkerListing>();
                    for (const l of r.workers.slice(0, MAX_WORKERS)) next.set(l.worker.toRawString(), l);
                    for (const [k, s] of this.sessions) {
                        const l = next.get(k);
                        if (!l || l.endpoint !== s.listing.endpoint) {
                            s.close();
                            this.sessions.delete(k);
                        }
                    }
                    this.listings = next;
                    this.loadedAt = Date.now();
                    this.lastError = null;
                    this.log.debug({ workers: next.size, skipped: r.skipped.length }, 'worker list read');
                } catch (e) {
                    this.lastError = (e as Error).message;
                    this.log.warn({ err: this.lastError }, 'reading the worker list failed; keeping the previous one');
                } finally {
                    this.inFlight = null;
                }
            })();
        }
        return this.inFlight;
    }

    /** The list, read first if it never was, re-read in the background when older than refreshMs. */
    async current(): Promise<Candidate[]> {
        if (this.loadedAt === 0) await this.refresh();
        else if (Date.now() - this.loadedAt > this.refreshMs) void this.refresh();
        return this.candidates();
    }

    candidates(): Candidate[] {
        return [...this.listings.values()].map((l) => ({
            worker: l.worker, key: l.worker.toRawString(), prices: l.prices, expiresAt: l.expiresAt, models: modelNames(l.model),
        }));
    }

    listing(key: string): WorkerListing | undefined {
        return this.listings.get(key);
    }

    get loaded(): boolean {
        return this.loadedAt > 0;
    }

    /** The pinned session with a worker (TLS pinned to its attested key hash; follows re-attestations). */
    async session(key: string): Promise<WorkerSession> {
        let s = this.sessions.get(key);
        if (!s) {
            const l = this.listings.get(key);
            if (!l) throw new Error(`worker ${key} is not listed`);
            s = await this.client.session(l);
            this.sessions.set(key, s);
        }
        return s;
    }

    close(): void {
        for (const s of this.sessions.values()) s.close();
        this.sessions.clear();
    }
}

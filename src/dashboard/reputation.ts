// The place for a Worker's reputation. Today's Worker contract keeps no reputation counters; another
// change adds them to WorkerInfo later. Until then `reputationOf` finds none and the dashboard shows
// only what the history gives (settled volume, in the sandbox). When the counters land, map them here
// (and nowhere else): the API's `reputation` field and the page's column already carry whatever this returns.
import type { WorkerInfo } from '../sdk';

/** Counters as the API sends them: names as the contract's getter has them, values as decimal strings. */
export type Reputation = Record<string, string>;

/** Fields of WorkerInfo that are reputation counters, once the Worker has them (none today). */
export const REPUTATION_FIELDS: readonly string[] = ['servedRequests', 'settledVolume', 'settledClaims', 'slashCount', 'disputes'];

export function reputationOf(info: WorkerInfo): Reputation | null {
    const out: Reputation = {};
    const rec = info as unknown as Record<string, unknown>;
    for (const f of REPUTATION_FIELDS) {
        const v = rec[f];
        if (typeof v === 'bigint' || typeof v === 'number') out[f] = v.toString();
    }
    return Object.keys(out).length ? out : null;
}

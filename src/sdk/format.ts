// Formatting for people: TON amounts, addresses, times and plain-text tables (status script, logs).
import { Address, fromNano } from '@ton/core';
import type { NetworkName } from './chain';
import type { Params } from './contracts';

/** 1500000000n -> "1.5 TON"; keeps every significant nanoton digit. */
export function formatTon(nano: bigint, unit = true): string {
    const neg = nano < 0n;
    const s = fromNano(neg ? -nano : nano);
    return (neg ? '-' : '') + s + (unit ? ' TON' : '');
}

/** Prices per token class, each as TON per 1M tokens: "prompt 0.1 / cached 0.05 / completion 0.3 TON per 1M tokens". */
export function formatPrices(p: { prompt: bigint; cached: bigint; completion: bigint }): string {
    return `prompt ${formatTon(p.prompt).replace(/ TON$/, '')} / cached ${formatTon(p.cached).replace(/ TON$/, '')} / completion ${formatTon(p.completion).replace(/ TON$/, '')} TON per 1M tokens`;
}

/** A price in nanoton per million tokens, as TON per 1M tokens. */
export function formatPrice(nanoPerMillion: bigint): string {
    return `${formatTon(nanoPerMillion)} / 1M tokens`;
}

/** User-friendly form: bounceable for contracts, test-only flag on testnet and sandbox. */
export function formatAddress(a: Address | null | undefined, network: NetworkName = 'mainnet', bounceable = true): string {
    if (!a) return '-';
    return a.toString({ bounceable, testOnly: network !== 'mainnet', urlSafe: true });
}

export function formatBps(bps: bigint): string {
    const whole = bps / 100n;
    const frac = bps % 100n;
    return `${whole}${frac ? '.' + frac.toString().padStart(2, '0').replace(/0$/, '') : ''}% (${bps} bps)`;
}

/** Seconds as "7d", "1d 2h", "90s". */
export function formatDuration(seconds: bigint | number): string {
    let s = Number(seconds);
    if (s <= 0) return '0s';
    const parts: string[] = [];
    for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
        if (s >= n) {
            parts.push(`${Math.floor(s / n)}${unit}`);
            s %= n;
        }
    }
    return parts.slice(0, 2).join(' ');
}

/** Unix time as ISO-8601 UTC (0 -> "-"). */
export function formatTime(unix: bigint | number): string {
    const t = Number(unix);
    if (t === 0) return '-';
    return new Date(t * 1000).toISOString().replace('.000Z', 'Z');
}

/** A 256-bit integer as 0x + 64 hex digits. */
export function formatHex256(v: bigint): string {
    return '0x' + v.toString(16).padStart(64, '0');
}

export const WORKER_STATUS = ['none', 'active', 'unbonding', 'slashed'] as const;
export const ESCROW_STATE = ['none', 'opening', 'open', 'closing'] as const;

export function formatWorkerStatus(s: bigint): string {
    return WORKER_STATUS[Number(s)] ?? `unknown (${s})`;
}

export function formatEscrowState(s: bigint): string {
    return ESCROW_STATE[Number(s)] ?? `unknown (${s})`;
}

/** Two-column key/value table. */
export function formatKeyValues(title: string, rows: [string, string][]): string {
    return formatTable([title, ''], rows);
}

/** A plain-text table with a header line; columns padded to the widest cell. */
export function formatTable(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
    return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Network parameters as rows for formatKeyValues / formatTable. */
export function paramRows(p: Params): [string, string][] {
    return [
        ['minStake', formatTon(p.minStake)],
        ['maxPrice', formatPrice(p.maxPrice)],
        ['unbondingPeriod', formatDuration(p.unbondingPeriod)],
        ['maxAttestationTtl', formatDuration(p.maxAttestationTtl)],
        ['disputeWindow', formatDuration(p.disputeWindow)],
        ['protocolFeeBps', formatBps(p.protocolFeeBps)],
        ['stakerShareBps', formatBps(p.stakerShareBps)],
        ['slashBps', formatBps(p.slashBps)],
        ['reporterBountyBps', formatBps(p.reporterBountyBps)],
    ];
}

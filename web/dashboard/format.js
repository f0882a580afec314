// Formatting for people: TON amounts from nanoton strings, addresses, times, countdowns.
const NANO = 1_000_000_000n;

/** "1500000000" -> "1.5" (every significant digit kept). */
export function ton(nano) {
  if (nano === null || nano === undefined) return '—';
  let n = BigInt(nano);
  const neg = n < 0n;
  if (neg) n = -n;
  const frac = (n % NANO).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${n / NANO}${frac ? '.' + frac : ''}`;
}

/** TON for display with a unit, rounded to `digits` decimals when long. */
export function tonShort(nano, digits = 4) {
  if (nano === null || nano === undefined) return '—';
  const t = ton(nano);
  const [w, f = ''] = t.split('.');
  return (f.length > digits ? `${w}.${f.slice(0, digits)}…` : t) + ' TON';
}

/** "1.5" (TON, as typed) -> "1500000000"; throws with a reason. */
export function parseTon(text, what) {
  const v = String(text ?? '').trim();
  if (!/^\d+(\.\d{1,9})?$/.test(v)) throw new Error(`${what}: "${v}" is not a TON amount (e.g. 1.5, at most 9 decimals)`);
  const [w, f = ''] = v.split('.');
  return (BigInt(w) * NANO + BigInt(f.padEnd(9, '0'))).toString();
}

export const tonNumber = (nano) => Number(BigInt(nano)) / 1e9;

export function shortAddr(a) {
  if (!a) return '—';
  return a.length > 16 ? `${a.slice(0, 6)}…${a.slice(-6)}` : a;
}

export function shortHex(h) {
  return h && h.length > 18 ? `${h.slice(0, 10)}…${h.slice(-6)}` : h ?? '—';
}

export function time(unix) {
  if (!unix) return '—';
  return new Date(unix * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');
}

export function duration(sec) {
  let s = Math.max(0, Math.floor(sec));
  if (s === 0) return '0s';
  const parts = [];
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (s >= n) { parts.push(`${Math.floor(s / n)}${u}`); s %= n; }
  }
  return parts.slice(0, 2).join(' ');
}

export function bps(v) {
  return `${(v / 100).toFixed(2).replace(/\.?0+$/, '')}%`;
}

/** Prices per token class ({prompt, cached, completion}, nanoton per 1M tokens as decimal strings): "0.1 / 0.025 / 0.3". */
export function prices(p) {
  return `${ton(p.prompt)} / ${ton(p.cached)} / ${ton(p.completion)}`;
}

// Inline SVG charts, small and dependency-free: workers by price and stake, and cumulative amounts over time.
import { s } from './dom.js';
import { tonNumber, shortAddr } from './format.js';

const W = 560, H = 260, M = { l: 64, r: 16, t: 16, b: 40 };

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const fmtNum = (v) => (v >= 1000 ? v.toLocaleString('en-US', { maximumFractionDigits: 0 }) : String(+v.toPrecision(3)));

function axes(svg, xMax, yMax, xLabel, yLabel, xTick = fmtNum) {
  const iw = W - M.l - M.r, ih = H - M.t - M.b;
  for (let i = 0; i <= 4; i++) {
    const y = M.t + ih - (ih * i) / 4;
    svg.append(s('line', { x1: M.l, x2: W - M.r, y1: y, y2: y, class: 'grid' }));
    svg.append(s('text', { x: M.l - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, fmtNum((yMax * i) / 4)));
    const x = M.l + (iw * i) / 4;
    svg.append(s('text', { x, y: H - M.b + 16, 'text-anchor': i === 4 ? 'end' : i === 0 ? 'start' : 'middle', class: 'tick' }, xTick((xMax * i) / 4, i)));
  }
  svg.append(s('text', { x: M.l + iw / 2, y: H - 4, 'text-anchor': 'middle', class: 'axis-label' }, xLabel));
  svg.append(s('text', { x: 12, y: M.t + ih / 2, transform: `rotate(-90 12 ${M.t + ih / 2})`, 'text-anchor': 'middle', class: 'axis-label' }, yLabel));
}

/** Workers as dots: x = price of a typical request (TON per 1M tokens, 3 prompt : 1 completion), y = stake (TON); hollow when inactive. */
export function workersChart(workers) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'workers by price and stake', id: 'chart-workers' });
  const pts = workers.map((w) => ({ x: tonNumber(w.typicalPrice), y: tonNumber(w.stake), w }));
  const xMax = niceMax(Math.max(0, ...pts.map((p) => p.x)) * 1.1);
  const yMax = niceMax(Math.max(0, ...pts.map((p) => p.y)) * 1.1);
  axes(svg, xMax, yMax, 'typical price (3 prompt : 1 completion), TON per 1M tokens', 'stake, TON');
  const iw = W - M.l - M.r, ih = H - M.t - M.b;
  for (const p of pts) {
    const cx = M.l + (p.x / xMax) * iw, cy = M.t + ih - (p.y / yMax) * ih;
    const g = s('g', { class: 'dot' + (p.w.active ? '' : ' inactive') },
      s('title', {}, `${p.w.model ?? 'unknown model'} · ${shortAddr(p.w.worker.address)} · ${p.x} TON/1M · stake ${p.y} TON${p.w.active ? '' : ' · inactive'}`),
      s('circle', { cx, cy, r: 7 }),
      s('text', { x: cx + 10, y: cy + 4, class: 'dot-label' }, `${p.x} TON/1M`));
    svg.append(g);
  }
  if (pts.length === 0) svg.append(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'tick' }, 'no workers registered yet'));
  return svg;
}

/** Cumulative step lines over chain time; series: [{ name, cls, points: [{ time, value }] }]. */
export function cumulativeChart(series, now, id) {
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': series.map((x) => x.name).join(' and ') + ' over time', id });
  const all = series.flatMap((x) => x.points);
  const t0 = all.length ? Math.min(...all.map((p) => p.time)) : now - 3600;
  const t1 = Math.max(now, t0 + 60);
  const yMax = niceMax(Math.max(0, ...all.map((p) => tonNumber(p.value))) * 1.1);
  const span = t1 - t0;
  const tick = (v) => {
    const sec = Math.round(v);
    return sec === 0 ? 'start' : sec < 3600 ? `+${Math.round(sec / 60)}m` : sec < 172800 ? `+${(sec / 3600).toFixed(1)}h` : `+${(sec / 86400).toFixed(1)}d`;
  };
  axes(svg, span, yMax, 'chain time since the first event', 'TON (cumulative)', tick);
  const iw = W - M.l - M.r, ih = H - M.t - M.b;
  const X = (t) => M.l + ((t - t0) / span) * iw, Y = (v) => M.t + ih - (tonNumber(v) / yMax) * ih;
  series.forEach((ser, i) => {
    if (ser.points.length) {
      let d = `M ${X(t0)} ${Y(0)}`;
      let last = '0';
      for (const p of ser.points) { d += ` H ${X(p.time)} V ${Y(p.value)}`; last = p.value; }
      d += ` H ${X(t1)}`;
      svg.append(s('path', { d, class: `line ${ser.cls}` }, s('title', {}, `${ser.name}: ${tonNumber(last)} TON`)));
    }
    svg.append(s('rect', { x: M.l + 8, y: M.t + 6 + i * 18, width: 12, height: 4, class: `legend ${ser.cls}` }));
    svg.append(s('text', { x: M.l + 26, y: M.t + 12 + i * 18, class: 'tick' }, ser.name + (ser.points.length ? '' : ' (none yet)')));
  });
  return svg;
}

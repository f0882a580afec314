// Pieces every view uses: cards, address cells, key/value tables, countdowns.
import { h } from '../dom.js';
import { shortAddr } from '../format.js';

export const card = (label, value, id) => h('div', { class: 'card', id }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));

/** An address (user-friendly) shortened, the whole of it in the title and copyable; linked where it helps. */
export function addr(ctx, a, href) {
  if (!a) return '—';
  const link = href ?? ctx.explorer(a.address);
  const text = h('code', { title: a.address }, shortAddr(a.address));
  return link ? h('a', { href: link, ...(href ? {} : { target: '_blank', rel: 'noopener' }) }, text) : text;
}

export const countdown = (until, past = 'passed') => h('span', { class: 'countdown', dataset: { until: String(until ?? 0), past } }, '…');

export function kv(rows, id) {
  return h('table', { class: 'kv', id }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
}

export const pill = (text, kind) => h('span', { class: `pill ${kind ?? text}` }, text);

export function table(headers, rows, id, empty = 'nothing yet') {
  return h('table', { class: 'grid', id },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty))));
}

export function statusLine(el) {
  return (text, kind) => {
    el.textContent = text;
    el.className = `status ${kind}`;
  };
}

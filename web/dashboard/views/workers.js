// #/workers: every registered Worker (prices per token class, stake, lease countdown, TCB, endpoint,
// settled volume, reputation when the contract has it) and a chart of a typical request's price
// against stake. #/worker/<addr>: one of them.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { ton, tonShort, shortHex, duration, bps, time, prices } from '../format.js';
import { workersChart } from '../charts.js';
import { addr, countdown, kv, table, pill } from './common.js';

// "None": a development attestation, with no TDX quote behind it
const tcbPill = (w) => pill(w.tcb === 'None' ? 'no quote (dev)' : w.tcb, w.tcb === 'UpToDate' ? 'active' : 'warn');
// the Worker's reputation() getter: settled volume reported by withdrawn escrows, renewals, slashes
const reputationText = (r) => (r
  ? `${tonShort(r.settledVolume)} over ${r.settledEscrows} escrow${r.settledEscrows === 1 ? '' : 's'} · ${r.renewals} renewal${r.renewals === 1 ? '' : 's'} · ${r.slashes} slash${r.slashes === 1 ? '' : 'es'}`
  : '—');

export const workersView = {
  async mount(main, _ctx, _arg, st) {
    st.chart = h('div', { class: 'chart-box' });
    st.table = h('div');
    replace(main, h('h2', {}, 'Workers'),
      h('div', { class: 'two' },
        h('section', {}, h('h3', {}, 'Price and stake'), st.chart),
        h('section', {}, h('h3', {}, 'Choosing a worker'), h('p', { class: 'muted' },
          'Cheaper is left, more stake at risk is up. A worker serves while its attestation lease runs and its stake is at least the minimum; ',
          'its TEE key is attested by the verifiers the root trusts, and every answer carries a receipt signed by that key. Open an escrow with one on the Client page.'))),
      h('section', {}, st.table));
  },
  async update(ctx, _arg, st) {
    const { workers, now } = await api.get('/api/workers');
    ctx.setNow(now);
    replace(st.chart, workersChart(workers));
    replace(st.table, table(['worker', 'model', 'prompt / cached / completion per 1M tokens', 'stake', 'status', 'lease ends', 'TCB', 'endpoint', 'paid to operator', 'reputation (on-chain)'],
      workers.map((w) => h('tr', { class: 'worker-row', dataset: { worker: w.worker.address } },
        h('td', {}, addr(ctx, w.worker, `#/worker/${encodeURIComponent(w.worker.address)}`)),
        h('td', {}, w.model ?? h('span', { class: 'muted' }, 'revoked measurement')),
        h('td', { class: 'num price' }, `${prices(w.prices)} TON`),
        h('td', { class: 'num' }, tonShort(w.stake)),
        h('td', {}, pill(w.active ? 'active' : w.status === 'active' ? 'not serving' : w.status, w.active ? 'active' : 'bad')),
        h('td', {}, countdown(w.expiresAt, 'expired')),
        h('td', {}, tcbPill(w)),
        h('td', {}, w.endpoint ? h('code', {}, w.endpoint) : '—'),
        h('td', { class: 'num' }, w.settled ? `${tonShort(w.settled.volume)} · ${w.settled.claims} claims` : '—'),
        h('td', { class: 'reputation' }, reputationText(w.reputation)))), 'workers', 'no worker registered yet'));
  },
};

export const workerView = {
  async mount(main, _ctx, arg, st) {
    st.body = h('div');
    replace(main, h('h2', {}, 'Worker'), st.body);
  },
  async update(ctx, arg, st) {
    const { worker: w, now } = await api.get(`/api/workers/${encodeURIComponent(arg)}`);
    ctx.setNow(now);
    replace(st.body, kv([
      ['worker', addr(ctx, w.worker)], ['operator', h('a', { href: `#/operator/${encodeURIComponent(w.operator.address)}` }, h('code', {}, w.operator.address))],
      ['model', w.model ?? '—'], ['status', pill(w.active ? 'active' : w.status, w.active ? 'active' : 'bad')],
      ['prices (prompt / cached / completion)', `${prices(w.prices)} TON / 1M tokens`], ['stake', `${ton(w.stake)} TON`], ['pending top-up', `${ton(w.pending)} TON`],
      ['unbonding', `${ton(w.unbonding)} TON`], ['withdrawable', w.unbonding !== '0' ? countdown(w.withdrawableAt, 'withdrawable') : '—'],
      ['attestation lease', h('span', {}, countdown(w.expiresAt, 'expired'), ' · ', time(w.expiresAt))], ['attested at', time(w.issuedAt)],
      ['TCB status', tcbPill(w)], ['quote hash', h('code', { title: w.quoteHash }, shortHex(w.quoteHash))],
      ['FMSPC', h('code', {}, w.fmspc)], ['measurement', h('code', { title: w.measurement }, shortHex(w.measurement))],
      ['TEE key', h('code', { title: w.teeKey }, shortHex(w.teeKey))], ['TLS key hash', h('code', { title: w.tlsKeyHash }, shortHex(w.tlsKeyHash))],
      ['endpoint', w.endpoint ?? '—'], ['protocol fee', bps(w.feeBps)], ['dispute window', duration(w.disputeWindow)],
      ['receipts payable until', countdown(w.keyPayUntil)], ['earlier keys still accountable', String(w.retiredKeys)],
      ['paid to operator', w.settled ? `${ton(w.settled.volume)} TON in ${w.settled.claims} claims` : 'needs an indexer'],
      ['reputation (on-chain)', reputationText(w.reputation)], ['registered since', w.reputation ? time(w.reputation.registeredAt) : '—'],
    ], 'worker-detail'));
  },
};

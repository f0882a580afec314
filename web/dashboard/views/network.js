// #/network: the root's parameters and money (stake, rewards, treasury, fees), fees and settled volume
// over time, and the latest events.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { ton, tonShort, duration, bps, time } from '../format.js';
import { cumulativeChart } from '../charts.js';
import { card, addr, kv, table, pill } from './common.js';

export const networkView = {
  async mount(main, ctx, _arg, st) {
    st.cards = h('div', { class: 'cards', id: 'network-cards' });
    st.params = h('div');
    st.chart = h('div', { class: 'chart-box' });
    st.events = h('div');
    replace(main,
      h('h2', {}, 'Network'),
      st.cards,
      h('div', { class: 'two' },
        h('section', {}, h('h3', {}, 'Fees and settled volume'), st.chart,
          h('p', { class: 'muted small' }, 'Protocol fees count when they reach the root (escrows forward them in batches); "paid to operators" is what settled claims paid out.')),
        h('section', {}, h('h3', {}, 'Parameters'), st.params)),
      h('section', {}, h('h3', {}, 'Recent events'), st.events));
  },

  async update(ctx, _arg, st) {
    const [n, series, ev] = await Promise.all([api.get('/api/network'), api.get('/api/series'), api.get('/api/events?limit=30')]);
    ctx.setNow(n.now);
    replace(st.cards,
      card('root', addr(ctx, n.root)),
      card('status', n.paused ? pill('paused', 'bad') : pill('running', 'active')),
      card('total stake', tonShort(n.rewards.totalStake), 'card-total-stake'),
      card('reward pool', tonShort(n.rewards.rewardPool)),
      card('treasury', tonShort(n.rewards.treasury)),
      card('fees collected', tonShort(n.feesCollected), 'card-fees'),
      card('paid to operators', n.settledVolume === null ? 'needs an indexer' : tonShort(n.settledVolume), 'card-settled'),
      card('verifier quorum', `${n.verifierQuorum} signature${n.verifierQuorum === 1 ? '' : 's'}`),
      card('registrations', String(n.registrations)));
    const p = n.params;
    replace(st.params, kv([
      ['owner', addr(ctx, n.owner)], ['network id', String(n.networkId)],
      ['min stake', `${ton(p.minStake)} TON`], ['max price', `${ton(p.maxPrice)} TON / 1M tokens`],
      ['protocol fee', bps(p.protocolFeeBps)], ['stakers\' share of fees', bps(p.stakerShareBps)],
      ['dispute window', duration(p.disputeWindow)], ['unbonding period', duration(p.unbondingPeriod)],
      ['max attestation lease', duration(p.maxAttestationTtl)], ['slash', bps(p.slashBps)], ['reporter bounty', bps(p.reporterBountyBps)],
      ['root balance', `${ton(n.balance)} TON`], ['history read', n.historyScope],
    ], 'params'));
    const lines = [{ name: 'protocol fees at the root', cls: 'fees', points: series.fees }];
    if (series.settled) lines.push({ name: 'paid to operators', cls: 'settled', points: series.settled });
    replace(st.chart, cumulativeChart(lines, series.now, 'chart-fees'));
    replace(st.events, table(['time', 'event', 'amount', 'contract', 'from / to'], ev.events.map((e) => h('tr', {},
      h('td', { class: 'nowrap' }, time(e.time)), h('td', {}, h('b', {}, e.kind), ' ', h('span', { class: 'muted' }, e.detail)),
      h('td', { class: 'num' }, e.amount === null ? '' : `${ton(e.amount)} TON`),
      h('td', {}, addr(ctx, e.contract)), h('td', {}, e.to ? h('span', {}, '→ ', addr(ctx, e.to)) : addr(ctx, e.from)))), 'events', 'no events in the history read'));
  },
};

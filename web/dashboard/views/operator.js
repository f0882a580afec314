// #/operator[/<addr>]: an operator's Worker: stake, unbonding and when it is withdrawable, earnings
// (escrow payouts and staking rewards received) and rewards to claim; for the connected wallet the
// actions claim rewards, unbond and withdraw stake.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { ton, tonShort, prices } from '../format.js';
import { runAction } from '../actions.js';
import { card, addr, countdown, kv, pill, statusLine } from './common.js';

export const operatorView = {
  async mount(main, ctx, arg, st) {
    st.who = arg ?? ctx.wallet.account?.address ?? null;
    st.mine = Boolean(ctx.wallet.account && (!arg || arg === ctx.wallet.account.address || arg === ctx.wallet.account.friendly));
    if (!st.who) {
      const input = h('input', { placeholder: 'operator wallet address', size: 52 });
      replace(main, h('h2', {}, 'Operator'), h('p', {}, 'Connect the operator wallet, or look one up by address.'),
        h('div', { class: 'row' }, h('button', { class: 'primary', onclick: () => ctx.wallet.connect() }, 'Connect wallet'),
          input, h('button', { onclick: () => { location.hash = `#/operator/${encodeURIComponent(input.value.trim())}`; } }, 'Show')));
      st.idle = true;
      return;
    }
    st.cards = h('div', { class: 'cards', id: 'operator-cards' });
    st.detail = h('div');
    st.actions = h('div', { class: 'row' });
    st.status = h('p', { class: 'status', id: 'action-status' });
    st.say = statusLine(st.status);
    replace(main, h('h2', {}, 'Operator'), st.cards, st.mine ? h('section', {}, h('h3', {}, 'Actions'), st.actions, st.status) : null, h('section', {}, st.detail));
  },

  async update(ctx, _arg, st) {
    if (st.idle) return;
    const o = await api.get(`/api/operators/${encodeURIComponent(st.who)}`);
    ctx.setNow(o.now);
    const w = o.worker;
    replace(st.cards,
      card('operator', addr(ctx, o.operator)), card('wallet balance', tonShort(o.balance)),
      card('stake', w ? tonShort(w.stake) : '—', 'card-stake'), card('rewards to claim', o.pendingRewards === null ? '—' : tonShort(o.pendingRewards), 'card-rewards'),
      card('paid by escrows', o.earnings ? `${tonShort(o.earnings.payouts)} · ${o.earnings.claims} claims` : 'needs an indexer'),
      card('rewards received', o.earnings ? tonShort(o.earnings.rewards) : 'needs an indexer'));
    if (!w) {
      replace(st.detail, h('p', { class: 'muted' }, `No Worker for this operator under this root (it would be at ${o.workerAddress.address}).`));
      replace(st.actions);
      return;
    }
    replace(st.detail, kv([
      ['worker', addr(ctx, w.worker, `#/worker/${encodeURIComponent(w.worker.address)}`)],
      ['status', pill(w.active ? 'active' : w.status, w.active ? 'active' : 'bad')], ['prices (prompt / cached / completion)', `${prices(w.prices)} TON / 1M tokens`],
      ['stake', `${ton(w.stake)} TON`], ['unbonding', `${ton(w.unbonding)} TON`],
      ['withdrawable', w.unbonding !== '0' ? countdown(w.withdrawableAt, 'withdrawable') : 'nothing unbonding'],
      ['attestation lease', countdown(w.expiresAt, 'expired')], ['endpoint', w.endpoint ?? '—'],
    ], 'operator-detail'));
    if (!st.mine) return;
    const refreshAfter = (pred) => async () => { const x = await api.get(`/api/operators/${encodeURIComponent(st.who)}`); return pred(x); };
    replace(st.actions,
      h('button', { id: 'claim-rewards', class: 'primary', disabled: o.pendingRewards === '0', onclick: () => runAction(ctx, { op: 'claimRewards' }, refreshAfter((x) => x.pendingRewards === '0'), st.say) },
        `Claim ${o.pendingRewards ? tonShort(o.pendingRewards) : ''} rewards`),
      h('button', { id: 'unbond', disabled: !(w.status === 'active' && w.stake !== '0'), onclick: () => {
        if (confirm('Unbond the whole stake? The worker stops serving; the stake is withdrawable after the unbonding period.')) {
          runAction(ctx, { op: 'unbond' }, refreshAfter((x) => x.worker?.status === 'unbonding'), st.say);
        }
      } }, 'Unbond stake'),
      h('button', { id: 'withdraw-stake', disabled: !(w.unbonding !== '0' && ctx.chainNow() >= w.withdrawableAt), onclick: () => runAction(ctx, { op: 'withdrawStake' }, refreshAfter((x) => x.worker?.unbonding === '0'), st.say) },
        `Withdraw ${ton(w.unbonding)} TON`));
  },
};

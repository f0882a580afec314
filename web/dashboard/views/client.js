// #/client[/<addr>]: a client's escrows (deposit left, paid, state, payUntil and dispute-window
// countdowns) and, for the connected wallet, its client key and the escrow actions: open, top up,
// close, withdraw.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { ton, tonShort, parseTon, shortHex, prices } from '../format.js';
import { runAction } from '../actions.js';
import { loadClientKey, createClientKey, importClientKey, forgetClientKey, supported } from '../clientKey.js';
import { addr, countdown, kv, table, pill, statusLine } from './common.js';

function who(ctx, arg) {
  return arg ?? ctx.wallet.account?.address ?? null;
}

export const clientView = {
  async mount(main, ctx, arg, st) {
    st.who = who(ctx, arg);
    st.mine = Boolean(ctx.wallet.account && (!arg || arg === ctx.wallet.account.address || arg === ctx.wallet.account.friendly));
    if (!st.who) {
      const input = h('input', { placeholder: 'client wallet address (UQ… / 0Q… / 0:…)', size: 52 });
      replace(main, h('h2', {}, 'Client'),
        h('p', {}, 'Connect your wallet to see and manage your escrows, or look up a client by address.'),
        h('div', { class: 'row' }, h('button', { class: 'primary', onclick: () => ctx.wallet.connect() }, 'Connect wallet'),
          input, h('button', { onclick: () => { location.hash = `#/client/${encodeURIComponent(input.value.trim())}`; } }, 'Show')));
      st.idle = true;
      return;
    }
    st.head = h('div', { class: 'cards' });
    st.escrows = h('div');
    st.status = h('p', { class: 'status', id: 'action-status' });
    st.say = statusLine(st.status);
    const parts = [h('h2', {}, 'Client'), st.head];
    if (st.mine) {
      st.key = h('div', { id: 'client-key' });
      st.open = h('div', { id: 'open-escrow-form' });
      parts.push(h('div', { class: 'two' },
        h('section', {}, h('h3', {}, 'Your client key'), st.key),
        h('section', {}, h('h3', {}, 'Open an escrow'), st.open)));
      await renderKey(ctx, st);
      await renderOpenForm(ctx, st);
    }
    parts.push(st.status, h('section', {}, h('h3', {}, 'Escrows'), st.escrows));
    replace(main, ...parts);
  },

  async update(ctx, arg, st) {
    if (st.idle) return;
    const c = await api.get(`/api/clients/${encodeURIComponent(st.who)}`);
    ctx.setNow(c.now);
    st.last = c;
    replace(st.head,
      h('div', { class: 'card' }, h('div', { class: 'card-label' }, 'client'), h('div', { class: 'card-value' }, addr(ctx, c.client))),
      h('div', { class: 'card' }, h('div', { class: 'card-label' }, 'wallet balance'), h('div', { class: 'card-value' }, tonShort(c.balance))),
      h('div', { class: 'card' }, h('div', { class: 'card-label' }, 'escrows'), h('div', { class: 'card-value', id: 'escrow-count' }, String(c.escrows.length))));
    const myKey = st.clientKey?.publicKey;
    // someone typing an amount keeps the field: the table refreshes on the next round
    if (document.activeElement?.tagName === 'INPUT' && st.escrows.contains(document.activeElement)) return;
    replace(st.escrows, table(['escrow', 'worker', 'state', 'deposit left', 'paid', 'caps prompt / cached / completion per 1M', 'receipts paid until', 'dispute window', 'client key', st.mine ? 'actions' : ''],
      c.escrows.map((e) => h('tr', { class: 'escrow-row', dataset: { escrow: e.escrow.address, state: e.state } },
        h('td', {}, addr(ctx, e.escrow)),
        h('td', {}, addr(ctx, e.worker, `#/worker/${encodeURIComponent(e.worker.address)}`)),
        h('td', {}, pill(e.state, e.state === 'open' ? 'active' : 'warn')),
        h('td', { class: 'num deposit' }, `${ton(e.deposit)} TON`),
        h('td', { class: 'num' }, `${ton(e.paid)} TON`),
        h('td', { class: 'num caps' }, `${prices(e.caps)} TON`),
        h('td', {}, countdown(e.payUntil, 'ended')),
        h('td', {}, e.state === 'closing' ? countdown(e.closeAt, 'over') : e.state === 'opening' ? h('span', {}, 'awaiting worker ', countdown(e.closeAt)) : h('span', { class: 'muted' }, 'starts at close')),
        h('td', {}, h('code', { title: e.clientKey }, shortHex(e.clientKey)), myKey && myKey === e.clientKey ? ' (this browser)' : ''),
        h('td', {}, st.mine ? escrowActions(ctx, st, e) : ''))),
      'escrows', 'no escrow: open one with a worker'));
  },
};

async function renderKey(ctx, st) {
  if (!supported()) {
    replace(st.key, h('p', { class: 'error' }, 'This browser has no WebCrypto/IndexedDB: the client key cannot be kept here.'));
    return;
  }
  st.clientKey = await loadClientKey();
  const seedBox = h('div');
  const importInput = h('input', { type: 'password', placeholder: '64 hex digits (~/.cocoon/client-key)', size: 40, autocomplete: 'off', id: 'import-seed' });
  const doCreate = async () => {
    const k = await createClientKey();
    st.clientKey = k;
    await renderKey(ctx, st);
    replace(st.key.querySelector('.seed') ?? seedBox, h('p', { class: 'seed' }, 'Back up this seed now; it is not shown again (the same format as ~/.cocoon/client-key): ', h('code', { id: 'new-seed' }, k.seedHex)));
  };
  const doImport = async () => {
    try {
      st.clientKey = await importClientKey(importInput.value);
      importInput.value = '';
      await renderKey(ctx, st);
      ctx.toast('client key imported', 'ok');
    } catch (e) {
      ctx.toast(e.message, 'error');
    }
  };
  replace(st.key,
    st.clientKey
      ? kv([['public key', h('code', { id: 'client-public-key', title: st.clientKey.publicKey }, shortHex(st.clientKey.publicKey))],
          ['origin', st.clientKey.imported ? 'imported' : 'created in this browser'], ['kept', 'in this browser only (IndexedDB, not extractable)']])
      : h('p', {}, 'No client key in this browser yet. An escrow stores its public half; it signs the API keys that worker nodes accept.'),
    h('div', { class: 'seed' }),
    h('div', { class: 'row' },
      st.clientKey ? null : h('button', { class: 'primary', id: 'create-key', onclick: doCreate }, 'Create a client key'),
      importInput, h('button', { onclick: doImport }, st.clientKey ? 'Replace with imported seed' : 'Import seed'),
      st.clientKey ? h('button', { onclick: async () => { if (confirm('Forget the client key in this browser? Keep your backup: escrows opened with it need it for API keys.')) { await forgetClientKey(); st.clientKey = null; await renderKey(ctx, st); } } }, 'Forget') : null));
}

async function renderOpenForm(ctx, st) {
  const { workers } = await api.get('/api/workers');
  const active = workers.filter((w) => w.active);
  const fees = ctx.config.fees.openEscrow;
  const select = h('select', { id: 'open-worker' }, active.map((w) => h('option', { value: w.worker.address, dataset: { price: w.typicalPrice } },
    `${w.model ?? '?'} · ${prices(w.prices)} TON/1M · stake ${tonShort(w.stake, 0)} · ${w.worker.address.slice(0, 8)}…`)));
  const deposit = h('input', { id: 'open-deposit', value: '1', size: 8, inputmode: 'decimal' });
  const cap = h('input', { id: 'open-cap', size: 8, inputmode: 'decimal', placeholder: 'worker prices' });
  const submit = async () => {
    try {
      if (!st.clientKey) throw new Error('create or import a client key first: the escrow stores its public half');
      const worker = select.value;
      if (!worker) throw new Error('no active worker to open an escrow with');
      const input = { op: 'openEscrow', worker, deposit: parseTon(deposit.value, 'deposit'), clientKey: st.clientKey.publicKey };
      if (cap.value.trim()) input.maxPrice = parseTon(cap.value, 'price cap');
      await runAction(ctx, input, async () => (st.last?.escrows ?? []).some((e) => e.worker.address === worker && e.state === 'open'), st.say);
    } catch (e) {
      st.say(e.message, 'error');
    }
  };
  replace(st.open, active.length === 0 ? h('p', { class: 'muted' }, 'No active worker right now.') : h('div', {},
    h('label', {}, 'worker ', select),
    h('div', { class: 'row' }, h('label', {}, 'deposit (TON) ', deposit), h('label', {}, 'price cap for every token class (TON / 1M tokens; empty: the worker\'s prices) ', cap)),
    h('p', { class: 'muted small' }, `The wallet sends the deposit plus ${ton(fees.attach)} TON for gas and the escrow's storage reserve; what gas does not use comes back.`),
    h('button', { class: 'primary', id: 'open-escrow', onclick: submit }, 'Open escrow')));
}

function escrowActions(ctx, st, e) {
  const worker = e.worker.address;
  const row = (pred) => async () => { const x = (st.last?.escrows ?? []).find((y) => y.worker.address === worker); return pred(x); };
  const out = [];
  if (e.state === 'open') {
    const amount = h('input', { size: 5, value: '1', class: 'top-up-amount', inputmode: 'decimal' });
    out.push(amount, h('button', { class: 'top-up', onclick: async () => {
      try {
        const nano = parseTon(amount.value, 'amount');
        const before = BigInt(e.deposit);
        await runAction(ctx, { op: 'topUpEscrow', worker, amount: nano }, row((x) => x && BigInt(x.deposit) >= before + BigInt(nano)), st.say);
      } catch (err) { st.say(err.message, 'error'); }
    } }, 'Top up'));
    out.push(h('button', { class: 'close', onclick: () => runAction(ctx, { op: 'closeEscrow', worker }, row((x) => x && x.state === 'closing'), st.say) }, 'Close'));
  }
  const withdrawable = (e.state === 'closing' || e.state === 'opening') && ctx.chainNow() >= e.closeAt;
  if (e.state === 'closing' || e.state === 'opening') {
    out.push(h('button', { class: 'withdraw', disabled: !withdrawable, title: withdrawable ? '' : 'after the dispute window', onclick: () => runAction(ctx, { op: 'withdrawEscrow', worker }, row((x) => !x), st.say) }, 'Withdraw'));
    if (!withdrawable && ctx.config.canAdvanceClock) {
      out.push(h('button', { class: 'skip', title: 'sandbox only: move the local chain clock past the dispute window', onclick: async () => {
        const r = await api.post('/api/dev/advance', { seconds: Math.max(1, Math.ceil(e.closeAt - ctx.chainNow()) + 1) });
        ctx.setNow(r.now);
        ctx.toast('sandbox clock moved past the dispute window', 'ok');
        await ctx.refresh();
      } }, 'Skip window (sandbox)'));
    }
  }
  return h('div', { class: 'row actions' }, out);
}

// The dashboard page: loads the config, connects the wallet (development wallet in the sandbox,
// TonConnect elsewhere), routes #/network, #/workers, #/worker/<addr>, #/operator[/<addr>],
// #/client[/<addr>], refreshes the current view every few seconds and ticks countdowns every second
// on chain time.
import { api } from './api.js';
import { h, replace } from './dom.js';
import { createWallet } from './wallet.js';
import { duration, time } from './format.js';
import { networkView } from './views/network.js';
import { workersView, workerView } from './views/workers.js';
import { operatorView } from './views/operator.js';
import { clientView } from './views/client.js';

const REFRESH_MS = 4000;

const ctx = {
  config: null,
  wallet: null,
  /** chain time - wall time (s): the sandbox's clock runs ahead after a dispute window was skipped */
  offset: 0,
  setNow(chainNow) { ctx.offset = chainNow - Date.now() / 1000; },
  chainNow() { return Date.now() / 1000 + ctx.offset; },
  toast,
  refresh: () => refresh(),
  explorer(address) {
    return ctx.config?.explorer ? `${ctx.config.explorer}/${address}` : null;
  },
};

function toast(text, kind = 'info', ms = 6000) {
  const el = h('div', { class: `toast ${kind}` }, text);
  document.getElementById('toasts').append(el);
  setTimeout(() => el.remove(), ms);
}

const routes = [
  [/^#\/network$/, () => networkView],
  [/^#\/workers$/, () => workersView],
  [/^#\/worker\/([^/]+)$/, () => workerView],
  [/^#\/operator(?:\/([^/]+))?$/, () => operatorView],
  [/^#\/client(?:\/([^/]+))?$/, () => clientView],
];

let current = null;
let timer = null;

async function route() {
  const hash = location.hash || '#/network';
  let view = null, arg = null;
  for (const [re, v] of routes) {
    const m = hash.match(re);
    if (m) { view = v(); arg = m[1] ? decodeURIComponent(m[1]) : null; break; }
  }
  if (!view) { location.hash = '#/network'; return; }
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', hash.startsWith(`#/${a.dataset.route}`));
  const main = document.getElementById('view');
  current = { view, arg, state: {} };
  replace(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    await view.mount(main, ctx, arg, current.state);
    await refresh();
  } catch (e) {
    replace(main, h('p', { class: 'error' }, e.message));
  }
}

async function refresh() {
  if (!current) return;
  const c = current;
  try {
    await c.view.update(ctx, c.arg, c.state);
    document.body.dataset.loaded = 'true';
  } catch (e) {
    if (c === current) toast(`refresh failed: ${e.message}`, 'error');
  }
  tick();
}

/** Every [data-until] element shows the time left until its chain time. */
function tick() {
  const now = ctx.chainNow();
  for (const el of document.querySelectorAll('[data-until]')) {
    const until = Number(el.dataset.until);
    if (!until) { el.textContent = '—'; continue; }
    const left = until - now;
    el.textContent = left > 0 ? `in ${duration(left)}` : `${el.dataset.past ?? 'passed'} (${duration(-left)} ago)`;
    el.classList.toggle('past', left <= 0);
    el.title = time(until);
  }
}

async function start() {
  const config = await api.get('/api/config');
  ctx.config = config;
  ctx.setNow(config.now);
  const badge = document.getElementById('network-badge');
  badge.textContent = config.network === 'sandbox' ? 'sandbox · development wallet' : config.network;
  badge.classList.add(config.network);
  ctx.wallet = await createWallet(config, document.getElementById('wallet-area'));
  ctx.wallet.onChange(() => route());
  window.addEventListener('hashchange', route);
  await route();
  timer = setInterval(refresh, REFRESH_MS);
  setInterval(tick, 1000);
}

start().catch((e) => {
  replace(document.getElementById('view'), h('p', { class: 'error' }, `The dashboard could not start: ${e.message}`));
  if (timer) clearInterval(timer);
});

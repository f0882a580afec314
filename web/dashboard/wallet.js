// One wallet interface for the page, two implementations:
//   TonConnectWallet  - @tonconnect/ui (testnet/mainnet): the user's own wallet app signs and sends;
//   DevWallet         - the sandbox's development wallet: the server's treasury wallets send through
//                       the local chain after the user confirms here.
// Both: account ({ address: raw '0:…', chain }), onChange(cb), connect(), disconnect(),
// sendTransaction(request) -> { boc, trace? } or an Error with `code` as TonConnect's
// (300 user declined, 1 bad request, …).
import { api } from './api.js';
import { h, replace } from './dom.js';
import { ton, shortAddr } from './format.js';

export const USER_REJECTS = 300;

export class WalletRejected extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

class Listeners {
  constructor() { this.fns = []; }
  on(fn) { this.fns.push(fn); }
  emit(v) { for (const f of this.fns) f(v); }
}

export class DevWallet {
  constructor(config, area) {
    this.kind = 'development';
    this.config = config;
    this.area = area;
    this.account = null;
    this.accounts = [];
    this.listeners = new Listeners();
    this.dialog = document.getElementById('dev-wallet-dialog');
  }

  onChange(fn) { this.listeners.on(fn); }

  async init() {
    this.accounts = (await api.get('/api/dev/accounts')).accounts;
    const saved = sessionStorage.getItem('cocoon-dev-account');
    const a = this.accounts.find((x) => x.raw === saved);
    if (a) this.select(a);
    this.renderButton();
  }

  select(a) {
    this.account = a ? { address: a.raw, friendly: a.address, name: a.name, chain: this.config.chain } : null;
    if (a) sessionStorage.setItem('cocoon-dev-account', a.raw);
    else sessionStorage.removeItem('cocoon-dev-account');
    this.renderButton();
    this.listeners.emit(this.account);
  }

  renderButton() {
    const btn = this.account
      ? h('button', { class: 'wallet-btn connected', id: 'dev-wallet-button', title: this.account.friendly, onclick: () => this.connect() },
          `${this.account.name} · ${shortAddr(this.account.friendly)}`)
      : h('button', { class: 'wallet-btn', id: 'dev-wallet-button', onclick: () => this.connect() }, 'Connect development wallet');
    replace(this.area, btn);
  }

  /** Shows the account picker (the sandbox's wallets). */
  async connect() {
    this.accounts = (await api.get('/api/dev/accounts')).accounts;
    return new Promise((resolve) => {
      const pick = (a) => { this.dialog.close(); this.select(a); resolve(this.account); };
      replace(this.dialog,
        h('h3', {}, 'Development wallet'),
        h('p', { class: 'muted' }, 'Sandbox only: these wallets live in the local chain; the server sends for them after you confirm each transaction here, as a TonConnect wallet would.'),
        h('ul', { class: 'accounts' }, this.accounts.map((a) => h('li', {},
          h('button', { class: 'account', dataset: { account: a.name }, onclick: () => pick(a) },
            h('b', {}, a.name), ' ', h('code', {}, shortAddr(a.address)), ' ', h('span', { class: 'muted' }, `${ton(a.balance)} TON`))))),
        h('div', { class: 'row' },
          this.account ? h('button', { onclick: () => { this.dialog.close(); this.select(null); resolve(null); } }, 'Disconnect') : null,
          h('button', { onclick: () => { this.dialog.close(); resolve(this.account); } }, 'Cancel')));
      this.dialog.showModal();
    });
  }

  disconnect() { this.select(null); }

  /** Asks the user to confirm, as a wallet app would, then has the server's wallet send it. */
  async sendTransaction(request, summary) {
    if (!this.account) throw new WalletRejected('connect the development wallet first', 1);
    const ok = await new Promise((resolve) => {
      replace(this.dialog,
        h('h3', {}, 'Confirm transaction'),
        h('p', {}, summary?.text ?? 'Send this transaction?'),
        h('table', { class: 'kv' }, h('tbody', {},
          request.messages.map((m) => [
            h('tr', {}, h('th', {}, 'to'), h('td', {}, h('code', {}, m.address))),
            h('tr', {}, h('th', {}, 'amount'), h('td', {}, `${ton(m.amount)} TON`)),
            h('tr', {}, h('th', {}, 'payload'), h('td', {}, h('code', {}, `${(m.payload ?? '').length} base64 chars`), m.stateInit ? ' + StateInit (deploys the contract)' : '')),
          ]),
          h('tr', {}, h('th', {}, 'from'), h('td', {}, `${this.account.name} (${shortAddr(this.account.friendly)})`)))),
        h('div', { class: 'row' },
          h('button', { id: 'dev-confirm', class: 'primary', onclick: () => { this.dialog.close(); resolve(true); } }, 'Confirm'),
          h('button', { id: 'dev-reject', onclick: () => { this.dialog.close(); resolve(false); } }, 'Reject')));
      this.dialog.showModal();
    });
    if (!ok) throw new WalletRejected('you declined the transaction in the development wallet', USER_REJECTS);
    try {
      return await api.post('/api/dev/send', { account: this.account.address, request });
    } catch (e) {
      throw new WalletRejected(e.message, e.walletCode ?? 0);
    }
  }
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}

export class TonConnectWallet {
  constructor(config, area) {
    this.kind = 'tonconnect';
    this.config = config;
    this.area = area;
    this.account = null;
    this.listeners = new Listeners();
  }

  onChange(fn) { this.listeners.on(fn); }

  async init() {
    await loadScript('/vendor/tonconnect-ui.min.js');
    const T = globalThis.TON_CONNECT_UI;
    this.T = T;
    replace(this.area, h('div', { id: 'tc-button' }));
    this.ui = new T.TonConnectUI({ manifestUrl: this.config.manifestUrl, buttonRootId: 'tc-button' });
    this.ui.onStatusChange((w) => {
      this.account = w ? { address: w.account.address, chain: w.account.chain, friendly: w.account.address, name: w.device?.appName ?? 'wallet' } : null;
      this.listeners.emit(this.account);
    });
    await this.ui.connectionRestored;
  }

  connect() { return this.ui.openModal(); }

  disconnect() { return this.ui.disconnect(); }

  async sendTransaction(request) {
    if (!this.account) throw new WalletRejected('connect a wallet first', 1);
    if (this.account.chain !== request.network) {
      throw new WalletRejected(`your wallet is on ${this.account.chain === '-239' ? 'mainnet' : 'testnet'}; this network is ${this.config.network}: switch the wallet's network`, 1);
    }
    try {
      return await this.ui.sendTransaction(request);
    } catch (e) {
      const rejected = this.T?.UserRejectsError && e instanceof this.T.UserRejectsError;
      throw new WalletRejected(rejected ? 'you declined the transaction in your wallet' : e.message, rejected ? USER_REJECTS : 0);
    }
  }
}

export async function createWallet(config, area) {
  const w = config.wallet === 'development' ? new DevWallet(config, area) : new TonConnectWallet(config, area);
  await w.init();
  return w;
}

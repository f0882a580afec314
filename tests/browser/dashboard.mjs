// Drives the dashboard in headless Chromium with puppeteer-core (an ES module, hence a script of its
// own that tests/DashboardBrowser.spec.ts runs):  node tests/browser/dashboard.mjs <base URL> <chromium> <screenshot dir>
// It walks the pages and the escrow flow through the development wallet, checks each step with
// node:assert, and prints one line `REPORT <json>` with what it saw (the spec asserts on it too).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const [base, executablePath, shots] = process.argv.slice(2);
const report = { steps: [], problems: [] };
const t0 = Date.now();
const mark = (step) => report.steps.push({ step, ms: Date.now() - t0 });

async function api(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `GET ${path}: HTTP ${r.status}`);
  return r.json();
}

const browser = await puppeteer.launch({
  executablePath, headless: true, userDataDir: mkdtempSync(join(tmpdir(), 'cocoon-chromium-')),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--disable-dev-shm-usage', '--window-size=1360,900'],
  defaultViewport: { width: 1360, height: 900 },
});
mark('browser up');
const page = await browser.newPage();
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') report.problems.push(`console.${m.type()}: ${m.text()}`); });
page.on('pageerror', (e) => report.problems.push(`page error: ${e.message}`));
page.on('requestfailed', (r) => report.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
page.on('response', (r) => { if (r.status() >= 400) report.problems.push(`HTTP ${r.status()}: ${r.url()}`); });
const confirm = async () => {
  await page.waitForSelector('dialog[open] #dev-confirm');
  await page.click('dialog[open] #dev-confirm');
};

try {
  // ---- network
  await page.goto(`${base}/#/network`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('body[data-loaded] #events tbody tr');
  report.feesCard = await page.$eval('#card-fees .card-value', (e) => e.textContent);
  report.feeLines = await page.$$eval('#chart-fees path.line', (p) => p.length);
  await page.screenshot({ path: join(shots, 'dashboard-network.png'), fullPage: true });
  mark('network page');

  // ---- workers
  await page.goto(`${base}/#/workers`, { waitUntil: 'networkidle0' });
  await page.waitForFunction(() => document.querySelectorAll('#workers .worker-row').length >= 1);
  report.pagePrices = await page.$$eval('#workers .worker-row td.price', (tds) => tds.map((t) => t.textContent));
  report.chartDots = await page.$$eval('#chart-workers .dot', (d) => d.length);
  await page.screenshot({ path: join(shots, 'dashboard-workers.png'), fullPage: true });
  mark('workers page');
  const { workers } = await api('/api/workers');
  report.workersAfterDemo = workers.map((w) => ({ reputation: w.reputation, settled: w.settled }));
  report.pageReputation = await page.$$eval('#workers .worker-row td.reputation', (tds) => tds.map((t) => t.textContent));

  // ---- client: connect the development wallet, create the client key in the browser
  await page.goto(`${base}/#/client`, { waitUntil: 'networkidle0' });
  await page.click('#dev-wallet-button');
  await page.waitForSelector('dialog[open] button[data-account="client"]');
  await page.click('dialog[open] button[data-account="client"]');
  await page.waitForSelector('#create-key');
  await page.click('#create-key');
  await page.waitForSelector('#new-seed');
  report.publicKey = await page.$eval('#client-public-key', (e) => e.getAttribute('title'));
  report.seed = await page.$eval('#new-seed', (e) => e.textContent);
  const { accounts } = await api('/api/dev/accounts');
  const client = accounts.find((a) => a.name === 'client');
  report.client = client.raw;
  report.escrowsBefore = (await api(`/api/clients/${client.raw}`)).escrows;

  // ---- open an escrow of 2.5 TON with the cheapest worker
  await page.waitForSelector('#open-worker option');
  await page.select('#open-worker', workers[0].worker.address);
  await page.$eval('#open-deposit', (e) => { e.value = '2.5'; });
  await page.click('#open-escrow');
  await page.waitForSelector('dialog[open] #dev-confirm');
  report.confirmText = await page.$eval('dialog[open]', (d) => d.textContent);
  await page.click('dialog[open] #dev-confirm');
  await page.waitForSelector('.escrow-row[data-state="open"]', { timeout: 30_000 });
  await page.waitForFunction(() => /^Done/.test(document.querySelector('#action-status')?.textContent ?? ''));
  report.afterOpen = (await api(`/api/clients/${client.raw}`)).escrows;
  report.pageDepositAfterOpen = await page.$eval('.escrow-row td.deposit', (t) => t.textContent);
  report.openedWith = workers[0];
  await page.screenshot({ path: join(shots, 'dashboard-client.png'), fullPage: true });
  mark('escrow opened');

  // ---- top up 1 TON
  await page.$eval('.escrow-row .top-up-amount', (x) => { x.value = '1'; });
  await page.click('.escrow-row button.top-up');
  await confirm();
  await page.waitForFunction(() => document.querySelector('.escrow-row td.deposit')?.textContent === '3.5 TON', { timeout: 30_000 });
  report.afterTopUp = (await api(`/api/clients/${client.raw}`)).escrows;
  mark('escrow topped up');

  // ---- close, skip the dispute window on the sandbox clock, withdraw
  await page.click('.escrow-row button.close');
  await confirm();
  await page.waitForSelector('.escrow-row[data-state="closing"] button.skip', { timeout: 30_000 });
  report.afterClose = (await api(`/api/clients/${client.raw}`)).escrows;
  await page.click('.escrow-row button.skip');
  await page.waitForSelector('.escrow-row button.withdraw:not([disabled])', { timeout: 30_000 });
  report.balanceBeforeWithdraw = (await api(`/api/clients/${client.raw}`)).balance;
  await page.click('.escrow-row button.withdraw');
  await confirm();
  await page.waitForSelector('#escrows .escrow-row', { hidden: true, timeout: 30_000 });
  const after = await api(`/api/clients/${client.raw}`);
  report.afterWithdraw = after.escrows;
  report.balanceAfterWithdraw = after.balance;
  report.lastEvents = (await api('/api/events?limit=4')).events.map((e) => e.kind);
  mark('escrow closed and withdrawn');
} catch (e) {
  report.error = e.stack ?? String(e);
  await page.screenshot({ path: join(shots, 'dashboard-failure.png'), fullPage: true }).catch(() => undefined);
} finally {
  await browser.close();
}
console.log('REPORT ' + JSON.stringify(report));
process.exit(report.error ? 1 : 0);

// Runs an action the way a TON dApp does: the server builds the message with the SDK (body, amount,
// StateInit), the wallet signs and sends it, then the page watches the contract until the effect shows
// (sent -> seen -> done, or failed). A wallet's answer ({ boc }) only says the message left the wallet.
import { api } from './api.js';
import { USER_REJECTS } from './wallet.js';

/**
 * `input` is the /api/tx body without `from`; `seen(ctx)` resolves true once the chain shows the
 * effect. `status(text, kind)` reports each step.
 */
export async function runAction(ctx, input, seen, status) {
  const account = ctx.wallet.account;
  if (!account) {
    status('Connect a wallet first.', 'error');
    await ctx.wallet.connect();
    if (!ctx.wallet.account) return false;
  }
  try {
    status('Building the message with the SDK…', 'info');
    const built = await api.post('/api/tx', { ...input, from: ctx.wallet.account.address });
    status(`Waiting for the wallet: ${built.summary.text}`, 'info');
    const res = await ctx.wallet.sendTransaction(built.request, built.summary);
    if (res.trace && !res.ok) {
      const bad = res.trace.find((t) => !t.success);
      status(`Failed on-chain: ${bad?.error ?? `exit code ${bad?.exitCode}`}`, 'error');
      await ctx.refresh();
      return false;
    }
    status('Sent. Waiting to see it on-chain…', 'info');
    const until = Date.now() + 90_000;
    for (;;) {
      await ctx.refresh();
      if (await seen()) {
        status(`Done: ${built.summary.text}.`, 'ok');
        return true;
      }
      if (Date.now() > until) {
        status('Not seen on-chain within 90 s: check your wallet\'s history; the page keeps refreshing.', 'error');
        return false;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  } catch (e) {
    status(e.code === USER_REJECTS ? 'You declined the transaction.' : e.message, 'error');
    return false;
  }
}

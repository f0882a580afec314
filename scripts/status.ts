// Read-only: the network's parameters, stakes and pending governance proposals (with the time left),
// and optionally one worker's and one escrow's state.
// npx blueprint run status --testnet --tonconnect [operator=<address> | worker=<address>] [escrow=<address>]
import { NetworkProvider } from '@ton/blueprint';
import {
    scriptContext, readNetwork, parseAddress, formatKeyValues, paramRows, formatTon, formatPrices, formatTime,
    formatHex256, formatWorkerStatus, formatEscrowState, formatBps, formatDuration, reportPending,
} from '../src/sdk';

export async function run(provider: NetworkProvider, args: string[]) {
    const { ops, args: a, write, addr } = await scriptContext(provider, args);
    const n = await readNetwork(ops.chain, ops.root.address);
    write(formatKeyValues('network', [
        ['root', addr(n.root)],
        ['owner', addr(n.owner, false)],
        ['pendingOwner', addr(n.pendingOwner, false)],
        ['networkId', n.networkId.toString()],
        ['paused', String(n.paused)],
    ]));
    write('');
    write(formatKeyValues('governance', [
        ['root version', n.version.toString()],
        ['governanceDelay', formatDuration(n.governanceDelay)],
    ]));
    reportPending({ write }, await ops.proposals(), n.params);
    write('');
    write(formatKeyValues('parameter', paramRows(n.params)));
    write('');
    write(formatKeyValues('stakes and rewards', [
        ['totalStake', formatTon(n.rewards.totalStake)],
        ['rewardPool', formatTon(n.rewards.rewardPool)],
        ['treasury', formatTon(n.rewards.treasury)],
        ['acc (1e18 scale)', n.rewards.acc.toString()],
    ]));
    let worker = a.has('worker') ? parseAddress('worker', a.optional('worker')) : null;
    if (!worker && a.has('operator')) worker = await ops.workerOf(parseAddress('operator', a.optional('operator')));
    if (worker) {
        write('');
        const w = await ops.workerInfo(worker);
        if (!w) write(`worker ${addr(worker)}: not deployed`);
        else {
            const pending = await ops.openWorker(worker).getPendingRewards(n.rewards.acc);
            write(formatKeyValues('worker', [
                ['worker', addr(worker)],
                ['operator', addr(w.operator, false)],
                ['status', formatWorkerStatus(w.status)],
                ['active', String(w.active)],
                ['stake', formatTon(w.stake)],
                ['pending', formatTon(w.pending)],
                ['unbonding', formatTon(w.unbonding)],
                ['withdrawableAt', formatTime(w.withdrawableAt)],
                ['prices', formatPrices(w.prices)],
                ['endpoint', w.endpoint ?? '-'],
                ['teeKey', formatHex256(w.teeKey)],
                ['measurement', formatHex256(w.measurement)],
                ['tlsKeyHash', formatHex256(w.tlsKeyHash)],
                ['expiresAt', formatTime(w.expiresAt)],
                ['pendingRewards', formatTon(pending)],
                ['feeBps', formatBps(w.feeBps)],
            ]));
        }
    }
    if (a.has('escrow')) {
        write('');
        const escrow = parseAddress('escrow', a.optional('escrow'));
        const e = await ops.escrowState(escrow);
        if (!e) write(`escrow ${addr(escrow)}: not deployed (never opened, or withdrawn)`);
        else {
            write(formatKeyValues('escrow', [
                ['escrow', addr(escrow)],
                ['state', formatEscrowState(e.state)],
                ['deposit', formatTon(e.deposit)],
                ['paid', formatTon(e.paid)],
                ['feesOwed', formatTon(e.feesOwed)],
                ['caps', formatPrices(e.caps)],
                ['epoch', e.epoch.toString()],
                ['lastSeq', e.lastSeq.toString()],
                ['lastTokens', e.lastTokens.toString()],
                ['lastCost', formatTon(e.lastCost)],
                ['closeAt', formatTime(e.closeAt)],
                ['operator', addr(e.operator, false)],
            ]));
        }
    }
}

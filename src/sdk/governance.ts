// Timelocked governance off-chain: the root's governance state cell, the changes that are proposed
// (built and decoded), proposal ids computed as the root computes them, and which parameter changes
// may act at once (the mirror of governance.tact's onlyRemovesPower).
import { Cell, Dictionary, beginCell } from '@ton/core';
import {
    storeGovState, storeProposal, loadProposal, type Params, type GovState,
    storeSetParams, loadSetParams, storeAddMeasurement, loadAddMeasurement, storeAddVerifierKey, loadAddVerifierKey,
    storeSetVerifierQuorum, loadSetVerifierQuorum, storeSetGovernanceDelay, loadSetGovernanceDelay,
    storeUpgradeRoot, loadUpgradeRoot,
    MIN_GOVERNANCE_DELAY, MAX_GOVERNANCE_DELAY, PROPOSAL_GRACE, MAX_VERIFIER_SIGS, ROOT_VERSION,
} from './contracts';
import { formatHex256, formatTime, formatDuration } from './format';
import { requireUint, validateParams, validateModelName } from './validate';

/** The delay of a new network: 2 days between a proposal and the earliest execution. */
export const DEFAULT_GOVERNANCE_DELAY = 2 * 86400;

export function validateGovernanceDelay(delay: number | bigint): number {
    const d = Number(delay);
    if (!Number.isInteger(d) || BigInt(d) < MIN_GOVERNANCE_DELAY || BigInt(d) > MAX_GOVERNANCE_DELAY) {
        throw new Error(`governanceDelay must be a whole number of seconds within ${MIN_GOVERNANCE_DELAY}..${MAX_GOVERNANCE_DELAY} (1 hour..30 days), got ${delay}`);
    }
    return d;
}

/** The GovState cell of a new root: the delay, no proposal, no earlier Worker code. */
export function govStateCell(delay: number): Cell {
    const s: GovState = {
        $$type: 'GovState', delay: BigInt(delay), count: 0n,
        proposals: Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell()),
        workerVersions: 0n,
        legacyWorkers: Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell()),
    };
    return beginCell().store(storeGovState(s)).endCell();
}

/** The value the root stores for a whitelisted measurement (its model name, as AddMeasurement stores it). */
export function measurementValue(model: string): Cell {
    return beginCell().storeStringTail(model).endCell();
}

// ---------------------------------------------------------------- changes

/** A change that adds power: proposed, executed after the governance delay. */
export type GovernanceChange =
    | { kind: 'setParams'; params: Params }
    | { kind: 'addMeasurement'; measurement: bigint; model: string }
    | { kind: 'addVerifierKey'; key: bigint }
    | { kind: 'setVerifierQuorum'; quorum: bigint }
    | { kind: 'setGovernanceDelay'; delay: bigint }
    | { kind: 'upgradeRoot'; version: bigint; code: Cell };

export type DecodedChange = GovernanceChange | { kind: 'unknown'; opcode: number };

export const CHANGE_KINDS = ['setParams', 'addMeasurement', 'addVerifierKey', 'setVerifierQuorum', 'setGovernanceDelay', 'upgradeRoot'] as const;

/** Checks a change before it is proposed, with a sentence naming the bad input. */
export function validateChange(c: GovernanceChange): GovernanceChange {
    switch (c.kind) {
        case 'setParams': validateParams(c.params); break;
        case 'addMeasurement': requireUint('measurement', c.measurement, 256); validateModelName(c.model); break;
        case 'addVerifierKey':
            requireUint('verifier key', c.key, 256);
            if (c.key === 0n) throw new Error('verifier key: 0 is not a public key');
            break;
        case 'setVerifierQuorum':
            if (c.quorum < 1n || c.quorum > MAX_VERIFIER_SIGS) throw new Error(`verifierQuorum must be an integer within 1..${MAX_VERIFIER_SIGS}, got ${c.quorum}`);
            break;
        case 'setGovernanceDelay': validateGovernanceDelay(c.delay); break;
        case 'upgradeRoot':
            requireUint('version', c.version, 16);
            if (c.version <= ROOT_VERSION) throw new Error(`upgradeRoot: the new version must be above this SDK's root version ${ROOT_VERSION}, got ${c.version}`);
            break;
        default: throw new Error(`unknown change ${(c as { kind: string }).kind}; one of ${CHANGE_KINDS.join(', ')}`);
    }
    return c;
}

/** The governance message a proposal carries (its body, opcode first), exactly as it will act. */
export function changeCell(c: GovernanceChange, queryId = 0n): Cell {
    const b = beginCell();
    switch (c.kind) {
        case 'setParams': return b.store(storeSetParams({ $$type: 'SetParams', queryId, params: c.params })).endCell();
        case 'addMeasurement': return b.store(storeAddMeasurement({ $$type: 'AddMeasurement', queryId, measurement: c.measurement, model: c.model })).endCell();
        case 'addVerifierKey': return b.store(storeAddVerifierKey({ $$type: 'AddVerifierKey', queryId, key: c.key })).endCell();
        case 'setVerifierQuorum': return b.store(storeSetVerifierQuorum({ $$type: 'SetVerifierQuorum', queryId, quorum: c.quorum })).endCell();
        case 'setGovernanceDelay': return b.store(storeSetGovernanceDelay({ $$type: 'SetGovernanceDelay', queryId, delay: c.delay })).endCell();
        case 'upgradeRoot': return b.store(storeUpgradeRoot({ $$type: 'UpgradeRoot', queryId, version: c.version, code: c.code })).endCell();
    }
}

/** What a proposal's change does (`unknown` for a cell that is none of the proposable messages). */
export function decodeChange(cell: Cell): DecodedChange {
    const s = cell.beginParse();
    const op = s.remainingBits >= 32 ? s.preloadUint(32) : -1;
    const p = () => cell.beginParse();
    try {
        switch (op) {
            case 0xc0c00101: return { kind: 'setParams', params: loadSetParams(p()).params };
            case 0xc0c00102: { const m = loadAddMeasurement(p()); return { kind: 'addMeasurement', measurement: m.measurement, model: m.model }; }
            case 0xc0c00104: return { kind: 'addVerifierKey', key: loadAddVerifierKey(p()).key };
            case 0xc0c0010b: return { kind: 'setVerifierQuorum', quorum: loadSetVerifierQuorum(p()).quorum };
            case 0xc0c00143: return { kind: 'setGovernanceDelay', delay: loadSetGovernanceDelay(p()).delay };
            case 0xc0c00144: { const u = loadUpgradeRoot(p()); return { kind: 'upgradeRoot', version: u.version, code: u.code }; }
        }
    } catch {
        // falls through: not a well-formed proposable message
    }
    return { kind: 'unknown', opcode: op };
}


/** One line saying what a change does, for people. */
export function describeChange(c: DecodedChange, current?: Params): string {
    switch (c.kind) {
        case 'setParams': {
            if (!current) return 'setParams';
            const diff = (Object.keys(c.params) as (keyof Params)[])
                .filter((k) => k !== '$$type' && c.params[k] !== current[k])
                .map((k) => `${k} ${String(current[k])} -> ${String(c.params[k])}`);
            return `setParams: ${diff.length ? diff.join(', ') : 'no change'}`;
        }
        case 'addMeasurement': return `addMeasurement ${formatHex256(c.measurement)} = ${c.model}`;
        case 'addVerifierKey': return `addVerifierKey ${formatHex256(c.key)}`;
        case 'setVerifierQuorum': return `setVerifierQuorum ${c.quorum}`;
        case 'setGovernanceDelay': return `setGovernanceDelay ${c.delay} s`;
        case 'upgradeRoot': return `upgradeRoot to version ${c.version}, code ${c.code.hash().toString('hex')}`;
        case 'unknown': return `unknown change (opcode 0x${(c.opcode >>> 0).toString(16)})`;
    }
}

// ---------------------------------------------------------------- proposals

/** The Proposal cell the root stores; its hash is the proposal's id. */
export function proposalCell(eta: number | bigint, change: Cell): Cell {
    return beginCell().store(storeProposal({ $$type: 'Proposal', eta: BigInt(eta), change })).endCell();
}

export function proposalId(eta: number | bigint, change: Cell): bigint {
    return BigInt('0x' + proposalCell(eta, change).hash().toString('hex'));
}

export interface PendingProposal {
    id: bigint;
    /** Earliest execution time (unix seconds). */
    eta: number;
    change: DecodedChange;
    /** The change exactly as stored (what Execute runs). */
    cell: Cell;
    /** Seconds until it can be executed (0 once it can). */
    secondsLeft: number;
    /** Executable now: eta reached and not past the grace period. */
    executable: boolean;
    /** Past eta + PROPOSAL_GRACE: it can only be cancelled (or is dropped when the map is full). */
    expired: boolean;
}

/** The root's pending proposals (its `proposals` getter) as of `now`, soonest first. */
export function pendingFrom(proposals: Dictionary<bigint, Cell>, now: number): PendingProposal[] {
    const out: PendingProposal[] = [];
    for (const [id, c] of proposals) {
        const p = loadProposal(c.beginParse());
        const eta = Number(p.eta);
        const expired = now > eta + Number(PROPOSAL_GRACE);
        out.push({ id, eta, change: decodeChange(p.change), cell: p.change, secondsLeft: Math.max(0, eta - now), executable: now >= eta && !expired, expired });
    }
    return out.sort((a, b) => a.eta - b.eta || (a.id < b.id ? -1 : 1));
}

// ---------------------------------------------------------------- what acts at once

/**
 * The fields of `next` that add power compared with `current` (so the change must be proposed):
 * any change of disputeWindow, minStake, unbondingPeriod, slashBps or reporterBountyBps; a higher
 * maxPrice, maxAttestationTtl or protocolFeeBps; a lower stakerShareBps. Empty: SetParams acts at once.
 */
export function paramsAddingPower(current: Params, next: Params): (keyof Params)[] {
    const out: (keyof Params)[] = [];
    for (const k of ['disputeWindow', 'minStake', 'unbondingPeriod', 'slashBps', 'reporterBountyBps'] as const) if (next[k] !== current[k]) out.push(k);
    for (const k of ['maxPrice', 'maxAttestationTtl', 'protocolFeeBps'] as const) if (next[k] > current[k]) out.push(k);
    if (next.stakerShareBps < current.stakerShareBps) out.push('stakerShareBps');
    return out;
}

/** Rows describing a pending proposal for people (status, propose, execute and cancel print them). */
export function proposalRows(p: PendingProposal, current?: Params): [string, string][] {
    const when = p.expired ? 'expired (past the 14-day grace period): cancel it'
        : p.executable ? 'executable now (anyone)' : `in ${formatDuration(p.secondsLeft)}`;
    return [
        ['id', formatHex256(p.id)],
        ['change', describeChange(p.change, current)],
        ['eta', formatTime(p.eta)],
        ['executable', when],
    ];
}

// What the node says about itself: /attestation (its keys, the verifier-signed statement, the TEE's
// own evidence) and /healthz (the truth: stopping, the ledger taking writes, the Worker contract
// active with this node's key).
import type { Address } from '@ton/core';
import type { Logger } from 'pino';
import type { SignedStatement, WorkerInfo } from '../sdk';
import { hex256 } from '../sdk/tls';
import type { LedgerHealth } from './receipts';
import type { ServedModel } from './models';

export interface StatusSources {
    root: Address;
    operator: Address;
    worker: Address;
    model: string;
    /** Every model served, with its capabilities and upstreams. */
    models?: ServedModel[];
    measurement: bigint;
    teeKey: bigint;
    tlsKeyHash: bigint;
    /** The statement in force (it is renewed while the node runs). */
    attestation: () => SignedStatement;
    /** The TEE's evidence for it (a TDX quote) and the provider's kind, when there is any. */
    evidence: () => { kind: string; quote: Buffer } | null;
    workerInfo: () => Promise<WorkerInfo | null>;
    ledgerHealth: () => LedgerHealth;
    stopping: () => boolean;
    log: Logger;
}

export async function attestationDocument(s: StatusSources): Promise<Record<string, unknown>> {
    let info: WorkerInfo | null = null;
    try {
        info = await s.workerInfo();
    } catch (e) {
        s.log.warn({ err: (e as Error).message }, 'cannot read the Worker contract');
    }
    const att = s.attestation();
    const evidence = s.evidence();
    const st = att.statement;
    return {
        root: s.root.toString(), operator: s.operator.toString(), worker: s.worker.toString(), model: s.model,
        measurement: hex256(s.measurement), teeKey: hex256(s.teeKey), tlsKeyHash: hex256(s.tlsKeyHash),
        expiresAt: st.expiresAt, issuedAt: st.issuedAt, attestationBoc: att.cell.toBoc().toString('base64'),
        // the TEE's own evidence, so anyone can check the verifiers' work again
        evidence: evidence ? { kind: evidence.kind, base64: evidence.quote.toString('base64') } : null,
        models: (s.models ?? []).map((m) => ({ id: m.name, capabilities: [...m.capabilities] })),
        prices: { prompt: (info?.prices.prompt ?? 0n).toString(), cached: (info?.prices.cached ?? 0n).toString(), completion: (info?.prices.completion ?? 0n).toString() },
        active: info?.active ?? false, registered: info?.teeKey === s.teeKey,
    };
}

export async function healthDocument(s: StatusSources): Promise<{ ok: boolean; body: Record<string, unknown> }> {
    const ledger = s.ledgerHealth();
    let worker: Record<string, unknown>;
    let chainOk = false;
    try {
        const info = await s.workerInfo();
        chainOk = !!info && info.active && info.teeKey === s.teeKey;
        worker = { registered: !!info, active: info?.active ?? false, currentKey: info?.teeKey === s.teeKey };
    } catch (e) {
        worker = { error: `cannot read the chain: ${(e as Error).message}` };
    }
    const stopping = s.stopping();
    const ok = !stopping && ledger.ok && chainOk;
    // the upstreams of each model (a model whose upstreams are all down still answers 502 per request: shown, not fatal)
    const upstreams = Object.fromEntries((s.models ?? []).map((m) => [m.name, m.upstreams().map((u) => ({ name: u.name, healthy: u.healthy, inflight: u.inflight, ...(u.why ? { why: u.why } : {}) }))]));
    return { ok, body: { ok, stopping, ledger: ledger.ok ? { ok: true } : { ok: false, reason: ledger.reason }, worker, upstreams } };
}

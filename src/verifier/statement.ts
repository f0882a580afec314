// From an accepted verdict and a request to the statement a verifier signs: the node's binding and
// times, plus the quote's facts that only exist once the quote is checked.
import { Statement, tcbStatusCode, tcbStatusName } from '../sdk/attestation';
import type { AttestRequest, QuoteFacts } from './api';
import type { Verdict } from './verify';

/** The facts of an accepted verdict, as the API returns them. */
export function factsOf(v: Verdict): QuoteFacts {
    if (!v.accepted || !v.measurement || !v.status || !v.fmspc || v.maxExpiresAt === null) throw new Error('factsOf: the verdict is not an accepted one');
    const code = tcbStatusCode(v.status);
    return {
        measurement: '0x' + v.measurement, tcbStatus: code, tcbStatusName: tcbStatusName(code), advisories: v.advisories,
        fmspc: '0x' + v.fmspc, quoteHash: '0x' + v.quoteHash, maxExpiresAt: v.maxExpiresAt,
    };
}

export function statementFor(req: AttestRequest['statement'], facts: QuoteFacts): Statement {
    return {
        root: req.root, operator: req.operator, issuedAt: req.issuedAt, expiresAt: req.expiresAt, teeKey: req.teeKey, tlsKeyHash: req.tlsKeyHash,
        measurement: BigInt(facts.measurement), quoteHash: BigInt(facts.quoteHash), tcbStatus: facts.tcbStatus, fmspc: BigInt(facts.fmspc),
    };
}


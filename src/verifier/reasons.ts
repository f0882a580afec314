// Why a quote is refused: one short machine-readable reason, plus a message for people.
// dcap-qvl reports failures as thrown Error messages; classifyDcapError maps them to reasons and
// anything it does not know to `verification_failed` (refused: a new failure is never an accept).

export const REASONS = [
    /** The bytes are not a well-formed TDX quote (v4/v5, ECDSA-P256, nothing after the auth data). */
    'bad_quote',
    /** The collateral is missing a field, malformed, or does not belong to this quote (FMSPC, TEE type). */
    'bad_collateral',
    /** No collateral was given: the Intel chain, TCB status and collateral window were not checked. */
    'collateral_missing',
    /** TCB info, QE identity or a CRL is past its nextUpdate at the check time. */
    'collateral_expired',
    /** TCB info, QE identity or a CRL is issued after the check time. */
    'collateral_not_yet_valid',
    /** A certificate of a chain is outside its validity period at the check time. */
    'certificate_expired',
    /** A certificate of a chain is on a CRL. */
    'certificate_revoked',
    /** A chain does not end at the pinned Intel root key. */
    'untrusted_root',
    /** A chain is malformed (an end-entity used as a CA, wrong issuer, too short). */
    'bad_certificate_chain',
    /** A signature (quote, QE report, TCB info, QE identity, CRL) does not verify. */
    'bad_signature',
    /** The quoting enclave is not Intel's TD quoting enclave at an acceptable version. */
    'qe_identity_mismatch',
    /** The TCB status is not one the policy accepts (or the platform is below every TCB level, or revoked). */
    'tcb_status',
    /** The TD runs in debug mode (td_attributes DEBUG bit): its memory is not protected. */
    'debug',
    /** Reserved TD attribute bits set, SEPT_VE_DISABLE off, or a service TD bound. */
    'td_attributes',
    /** The image hash is not whitelisted. */
    'measurement_not_allowed',
    /** The whitelist could not be read (the chain is unreachable): try again later. */
    'whitelist_unavailable',
    /** REPORTDATA is not the key binding of the statement. */
    'report_data_mismatch',
    /** dcap-qvl refused the quote for a reason this table does not name (see the message). */
    'verification_failed',
] as const;

export type Reason = (typeof REASONS)[number];

/** A refusal with its reason; everything in src/verifier throws this for a policy or chain failure. */
export class VerificationError extends Error {
    constructor(readonly reason: Reason, message: string) {
        super(message);
        this.name = 'VerificationError';
    }
}

const DCAP_ERRORS: [RegExp, Reason][] = [
    [/^Failed to decode quote|^Unsupported DCAP (quote version|TEE type|attestation key type)|must have version|^Unsupported body type|^Invalid tee type|^Unsupported auth data version|out of bounds|^Unsupported cert type/i, 'bad_quote'],
    [/^Failed to decode (TcbInfo|QeIdentity)|^Fmspc mismatch|with non-(TDX|SGX) TCB info|^Unsupported QE Identity id\/version|^No (SGX|TDX) components|^No TCB levels found in QE Identity|length mismatch/i, 'bad_collateral'],
    [/expired$/i, 'collateral_expired'],
    [/issue date is in the future/i, 'collateral_not_yet_valid'],
    [/^Certificate is expired or not yet valid/i, 'certificate_expired'],
    [/^Certificate is revoked/i, 'certificate_revoked'],
    [/^Failed to verify certificate chain/i, 'bad_certificate_chain'],
    [/^CaUsedAsEndEntity|^Certificate chain is too short|^Failed to extract PCK certificates|^Unsupported DCAP PCK cert format|^Intel extension/i, 'bad_certificate_chain'],
    [/^Signature is invalid|signature is invalid$|^QE report hash mismatch/i, 'bad_signature'],
    [/^QE (MRSIGNER|ISVPRODID|MISCSELECT|ATTRIBUTES) mismatch|^QE ISVSVN .* below minimum/i, 'qe_identity_mismatch'],
    [/^No matching TCB level found|^TCB status is invalid/i, 'tcb_status'],
    [/^Debug mode is enabled/i, 'debug'],
    [/^Reserved bits in TD attributes|^SEPT_VE_DISABLE is not enabled|^Invalid mr service td/i, 'td_attributes'],
];

/** Maps a dcap-qvl error message to a reason; unknown messages are `verification_failed`. */
export function classifyDcapError(message: string): Reason {
    for (const [re, reason] of DCAP_ERRORS) if (re.test(message)) return reason;
    return 'verification_failed';
}

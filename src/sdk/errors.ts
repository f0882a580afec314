// The contracts' exit codes as named errors with a sentence each (docs/ERRORS.md has the same table).
import * as C from './contracts';

export const EXIT_CODES: Record<number, { name: string; message: string }> = {
    [Number(C.ERR_INSUFFICIENT_VALUE)]: { name: 'InsufficientValue', message: 'The attached TON does not cover the amount plus the fees of every later hop; attach more.' },
    [Number(C.ERR_ZERO_AMOUNT)]: { name: 'ZeroAmount', message: 'An amount that must be positive was zero.' },
    [Number(C.ERR_NOT_OWNER)]: { name: 'NotOwner', message: 'Only the root owner (governance) may send this message.' },
    [Number(C.ERR_NOT_PENDING_OWNER)]: { name: 'NotPendingOwner', message: 'Only the proposed new owner may accept ownership.' },
    [Number(C.ERR_PAUSED)]: { name: 'Paused', message: 'The network is paused: registration and attestation are stopped.' },
    [Number(C.ERR_BAD_PARAMS)]: { name: 'BadParams', message: 'Parameters out of range (bps above 10000, or a zero period, stake or price).' },
    [Number(C.ERR_UNKNOWN_MEASUREMENT)]: { name: 'UnknownMeasurement', message: 'The attested TEE measurement is not whitelisted by the root.' },
    [Number(C.ERR_UNTRUSTED_VERIFIER)]: { name: 'UntrustedVerifier', message: 'The attestation is signed by a verifier key the root does not trust.' },
    [Number(C.ERR_BAD_ATTESTATION_SIG)]: { name: 'BadAttestationSignature', message: "The verifier's signature does not match the attestation statement." },
    [Number(C.ERR_WRONG_ROOT)]: { name: 'WrongRoot', message: 'The attestation statement names another root (another network).' },
    [Number(C.ERR_WRONG_OPERATOR)]: { name: 'WrongOperator', message: 'The attestation statement names another operator.' },
    [Number(C.ERR_ATTESTATION_EXPIRED)]: { name: 'AttestationExpired', message: 'The attestation has already expired; get a fresh one from the verifier.' },
    [Number(C.ERR_ATTESTATION_TOO_LONG)]: { name: 'AttestationTooLong', message: "The attestation's expiry is beyond the root's maximum attestation lifetime." },
    [Number(C.ERR_STAKE_TOO_LOW)]: { name: 'StakeTooLow', message: "The worker's stake would be below the root's minimum stake." },
    [Number(C.ERR_NOT_WORKER)]: { name: 'NotWorker', message: 'Only the Worker contract of that operator may send this message.' },
    [Number(C.ERR_BAD_TAG)]: { name: 'BadTag', message: 'A signed payload carries the wrong domain tag.' },
    [Number(C.ERR_NO_ACTIVE_STAKE)]: { name: 'NoActiveStake', message: 'No stake is active, so there is nobody to distribute rewards to.' },
    [Number(C.ERR_TREASURY_TOO_LOW)]: { name: 'TreasuryTooLow', message: 'The treasury holds less than the amount asked for.' },
    [Number(C.ERR_MEASUREMENT_ALLOWED)]: { name: 'MeasurementAllowed', message: 'The measurement is still whitelisted; remove it before deactivating its workers.' },
    [Number(C.ERR_BAD_STATEMENT)]: { name: 'BadStatement', message: 'The attestation statement has no TEE key or no issue time, or carries more than 16 signatures.' },
    [Number(C.ERR_DUPLICATE_VERIFIER)]: { name: 'DuplicateVerifier', message: 'The verifier signatures are not in strictly ascending key order (a key would count twice).' },
    [Number(C.ERR_QUORUM_NOT_MET)]: { name: 'QuorumNotMet', message: "Fewer distinct trusted verifiers signed the statement than the root's verifierQuorum." },
    [Number(C.ERR_TIMELOCKED)]: { name: 'Timelocked', message: 'This change adds power, so it acts only through a proposal: Propose it, then Execute it after the governance delay (`propose`, `execute`).' },
    [Number(C.ERR_NOT_PROPOSABLE)]: { name: 'NotProposable', message: 'Only SetParams, AddMeasurement, AddVerifierKey, SetVerifierQuorum, SetGovernanceDelay and UpgradeRoot can be proposed, each exactly as its message (no bit or reference more).' },
    [Number(C.ERR_UNKNOWN_PROPOSAL)]: { name: 'UnknownProposal', message: 'No such pending proposal: never proposed, already executed, or cancelled (`status` lists the pending ones).' },
    [Number(C.ERR_TOO_EARLY)]: { name: 'TooEarly', message: "The proposal's governance delay has not passed: execute it at or after its eta." },
    [Number(C.ERR_PROPOSAL_EXPIRED)]: { name: 'ProposalExpired', message: 'The proposal is more than 14 days past its eta and can no longer be executed; propose it again.' },
    [Number(C.ERR_TOO_MANY_PROPOSALS)]: { name: 'TooManyProposals', message: '16 proposals are pending; execute or cancel one first.' },
    [Number(C.ERR_DUPLICATE_PROPOSAL)]: { name: 'DuplicateProposal', message: 'The same change with the same eta is already pending.' },
    [Number(C.ERR_BAD_DELAY)]: { name: 'BadDelay', message: 'The governance delay must be between 1 hour and 30 days.' },
    [Number(C.ERR_BAD_UPGRADE)]: { name: 'BadUpgrade', message: "The upgrade is refused: its version is not above this root's, or the new code cannot read this root's snapshot, or it reports another version." },
    [Number(C.ERR_UPGRADE_LEDGER)]: { name: 'UpgradeLedger', message: "The upgrade is refused: the new code's ledger (owner, network, stake total, accumulator, reward pool, treasury) differs from this root's; its migration would lose or misplace funds." },
    [Number(C.ERR_UNKNOWN_WORKER_VERSION)]: { name: 'UnknownWorkerVersion', message: 'The root neither deploys nor accepts a Worker code with this hash (workerAddressesOf lists them).' },
    [Number(C.ERR_TOO_MANY_WORKER_VERSIONS)]: { name: 'TooManyWorkerVersions', message: 'A new root would have to accept more than 4 earlier Worker codes; unbond the oldest Workers first.' },
    [Number(C.ERR_NOT_OPERATOR)]: { name: 'NotOperator', message: "Only the worker's operator may send this message." },
    [Number(C.ERR_NOT_ROOT)]: { name: 'NotRoot', message: "Only the worker's root may send this message." },
    [Number(C.ERR_NOT_ACTIVE)]: { name: 'NotActive', message: 'The worker has no active, attested stake for this operation.' },
    [Number(C.ERR_STILL_UNBONDING)]: { name: 'StillUnbonding', message: "The unbonding period has not passed yet, or receipts signed by one of the worker's keys can still be paid (see withdrawableAt)." },
    [Number(C.ERR_NOTHING_TO_WITHDRAW)]: { name: 'NothingToWithdraw', message: 'There is no unbonding stake to withdraw.' },
    [Number(C.ERR_PRICE_TOO_HIGH)]: { name: 'PriceTooHigh', message: "A price (of some token class) is above the root's maximum price." },
    [Number(C.ERR_BAD_PROOF_SIG)]: { name: 'BadProofSignature', message: "A receipt in the slash proof is not signed by the worker's TEE key." },
    [Number(C.ERR_NOT_EQUIVOCATION)]: { name: 'NotEquivocation', message: 'The two receipts do not contradict each other.' },
    [Number(C.ERR_NOTHING_TO_SLASH)]: { name: 'NothingToSlash', message: 'The worker has no attested key or no bonded stake left to slash.' },
    [Number(C.ERR_NO_STAKE)]: { name: 'NoStake', message: 'The worker has no active stake to unbond.' },
    [Number(C.ERR_STAKE_BELOW_MIN)]: { name: 'StakeBelowMin', message: "The top-up would leave the worker's stake below the root's minimum stake." },
    [Number(C.ERR_KEY_NOT_ACCOUNTABLE)]: { name: 'KeyNotAccountable', message: "The proof names a key that is neither the worker's key in force nor an earlier key whose receipts can still be paid." },
    [Number(C.ERR_STILL_SERVING)]: { name: 'StillServing', message: 'The worker is active (or has no active stake): there is nothing to drop.' },
    [Number(C.ERR_NOT_ESCROW)]: { name: 'NotEscrow', message: "Only this worker's escrow of that client may report its settlement." },
    [Number(C.ERR_NOT_CLIENT)]: { name: 'NotClient', message: "Only the escrow's client may send this message." },
    [Number(C.ERR_NOT_ESCROW_WORKER)]: { name: 'NotEscrowWorker', message: "Only the escrow's worker contract may answer its query." },
    [Number(C.ERR_WRONG_STATE)]: { name: 'WrongState', message: "The message is not valid in the escrow's current state." },
    [Number(C.ERR_BAD_RECEIPT)]: { name: 'BadReceipt', message: 'The receipt is for another escrow or epoch, or has a wrong tag.' },
    [Number(C.ERR_BAD_RECEIPT_SIG)]: { name: 'BadReceiptSignature', message: "The receipt is not signed by the worker's attested TEE key." },
    [Number(C.ERR_STALE_RECEIPT)]: { name: 'StaleReceipt', message: 'The receipt is not newer than the last one settled (sequence or totals).' },
    [Number(C.ERR_PRICE_ABOVE_CAP)]: { name: 'PriceAboveCap', message: "The receipt's cost is above the client's price caps for its tokens (sum over classes of tokens x cap)." },
    [Number(C.ERR_DISPUTE_WINDOW_OVER)]: { name: 'DisputeWindowOver', message: 'The escrow is closed and its dispute window is over.' },
    [Number(C.ERR_WINDOW_NOT_OVER)]: { name: 'WindowNotOver', message: 'The dispute window is still open; withdraw after closeAt.' },
    [Number(C.ERR_NOT_PARTY)]: { name: 'NotParty', message: "Only the escrow's client or the worker's operator may refresh it." },
    [Number(C.ERR_BAD_CLIENT_KEY)]: { name: 'BadClientKey', message: 'The client key must be an ed25519 public key, not 0.' },
    [Number(C.ERR_KEY_EXPIRED)]: { name: 'KeyExpired', message: "The escrow no longer pays receipts of its TEE key (past payUntil: lease end + dispute window); the operator refreshes the escrow after re-attesting." },
};

export class CocoonError extends Error {
    constructor(readonly exitCode: number, readonly errorName: string, message: string) {
        super(message);
        this.name = 'CocoonError';
    }
}

/** A named error for an exit code (TVM's own codes get a generic sentence). */
export function errorForExitCode(code: number): CocoonError {
    const known = EXIT_CODES[code];
    if (known) return new CocoonError(code, known.name, `${known.name} (exit ${code}): ${known.message}`);
    if (code === -14 || code === 13) return new CocoonError(code, 'OutOfGas', `OutOfGas (exit ${code}): the message ran out of gas; attach more TON.`);
    return new CocoonError(code, 'ExitCode', `the transaction failed with exit code ${code}`);
}

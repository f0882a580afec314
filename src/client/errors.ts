// Client-side errors: each names what went wrong and what the user can do next.

export type ClientErrorCode =
    | 'TLS_KEY_MISMATCH'      // the server's certificate key does not hash to the on-chain tlsKeyHash
    | 'WORKER_UNAVAILABLE'    // not active, attestation expired, no endpoint, connection failed
    | 'BAD_RECEIPT'           // malformed receipt, wrong escrow/epoch, fields not matching the signed cell
    | 'BAD_RECEIPT_SIGNATURE' // not signed by the worker's on-chain TEE key
    | 'COST_MISMATCH'         // cost does not follow the pricing formula for the usage shown
    | 'STALE_RECEIPT'         // seq or totals did not grow
    | 'HTTP_ERROR'            // the worker answered with an OpenAI-shaped error
    | 'ESCROW'                // escrow operation refused or not in the needed state
    | 'CHAIN'                 // a transaction failed on-chain (exit code known)
    | 'QUOTE_REFUSED'         // verifyQuote: the worker's TDX quote did not check out (the prompt was not sent)
    | 'CONFIG';               // bad options

export class ClientError extends Error {
    constructor(
        readonly code: ClientErrorCode,
        message: string,
        /** What the user can do about it. */
        readonly hint: string,
        readonly details: Record<string, unknown> = {},
    ) {
        super(`${message} — ${hint}`);
        this.name = 'ClientError';
    }
}

export function isClientError(e: unknown, code?: ClientErrorCode): e is ClientError {
    return e instanceof ClientError && (code === undefined || e.code === code);
}

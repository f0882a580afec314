// Reading a request body: size-limited and with a deadline. The error taxonomy lives in errors.ts
// (re-exported here for the callers that imported it from this module).
import type { IncomingMessage } from 'node:http';
import { HttpError, Refuse } from './errors';

export { HttpError, sendJson, sendError, errorBody } from './errors';

export interface ReadBodyOptions {
    /** Largest body accepted (bytes): 413 beyond. */
    limit: number;
    /** The whole body must arrive within this many ms of the call (408 otherwise); 0 = no deadline. */
    timeoutMs?: number;
}

/**
 * Reads the whole body, up to `limit` bytes. A larger body is drained (so the client can read the
 * answer) up to 16x the limit and refused with 413; beyond that the connection is cut. A body that
 * has not arrived by the deadline is refused with 408 and the connection is closed after the answer
 * (a slow upload never holds a connection, memory or a place among the requests in progress).
 */
export function readBody(req: IncomingMessage, opts: ReadBodyOptions | number): Promise<Buffer> {
    const { limit, timeoutMs = 0 } = typeof opts === 'number' ? { limit: opts } : opts;
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length'] ?? NaN);
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = Number.isFinite(declared) && declared > limit;
        let settled = false;
        const hardCap = limit * 16;
        const timer = timeoutMs > 0 ? setTimeout(() => fail(Refuse.bodyTimeout(timeoutMs)), timeoutMs) : null;
        const cleanup = () => {
            if (timer) clearTimeout(timer);
            req.off('data', onData);
            req.off('end', onEnd);
            req.off('error', onError);
            req.off('aborted', onAborted);
        };
        const fail = (e: HttpError) => {
            if (settled) return;
            settled = true;
            cleanup();
            // stop reading: whatever else comes is discarded and the connection closes after the answer
            req.pause();
            reject(e);
        };
        const fail413 = () => new HttpError(413, `request body is larger than the limit of ${limit} bytes; shorten the prompt`, 'invalid_request_error', 'body_too_large', { connection: 'close' });
        const onData = (c: Buffer) => {
            size += c.length;
            if (size > limit) tooLarge = true;
            if (tooLarge) {
                chunks.length = 0;
                if (size > hardCap) {
                    req.destroy();
                    fail(fail413());
                }
                return;
            }
            chunks.push(c);
        };
        const onEnd = () => {
            if (settled) return;
            if (tooLarge) return fail(fail413());
            settled = true;
            cleanup();
            resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
        };
        const onError = (e: Error) => fail(new HttpError(400, `could not read the request body: ${e.message}`));
        const onAborted = () => fail(new HttpError(400, 'the client aborted the request body'));
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
        req.on('aborted', onAborted);
    });
}

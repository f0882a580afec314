// Small HTTP helpers: OpenAI-shaped errors and a size-limited body reader.
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
    constructor(readonly status: number, message: string, readonly type = 'invalid_request_error', readonly code: string | null = null) {
        super(message);
        this.name = 'HttpError';
    }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text).toString(), ...headers });
    res.end(text);
}

export function errorBody(e: HttpError) {
    return { error: { message: e.message, type: e.type, code: e.code } };
}

export function sendError(res: ServerResponse, e: HttpError, headers: Record<string, string> = {}): void {
    sendJson(res, e.status, errorBody(e), headers);
}

/**
 * Reads the whole body, up to `limit` bytes. A larger body is drained (so the client can read the
 * answer) up to 16x the limit and refused with 413; beyond that the connection is cut.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length'] ?? NaN);
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = Number.isFinite(declared) && declared > limit;
        const hardCap = limit * 16;
        const fail413 = () => new HttpError(413, `request body is larger than the limit of ${limit} bytes`, 'invalid_request_error', 'body_too_large');
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > limit) tooLarge = true;
            if (tooLarge) {
                chunks.length = 0;
                if (size > hardCap) {
                    req.destroy();
                    reject(fail413());
                }
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => (tooLarge ? reject(fail413()) : resolve(Buffer.concat(chunks))));
        req.on('error', (e) => reject(new HttpError(400, `could not read the request body: ${e.message}`)));
        req.on('aborted', () => reject(new HttpError(400, 'the client aborted the request body')));
    });
}

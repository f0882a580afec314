// The node's lifecycle: the one request handler (routing, the error handler rendering OpenAI
// errors, per-route metrics, the count of requests in progress) and shutdown in fastify's order:
// closing flag -> stop accepting -> drain with a deadline (streams end after their final receipt)
// -> the claim loop -> every connection -> the ledger (flushed) -> the token counter -> the backend.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { sendError, toHttpError } from './errors';
import type { WorkerMetrics } from './metrics';
import { route, KNOWN_ROUTES, type RouteContext } from './routes';

export class RequestHandler {
    private active = 0;
    private readonly idle: (() => void)[] = [];

    constructor(private readonly ctx: RouteContext, private readonly log: Logger, private readonly metrics: WorkerMetrics) {}

    /** Requests being handled (any route, from headers to the last byte). */
    get inProgress(): number {
        return this.active;
    }

    readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
        this.active++;
        let routeName = 'unknown';
        route(this.ctx, req, res)
            .then((r) => {
                routeName = r;
            })
            .catch((e) => {
                const err = toHttpError(e);
                if (err.status === 500) this.log.error({ err: (e as Error)?.message, path: req.url }, 'request failed');
                if (err.status >= 500) this.metrics.errors.inc({ kind: err.code ?? 'internal' });
                routeName = (req.url ?? '/').split('?')[0];
                // a body not read to its end is not read at all: close the connection after the answer
                const extra: Record<string, string> = req.complete ? {} : { connection: 'close' };
                if (!res.headersSent && !res.destroyed) sendError(res, err, extra);
                else if (!res.writableEnded) res.end();
            })
            .finally(() => {
                const name = KNOWN_ROUTES.has(routeName) ? routeName : 'other';
                const status = res.statusCode;
                this.metrics.requestsBy.add(`${name} ${status}`, () => ({ route: name, status: String(status) }));
                this.active--;
                if (this.active === 0) this.idle.splice(0).forEach((f) => f());
            });
    };

    /** Resolves when no request is in progress, or after `ms`. */
    drained(ms: number): Promise<void> {
        if (this.active === 0) return Promise.resolve();
        return Promise.race([
            new Promise<void>((resolve) => this.idle.push(resolve)),
            new Promise<void>((resolve) => setTimeout(resolve, ms).unref()),
        ]);
    }
}

export interface ShutdownParts {
    /** Sets the closing flag (new chat requests get 503). */
    closing: () => void;
    /** Stops accepting connections; resolves when the server is closed. */
    stopAccepting: () => Promise<void>;
    handler: RequestHandler;
    graceMs: number;
    /** In order, after the drain: the claim loop, the connections, the ledger, the counter, the backend. */
    then: (() => unknown)[];
    log: Logger;
    url: string;
}

/** Runs the shutdown once; later calls get the same promise. */
export function shutdownOnce(p: ShutdownParts): () => Promise<void> {
    let stopped: Promise<void> | null = null;
    return () => (stopped ??= (async () => {
        p.closing();
        const closed = p.stopAccepting();
        await p.handler.drained(p.graceMs);
        for (const step of p.then) await step();
        await closed;
        p.log.info({ url: p.url }, 'worker node stopped');
    })());
}

/** SIGINT/SIGTERM: graceful stop, then exit (0, or 1 when the stop failed). */
export function stopOnSignals(handle: { stop(): Promise<void> }, log: Logger): void {
    let once = false;
    const onSignal = (sig: NodeJS.Signals) => {
        if (once) return;
        once = true;
        log.info({ signal: sig }, 'stopping');
        handle.stop().then(() => process.exit(0), (e) => {
            log.error({ err: (e as Error).message }, 'unclean stop');
            process.exit(1);
        });
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
}

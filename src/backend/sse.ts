// Server-sent events: yields the `data:` payload of each event, from a fetch body or from any async
// iterable of chunks (a node:http IncomingMessage).

/** One event's data lines joined with '\n' ('' when it has none). */
function eventData(event: string): string {
    if (event.startsWith('data:') && event.indexOf('\n') < 0) return event.charCodeAt(5) === 32 ? event.slice(6) : event.slice(5);
    return event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => (l.charCodeAt(5) === 32 ? l.slice(6) : l.slice(5)))
        .join('\n');
}

/**
 * Splits text chunks into SSE events, synchronously: push() each chunk and get the data of the
 * events it completed; end() gives what a stream without a final blank line left. Line ends may be
 * \n, \r\n or \r; an event ends at an empty line. Scans each byte once (indexOf), no regex per event.
 */
export class SseSplitter {
    private readonly decoder = new TextDecoder();
    private buf = '';

    push(chunk: Uint8Array | string): string[] {
        let buf = this.buf + (typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
        if (buf.indexOf('\r') >= 0) {
            // a trailing \r may be the first half of a \r\n split over two chunks
            const tail = buf.endsWith('\r') ? '\r' : '';
            buf = buf.slice(0, buf.length - tail.length).replace(/\r\n?/g, '\n') + tail;
        }
        const out: string[] = [];
        let start = 0;
        let cut: number;
        while ((cut = buf.indexOf('\n\n', start)) >= 0) {
            const data = eventData(buf.slice(start, cut));
            start = cut + 2;
            if (data.length > 0) out.push(data);
        }
        this.buf = start > 0 ? buf.slice(start) : buf;
        return out;
    }

    end(): string[] {
        const rest = this.buf.trim();
        this.buf = '';
        return rest.startsWith('data:') ? [rest.slice(5).trim()] : [];
    }
}

/** The events of a stream of text chunks (SseSplitter over an async iterable). */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array | string>, signal?: AbortSignal): AsyncGenerator<string> {
    const split = new SseSplitter();
    for await (const chunk of chunks) {
        if (signal?.aborted) return;
        yield* split.push(chunk);
    }
    yield* split.end();
}

/** SSE over a fetch body. */
export async function* sseData(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<string> {
    const reader = body.getReader();
    async function* chunks(): AsyncGenerator<Uint8Array> {
        for (;;) {
            if (signal?.aborted) return;
            const { value, done } = await reader.read();
            if (done) return;
            yield value;
        }
    }
    try {
        yield* sseEvents(chunks(), signal);
    } finally {
        reader.releaseLock();
        await body.cancel().catch(() => undefined);
    }
}

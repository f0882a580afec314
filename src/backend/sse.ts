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
 * Splits a stream of text chunks into SSE events. Line ends may be \n, \r\n or \r; an event
 * ends at an empty line. Scans each byte once (indexOf), no regex per event.
 */
export async function* sseEvents(chunks: AsyncIterable<Uint8Array | string>, signal?: AbortSignal): AsyncGenerator<string> {
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of chunks) {
        if (signal?.aborted) return;
        buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        if (buf.indexOf('\r') >= 0) {
            // a trailing \r may be the first half of a \r\n split over two chunks
            const tail = buf.endsWith('\r') ? '\r' : '';
            buf = buf.slice(0, buf.length - tail.length).replace(/\r\n?/g, '\n') + tail;
        }
        let start = 0;
        let cut: number;
        while ((cut = buf.indexOf('\n\n', start)) >= 0) {
            const data = eventData(buf.slice(start, cut));
            start = cut + 2;
            if (data.length > 0) yield data;
        }
        if (start > 0) buf = buf.slice(start);
    }
    const rest = buf.trim();
    if (rest.startsWith('data:')) yield rest.slice(5).trim();
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

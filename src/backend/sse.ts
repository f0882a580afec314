// Server-sent events over a fetch body: yields the `data:` payload of each event.
export async function* sseData(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<string> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
        for (;;) {
            if (signal?.aborted) return;
            const { value, done } = await reader.read();
            if (done) break;
            buf += decoder.decode(value, { stream: true });
            let cut: number;
            while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
                const event = buf.slice(0, cut);
                buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
                const data = event
                    .split(/\r?\n/)
                    .filter((l) => l.startsWith('data:'))
                    .map((l) => l.slice(5).replace(/^ /, ''))
                    .join('\n');
                if (data.length > 0) yield data;
            }
        }
        const rest = buf.trim();
        if (rest.startsWith('data:')) yield rest.slice(5).trim();
    } finally {
        reader.releaseLock();
        await body.cancel().catch(() => undefined);
    }
}

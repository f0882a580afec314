// The development backend: deterministic answers, exact usage, the per-token delay, and the
// OpenAICompatibleBackend reading it (with and without reported usage).
import OpenAI from 'openai';
import { DevBackend, devAnswerTokens, OpenAICompatibleBackend, countPromptTokens, countTextTokens, promptTokensUpperBound, type ChatMessage } from '../src/backend';
import { SseSplitter } from '../src/backend/sse';

/** Chat messages as both the openai client and the backend accept them. */
type Msg = { role: 'system' | 'user'; content: string };

const messages: Msg[] = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say something deterministic.' },
];

describe('DevBackend', () => {
    let dev: DevBackend;
    beforeAll(async () => {
        dev = await DevBackend.start({ tokens: 50, delayMs: 1 });
    });
    afterAll(async () => {
        await dev.stop();
    });

    it('lists its model and answers a whole completion with exact usage', async () => {
        const client = new OpenAI({ baseURL: dev.url, apiKey: 'none', maxRetries: 0 });
        const models = await client.models.list();
        expect(models.data.map((m) => m.id)).toEqual(['dev-model']);
        const r = await client.chat.completions.create({ model: 'dev-model', messages });
        const expected = devAnswerTokens(messages, 50).join('');
        expect(r.choices[0].message.content).toBe(expected);
        expect(r.choices[0].finish_reason).toBe('stop');
        expect(r.usage).toEqual({ prompt_tokens: countPromptTokens(messages), completion_tokens: 50, total_tokens: countPromptTokens(messages) + 50 });
        // every piece is one token in gpt-tokenizer's encoding, so a local count agrees with the report
        expect(countTextTokens(expected)).toBe(50);
    });

    it('streams the same deterministic answer one token per chunk, usage last when asked', async () => {
        const client = new OpenAI({ baseURL: dev.url, apiKey: 'none', maxRetries: 0 });
        const run = async () => {
            const stream = await client.chat.completions.create({ model: 'dev-model', messages, stream: true, stream_options: { include_usage: true } });
            const pieces: string[] = [];
            let usage: OpenAI.CompletionUsage | undefined;
            let finish: string | null = null;
            for await (const c of stream) {
                const d = c.choices[0]?.delta?.content;
                if (d) pieces.push(d);
                if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
                if (c.usage) usage = c.usage;
            }
            return { pieces, usage, finish };
        };
        const a = await run();
        const b = await run();
        expect(a.pieces).toEqual(devAnswerTokens(messages, 50));
        expect(b.pieces).toEqual(a.pieces);
        expect(a.finish).toBe('stop');
        expect(a.usage).toEqual({ prompt_tokens: countPromptTokens(messages), completion_tokens: 50, total_tokens: countPromptTokens(messages) + 50 });
        // another prompt, another answer
        expect(devAnswerTokens([{ role: 'user', content: 'other' }], 50)).not.toEqual(a.pieces);
    });

    it('stops at max_tokens with finish_reason length', async () => {
        const be = new OpenAICompatibleBackend({ baseUrl: dev.url });
        const r = await be.complete({ model: 'dev-model', messages, maxTokens: 7 });
        expect(r.content).toBe(devAnswerTokens(messages, 7).join(''));
        expect(r.finishReason).toBe('length');
        expect(r.usage).toEqual({ promptTokens: countPromptTokens(messages), completionTokens: 7 });
        expect(r.usageReported).toBe(true);
    });

    it('takes at least tokens x delay to stream', async () => {
        const slow = await DevBackend.start({ tokens: 20, delayMs: 15 });
        try {
            const be = new OpenAICompatibleBackend({ baseUrl: slow.url });
            const t0 = performance.now();
            const stamps: number[] = [];
            let end: any = null;
            for await (const ev of be.stream({ model: 'dev-model', messages, maxTokens: 100 })) {
                if (ev.type === 'delta') stamps.push(performance.now() - t0);
                else end = ev;
            }
            const elapsed = performance.now() - t0;
            expect(stamps).toHaveLength(20);
            expect(elapsed).toBeGreaterThanOrEqual(20 * 15 - 5);
            // no token before its time on the schedule (token i at (i + 1) x 15 ms)...
            stamps.forEach((at, i) => expect(at).toBeGreaterThanOrEqual((i + 1) * 15 - 2));
            // ...and they arrive spread out, not in one burst at the end
            expect(stamps[19] - stamps[0]).toBeGreaterThanOrEqual(150);
            expect(end.usage).toEqual({ promptTokens: countPromptTokens(messages), completionTokens: 20 });
        } finally {
            await slow.stop();
        }
    });

    it('keeps its token schedule when its thread is late, instead of adding the lateness up', async () => {
        const paced = await DevBackend.start({ tokens: 20, delayMs: 10 });
        try {
            const be = new OpenAICompatibleBackend({ baseUrl: paced.url });
            const t0 = performance.now();
            // this thread (the backend's too) is blocked for 150 ms a few steps in: the tokens due
            // meanwhile go out together afterwards and the rest keep their times
            const block = setTimeout(() => { const until = performance.now() + 150; while (performance.now() < until); }, 35);
            const stamps: number[] = [];
            for await (const ev of be.stream({ model: 'dev-model', messages, maxTokens: 100 })) if (ev.type === 'delta') stamps.push(performance.now() - t0);
            const elapsed = performance.now() - t0;
            clearTimeout(block);
            expect(stamps).toHaveLength(20);
            expect(stamps[0]).toBeGreaterThanOrEqual(10 - 1);
            expect(elapsed).toBeGreaterThanOrEqual(20 * 10 - 1);
            // one timer per token would take >= 200 + 150 ms here
            expect(elapsed).toBeLessThan(20 * 10 + 100);
            const whole = performance.now();
            await be.complete({ model: 'dev-model', messages, maxTokens: 100 });
            const took = performance.now() - whole;
            expect(took).toBeGreaterThanOrEqual(20 * 10 - 1);
            expect(took).toBeLessThan(20 * 10 + 100);
        } finally {
            await paced.stop();
        }
    });

    it('falls back to gpt-tokenizer counts when the upstream reports no usage', async () => {
        const mute = await DevBackend.start({ tokens: 12, delayMs: 0, reportUsage: false });
        try {
            const be = new OpenAICompatibleBackend({ baseUrl: mute.url });
            const whole = await be.complete({ model: 'dev-model', messages, maxTokens: 100 });
            expect(whole.usageReported).toBe(false);
            expect(whole.usage).toEqual({ promptTokens: countPromptTokens(messages), completionTokens: 12 });
            let end: any = null;
            for await (const ev of be.stream({ model: 'dev-model', messages, maxTokens: 100 })) if (ev.type === 'end') end = ev;
            expect(end.usageReported).toBe(false);
            expect(end.usage).toEqual({ promptTokens: countPromptTokens(messages), completionTokens: 12 });
        } finally {
            await mute.stop();
        }
    });

    it('reports an unreachable upstream as a BackendError', async () => {
        const gone = await DevBackend.start();
        const url = gone.url;
        await gone.stop();
        const be = new OpenAICompatibleBackend({ baseUrl: url, timeoutMs: 2000 });
        await expect(be.complete({ model: 'dev-model', messages, maxTokens: 5 })).rejects.toThrow(/inference backend unreachable/);
    });
});

describe('token bound and SSE splitting (the node\'s hot path)', () => {
    it('bounds the prompt tokens from above without the tokenizer, never below the count', () => {
        const texts = ['', 'a', 'Say something deterministic.', ' the of and', 'Grüße aus Zürich — ça va?', '東京の天気は晴れです', '🙂🙃🚀 emoji 👩‍👩‍👧‍👦',
            'x'.repeat(5000), 'ab '.repeat(700), '\n\n\t  {"json": [1, 2, 3]}', 'ﾟ･✿ヾ╲(｡◕‿◕｡)╱✿･ﾟ'];
        for (const t of texts) {
            const ms: ChatMessage[] = [
                { role: 'system', content: t },
                { role: 'user', content: [{ type: 'text', text: t }, { type: 'text', text: t.slice(1) }], name: 'alice' },
                { role: 'assistant', content: null },
            ];
            expect(promptTokensUpperBound(ms)).toBeGreaterThanOrEqual(countPromptTokens(ms));
        }
        // exact framing: 3 per reply + per message 4 + bytes of role and content
        expect(promptTokensUpperBound([{ role: 'user', content: 'é' }])).toBe(3 + 4 + 4 + 2);
    });

    it('splits SSE events across chunk boundaries and line-end styles', () => {
        const s = new SseSplitter();
        const enc = (x: string) => new TextEncoder().encode(x);
        expect(s.push(enc('data: {"a":1}\n\nda'))).toEqual(['{"a":1}']);
        expect(s.push('ta: x\r')).toEqual([]);
        expect(s.push('\n\r\n: comment\n\ndata: [DONE]\n\n')).toEqual(['x', '[DONE]']);
        const utf = enc('data: é\n\n');
        expect([...s.push(utf.subarray(0, 7)), ...s.push(utf.subarray(7))]).toEqual(['é']);
        expect(s.push('data: tail')).toEqual([]);
        expect(s.end()).toEqual(['tail']);
    });
});

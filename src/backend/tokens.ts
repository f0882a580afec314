// Token counting for backends that report no usage, and for the node's worst-case price check.
// gpt-tokenizer's o200k encoding: an estimate for non-OpenAI models, but the same on both sides of
// the node (the worst case it reserves and the usage it falls back to).
//
// Bounded work: byte-pair encoding is quadratic in the length of one pre-tokenized piece, and a text
// without spaces (Chinese, base64, "aaaa…") is one long piece: 16,000 Chinese characters took 750 ms
// and a megabyte minutes. countTextTokens cuts every run of more than MAX_RUN characters without
// whitespace into pieces of MAX_RUN and counts them apart, so the work is linear in the text (at
// most a few microseconds per character, whatever the text). It is exact for text whose
// whitespace-free runs are at most MAX_RUN characters long; otherwise it can only count a few tokens
// more per cut (merges across a cut are lost): about 0.2% more on long Chinese text, never fewer
// than the bytes/4 of ordinary text. The node counts large prompts in a worker thread with a
// deadline (src/worker/tokenCount.ts), with this same function.
import { countTokens } from 'gpt-tokenizer';
import type { ChatMessage } from './types';

/** Per-message framing overhead in the chat format (role markers), as OpenAI counts it. */
export const PER_MESSAGE = 4;
export const PER_REPLY = 3;
/** Longest run of non-whitespace characters counted in one piece. */
export const MAX_RUN = 128;

/**
 * The counting loop as JavaScript source, so the node's counting thread runs exactly this code.
 * `count` is gpt-tokenizer's countTokens. A cut never falls between the halves of a surrogate pair.
 */
export const COUNT_TEXT_SOURCE = String.raw`function countText(count, text, maxRun) {
    if (text.length === 0) return 0;
    if (text.length <= maxRun) return count(text);
    let n = 0, start = 0, run = 0;
    for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c <= 32) { run = 0; continue; }
        if (++run > maxRun && !(c >= 0xdc00 && c <= 0xdfff)) {
            n += count(text.slice(start, i));
            start = i;
            run = 1;
        }
    }
    return n + count(text.slice(start));
}`;

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const countText = new Function(`return (${COUNT_TEXT_SOURCE});`)() as (count: (t: string) => number, text: string, maxRun: number) => number;

export function messageText(m: ChatMessage): string {
    if (m.content == null) return '';
    if (typeof m.content === 'string') return m.content;
    return m.content.map((p) => p.text).join('');
}

export function countTextTokens(text: string): number {
    return countText(countTokens, text, MAX_RUN);
}

/**
 * The texts countPromptTokens counts, in order (role, content, name, tool-call JSON of each
 * message), and the framing tokens it adds to them: count = framing + sum(countTextTokens(t)).
 */
export function promptTexts(messages: ChatMessage[], extra: string[] = []): { texts: string[]; framing: number } {
    const texts: string[] = [];
    for (const m of messages) {
        texts.push(m.role, messageText(m));
        if (m.name) texts.push(m.name);
        if (m.tool_calls) texts.push(JSON.stringify(m.tool_calls));
        if (m.tool_call_id) texts.push(m.tool_call_id);
    }
    texts.push(...extra);
    return { texts, framing: PER_REPLY + PER_MESSAGE * messages.length };
}

/** Prompt tokens of a chat request; `extra` are other texts the model sees (tool definitions, a JSON schema). */
export function countPromptTokens(messages: ChatMessage[], extra: string[] = []): number {
    const { texts, framing } = promptTexts(messages, extra);
    let n = framing;
    for (const t of texts) n += countTextTokens(t);
    return n;
}

/**
 * A cheap upper bound of countPromptTokens, without running the tokenizer: gpt-tokenizer's
 * encodings are byte-level BPE, where every token stands for at least one byte of UTF-8, so a
 * text's byte length bounds its token count (Buffer.byteLength is native and does not copy).
 * Never below countPromptTokens(messages, extra); for English text about four times above it.
 */
export function promptTokensUpperBound(messages: ChatMessage[], extra: string[] = []): number {
    let n = PER_REPLY;
    for (const m of messages) {
        n += PER_MESSAGE + Buffer.byteLength(m.role);
        const c = m.content;
        if (typeof c === 'string') n += Buffer.byteLength(c);
        else if (c != null) for (const p of c) n += Buffer.byteLength(p.text);
        if (m.name) n += Buffer.byteLength(m.name);
        if (m.tool_calls) n += Buffer.byteLength(JSON.stringify(m.tool_calls));
        if (m.tool_call_id) n += Buffer.byteLength(m.tool_call_id);
    }
    for (const t of extra) n += Buffer.byteLength(t);
    return n;
}

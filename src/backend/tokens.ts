// Token counting for backends that report no usage, and for the node's worst-case price check.
// gpt-tokenizer's o200k encoding: an estimate for non-OpenAI models, but the same on both sides of
// the node (the worst case it reserves and the usage it falls back to).
import { countTokens } from 'gpt-tokenizer';
import type { ChatMessage } from './types';

/** Per-message framing overhead in the chat format (role markers), as OpenAI counts it. */
const PER_MESSAGE = 4;
const PER_REPLY = 3;

export function messageText(m: ChatMessage): string {
    if (m.content == null) return '';
    if (typeof m.content === 'string') return m.content;
    return m.content.map((p) => p.text).join('');
}

export function countTextTokens(text: string): number {
    return text.length === 0 ? 0 : countTokens(text);
}

export function countPromptTokens(messages: ChatMessage[]): number {
    let n = PER_REPLY;
    for (const m of messages) n += PER_MESSAGE + countTextTokens(m.role) + countTextTokens(messageText(m)) + (m.name ? countTextTokens(m.name) : 0);
    return n;
}

/**
 * A cheap upper bound of countPromptTokens, without running the tokenizer: gpt-tokenizer's
 * encodings are byte-level BPE, where every token stands for at least one byte of UTF-8, so a
 * text's byte length bounds its token count (Buffer.byteLength is native and does not copy).
 * Never below countPromptTokens(messages); for English text about four times above it.
 */
export function promptTokensUpperBound(messages: ChatMessage[]): number {
    let n = PER_REPLY;
    for (const m of messages) {
        n += PER_MESSAGE + Buffer.byteLength(m.role);
        const c = m.content;
        if (typeof c === 'string') n += Buffer.byteLength(c);
        else if (c != null) for (const p of c) n += Buffer.byteLength(p.text);
        if (m.name) n += Buffer.byteLength(m.name);
    }
    return n;
}

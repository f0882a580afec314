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

// Token usage, from what the engine reports to what the node bills and shows. The engine reports
// OpenAI's usage (prompt tokens with the cached ones among them, completion tokens with the
// reasoning ones among them); the node bills three disjoint classes: uncached prompt, cached prompt,
// completion (reasoning tokens are billed as completion tokens). The answer's `usage` shows the
// engine's figures as OpenAI does, so `total_tokens` is the receipt's requestTokens.
import type { Usage } from '../backend';
import type { ClassTokens } from '../sdk';

/** The classes billed for an answer's usage: prompt - cached, cached, completion. */
export function usageClasses(u: Usage): ClassTokens {
    const prompt = Math.max(0, Math.floor(u.promptTokens));
    const cached = Math.min(prompt, Math.max(0, Math.floor(u.cachedTokens ?? 0)));
    return { promptTokens: BigInt(prompt - cached), cachedTokens: BigInt(cached), completionTokens: BigInt(Math.max(0, Math.floor(u.completionTokens))) };
}

/** A usage from billed classes (a cut stream's count, the receipt's request). */
export function usageOfClasses(t: ClassTokens, reasoningTokens?: number): Usage {
    const cached = Number(t.cachedTokens);
    return {
        promptTokens: Number(t.promptTokens) + cached, completionTokens: Number(t.completionTokens),
        ...(cached > 0 ? { cachedTokens: cached } : {}), ...(reasoningTokens ? { reasoningTokens } : {}),
    };
}

/** OpenAI's `usage` object of a chat or text completion (with prompt_tokens_details.cached_tokens). */
export function usageJson(u: Usage) {
    return {
        prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens,
        prompt_tokens_details: { cached_tokens: Math.min(u.cachedTokens ?? 0, u.promptTokens) },
        ...(u.reasoningTokens ? { completion_tokens_details: { reasoning_tokens: u.reasoningTokens } } : {}),
    };
}

/** OpenAI's `usage` of an embeddings answer. */
export function embeddingUsageJson(u: Usage) {
    return { prompt_tokens: u.promptTokens, total_tokens: u.promptTokens };
}

/**
 * Prices of common hosted models, in US dollars per million tokens, for the cost budget and the
 * summary. Provider list prices for standard (not cached) use, as published in mid-2025; batch calls cost
 * `batchInput`/`batchOutput` where given, else half (BATCH_DISCOUNT);
 * they change: override them with `prices` (`--prices FILE`). Models not listed (local servers,
 * fine-tunes) have no price: their tokens are counted, their cost is not.
 */

export interface ModelPrice {
  /** USD per 1M input (prompt) tokens. */
  input: number;
  /** USD per 1M output (completion) tokens. */
  output: number;
  /** USD per 1M input tokens through the Batch API; absent: half of `input`. */
  batchInput?: number;
  /** USD per 1M output tokens through the Batch API; absent: half of `output`. */
  batchOutput?: number;
}

/** How a call was sent: one request, or one line of a provider's batch. */
export type Transport = "single" | "batch";

/**
 * What OpenAI, Anthropic and Gemini charge for batch calls, as a share of the standard price (all three
 * publish 50%); used where a price gives no batch figures of its own.
 */
export const BATCH_DISCOUNT = 0.5;

export const PRICES_AS_OF = "2025-08";

export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  // OpenAI
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4-turbo": { input: 10, output: 30 },
  "gpt-4": { input: 30, output: 60 },
  "gpt-3.5-turbo": { input: 0.5, output: 1.5 },
  o1: { input: 15, output: 60 },
  "o1-mini": { input: 1.1, output: 4.4 },
  o3: { input: 2, output: 8 },
  "o3-mini": { input: 1.1, output: 4.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
  // Google Gemini (prompts up to 200k tokens)
  "gemini-2.5-pro": { input: 1.25, output: 10 },
  "gemini-2.5-flash": { input: 0.3, output: 2.5 },
  "gemini-2.5-flash-lite": { input: 0.1, output: 0.4 },
  "gemini-2.0-flash": { input: 0.1, output: 0.4 },
  "gemini-2.0-flash-lite": { input: 0.075, output: 0.3 },
  "gemini-1.5-pro": { input: 1.25, output: 5 },
  "gemini-1.5-flash": { input: 0.075, output: 0.3 },
  // Anthropic (prompts up to 200k tokens; the 4.5 models' prices as published at their release, late 2025).
  // Dated ids (claude-sonnet-4-5-20250929) and -latest aliases take their family's price.
  "claude-opus-4-5": { input: 5, output: 25 },
  "claude-opus-4-1": { input: 15, output: 75 },
  "claude-opus-4": { input: 15, output: 75 },
  "claude-sonnet-4-5": { input: 3, output: 15 },
  "claude-sonnet-4": { input: 3, output: 15 },
  "claude-haiku-4-5": { input: 1, output: 5 },
  "claude-3-7-sonnet": { input: 3, output: 15 },
  "claude-3-5-sonnet": { input: 3, output: 15 },
  "claude-3-5-haiku": { input: 0.8, output: 4 },
  "claude-3-opus": { input: 15, output: 75 },
  "claude-3-haiku": { input: 0.25, output: 1.25 },
};

export type PriceTable = Readonly<Record<string, ModelPrice>>;

function modelName(spec: string): string {
  const colon = spec.indexOf(":");
  const name = colon >= 0 ? spec.slice(colon + 1) : spec;
  return name.replace(/^models\//, "").toLowerCase();
}

/** The longest listed name that the model's name starts with, followed by nothing or a `-` suffix (a date, "preview"). */
function longestPrefix(table: PriceTable, name: string): ModelPrice | undefined {
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    const lower = key.toLowerCase();
    if (name !== lower && !name.startsWith(`${lower}-`)) continue;
    if (!best || lower.length > best.length) best = key;
  }
  return best === undefined ? undefined : table[best];
}

/**
 * The price of a `provider:model` spec: an override for the exact spec or model name first, then the
 * built-in table by name (dated snapshots such as `gpt-4o-2024-08-06` take their family's price).
 * Local models never have a price unless overridden.
 */
export function priceFor(spec: string, overrides: PriceTable = {}): ModelPrice | undefined {
  const exact = overrides[spec] ?? overrides[modelName(spec)];
  if (exact) return exact;
  const name = modelName(spec);
  const fromOverrides = longestPrefix(overrides, name);
  if (fromOverrides) return fromOverrides;
  if (spec.startsWith("local:") || spec.startsWith("custom:")) return undefined;
  return longestPrefix(DEFAULT_PRICES, name);
}

export function costUsd(
  price: ModelPrice | undefined,
  inputTokens: number,
  outputTokens: number,
  transport: Transport = "single",
): number | undefined {
  if (!price) return undefined;
  const input = transport === "batch" ? (price.batchInput ?? price.input * BATCH_DISCOUNT) : price.input;
  const output = transport === "batch" ? (price.batchOutput ?? price.output * BATCH_DISCOUNT) : price.output;
  return (inputTokens * input + outputTokens * output) / 1_000_000;
}

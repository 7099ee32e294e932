import { ChatAnthropic } from "@langchain/anthropic";
import { ANTHROPIC_API_URL } from "./anthropic-url.js";
import type { ChatModelBuilder } from "./types.js";

/**
 * Claude through the Messages API. The base URL is always given, so neither ANTHROPIC_BASE_URL read behind the
 * factory's back nor LangSmith's gateway settings move a role elsewhere than its endpoint says. Structured output
 * is a forced tool call (`tool_use`) unless the role asks for jsonSchema.
 */
export const build: ChatModelBuilder = ({ model, temperature, maxTokens, maxRetries, apiKey, baseUrl, fetch }) =>
  new ChatAnthropic({
    model,
    temperature,
    maxTokens,
    maxRetries,
    ...(apiKey ? { apiKey } : {}),
    anthropicApiUrl: baseUrl ?? ANTHROPIC_API_URL,
    ...(fetch ? { clientOptions: { fetch } } : {}),
  });

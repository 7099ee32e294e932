/** Providers the factory builds itself; any other `provider:` goes to LangChain's chat-model registry (initChatModel's). */
export const PROVIDERS = ["openai", "google-genai", "anthropic", "local"] as const;
export type Provider = (typeof PROVIDERS)[number];

export type ModelSpec =
  | { provider: Provider; model: string }
  /** A provider LangChain's `initChatModel` knows (`mistralai`, `groq`, `bedrock`, `azure_openai`, `ollama`, ...). */
  | { provider: "langchain"; langchain: string; model: string };

const PROVIDER_NAME = /^[a-z][a-z0-9_-]*$/;

/**
 * `provider:model` → parts. The model part may itself hold colons (`local:hf:owner/repo/file.gguf`). Whether a
 * non-native provider is one LangChain knows, and its package installed, is checked by the factory.
 */
export function parseModelSpec(spec: string): ModelSpec {
  const colon = spec.indexOf(":");
  const provider = colon < 0 ? "" : spec.slice(0, colon);
  const model = colon < 0 ? "" : spec.slice(colon + 1).trim();
  if (!PROVIDER_NAME.test(provider) || model === "") {
    throw new Error(
      `Model spec "${spec}" is not of the form provider:model, with provider one of ${PROVIDERS.join(", ")} ` +
        `or a LangChain provider (e.g. openai:gpt-4o-mini, anthropic:claude-sonnet-4-5, google-genai:gemini-2.5-flash, ` +
        `mistralai:mistral-large-latest, local:./model.gguf)`,
    );
  }
  if ((PROVIDERS as readonly string[]).includes(provider)) return { provider: provider as Provider, model };
  return { provider: "langchain", langchain: provider, model };
}

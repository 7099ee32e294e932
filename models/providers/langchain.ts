/**
 * Any chat model LangChain's `initChatModel` knows (its provider table, MODEL_PROVIDER_CONFIG), built the way
 * initChatModel builds it (getChatModelByClassName, then the class with the role's settings). The concrete class
 * is kept rather than initChatModel's configurable wrapper, so structured output and token usage work as for the
 * native providers. Only the provider's package is imported, and only when a role uses it.
 */
import { createRequire } from "node:module";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { MODEL_PROVIDER_CONFIG, getChatModelByClassName } from "langchain/chat_models/universal";
import { type ChatModelBuilder, type ClientSettings, MissingProviderPackageError } from "./types.js";

type Entry = { package: string; className: string };
const TABLE = MODEL_PROVIDER_CONFIG as Readonly<Record<string, Entry>>;

/** The provider names LangChain knows, e.g. mistralai, groq, bedrock, azure_openai, ollama. */
export function langchainProviders(): string[] {
  return Object.keys(TABLE);
}

export function langchainPackage(provider: string): string | undefined {
  return Object.hasOwn(TABLE, provider) ? TABLE[provider]!.package : undefined;
}

const require = createRequire(import.meta.url);

/** Whether a package resolves from here, without loading it. */
export function isInstalled(packageName: string): boolean {
  try {
    require.resolve(packageName);
    return true;
  } catch (error) {
    // Installed, but with no CommonJS entry point: still importable.
    return (error as { code?: string }).code === "ERR_PACKAGE_PATH_NOT_EXPORTED";
  }
}

/** Settings whose name differs by class; every other class takes `maxTokens` and `apiKey`. */
function extraFields(provider: string, settings: ClientSettings): Record<string, unknown> {
  if (provider === "ollama") return { numPredict: settings.maxTokens };
  if (provider.startsWith("google")) return { maxOutputTokens: settings.maxTokens };
  return {};
}

export async function loadLangChain(provider: string): Promise<ChatModelBuilder> {
  const entry = TABLE[provider];
  if (!entry) throw new Error(`LangChain does not know the provider ${provider}`);
  if (!isInstalled(entry.package)) throw new MissingProviderPackageError(provider, entry.package);
  const ChatModel = (await getChatModelByClassName(entry.className, provider)) as
    (new (fields: Record<string, unknown>) => BaseChatModel) | undefined;
  if (typeof ChatModel !== "function") {
    throw new Error(`${entry.package} does not export ${entry.className} (the class LangChain uses for ${provider})`);
  }
  return (settings) =>
    new ChatModel({
      model: settings.model,
      temperature: settings.temperature,
      maxTokens: settings.maxTokens,
      maxRetries: settings.maxRetries,
      ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
      // Ollama-style classes take `baseUrl`; OpenAI-compatible ones `configuration.baseURL`.
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl, configuration: { baseURL: settings.baseUrl } } : {}),
      ...extraFields(provider, settings),
    });
}

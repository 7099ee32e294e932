/**
 * Provider packages, imported only when a role uses them (dynamic import keyed by provider): a run on the local
 * model never loads @langchain/openai, @langchain/google-genai or @langchain/anthropic.
 */
import type { ModelSpec } from "../spec.js";
import { loadLangChain } from "./langchain.js";
import { type ChatModelBuilder, MissingProviderPackageError } from "./types.js";

export { type ChatModelBuilder, type ClientSettings, MissingProviderPackageError } from "./types.js";
export { isInstalled, langchainPackage, langchainProviders } from "./langchain.js";
export { ANTHROPIC_API_URL } from "./anthropic-url.js";

type Remote = Exclude<ModelSpec["provider"], "local" | "langchain">;

const NATIVE: Record<Remote, { packageName: string; load: () => Promise<{ build: ChatModelBuilder }> }> = {
  openai: { packageName: "@langchain/openai", load: () => import("./openai.js") },
  "google-genai": { packageName: "@langchain/google-genai", load: () => import("./google-genai.js") },
  anthropic: { packageName: "@langchain/anthropic", load: () => import("./anthropic.js") },
};

const loaded = new Map<string, ChatModelBuilder>();
const loading = new Map<string, Promise<ChatModelBuilder>>();

/** The key a spec's client builder is kept under: the native provider, or `langchain:<provider>`. */
export function providerKey(spec: ModelSpec): string {
  return spec.provider === "langchain" ? `langchain:${spec.langchain}` : spec.provider;
}

const isMissingModule = (error: unknown) =>
  ["ERR_MODULE_NOT_FOUND", "MODULE_NOT_FOUND"].includes((error as { code?: string }).code ?? "");

async function importBuilder(spec: ModelSpec): Promise<ChatModelBuilder> {
  if (spec.provider === "langchain") return loadLangChain(spec.langchain);
  if (spec.provider === "local") throw new Error("local models are built by models/local");
  const native = NATIVE[spec.provider];
  try {
    return (await native.load()).build;
  } catch (error) {
    if (isMissingModule(error)) throw new MissingProviderPackageError(spec.provider, native.packageName);
    throw error;
  }
}

/** Imports the provider package of a (non-local) spec once; later calls return at once. */
export function loadBuilder(spec: ModelSpec): Promise<ChatModelBuilder> {
  const key = providerKey(spec);
  let pending = loading.get(key);
  if (!pending) {
    pending = importBuilder(spec).then((builder) => {
      loaded.set(key, builder);
      return builder;
    });
    // A failed import is tried again next time (the user may install the package meanwhile).
    pending.catch(() => loading.delete(key));
    loading.set(key, pending);
  }
  return pending;
}

/** The builder of a spec whose provider is already imported, else undefined. */
export function loadedBuilder(spec: ModelSpec): ChatModelBuilder | undefined {
  return loaded.get(providerKey(spec));
}

/**
 * The `local` provider: GGUF models run in-process through node-llama-cpp.
 *
 * The project's model factory calls `createLocalChatModel(spec, options)` for a role spec `local:SPEC` (the prefix
 * removed). SPEC is a GGUF path, `hf:OWNER/REPO/FILE.gguf`, an http(s) URL, "" / "default" for
 * `DEFAULT_LOCAL_MODEL`, or "default-strong" / "default-target" for the embedded pair. Every failure of this provider is a `LocalModelError` whose `code` tells what kind.
 */
import { LocalChatModel, type LocalChatModelOptions } from "./chat-model.js";
import { expandLocalDefault } from "./resolve.js";

export {
  LocalChatModel,
  MalformedOutputError,
  defaultLocalThreads,
  disposeLocalModels,
  toChatHistory,
  toGrammarSchema,
  DEFAULT_CONTEXT_SIZE,
  DEFAULT_GRAMMAR_BOUNDS,
  DEFAULT_MAX_TOKENS,
  DEFAULT_SEQUENCES,
  DEFAULT_STRUCTURED_RETRIES,
  DEFAULT_TEMPERATURE,
  type GrammarBounds,
  type LocalChatModelCallOptions,
  type LocalChatModelOptions,
} from "./chat-model.js";
export {
  assertLoadableGguf,
  checkGguf,
  formatGgufProblems,
  supportedArchitectures,
  LocalModelError,
  type GgufCheckResult,
  type GgufSummary,
  type LocalModelErrorCode,
} from "./gguf-check.js";
export {
  DEFAULT_LOCAL_MODEL,
  DEFAULT_LOCAL_STRONG_MODEL,
  DEFAULT_LOCAL_TARGET_MODEL,
  defaultCacheDir,
  expandLocalDefault,
  downloadTargetFor,
  isModelUri,
  resolveLocalModel,
  stripLocalPrefix,
  waysForwardMessage,
  type DownloadProgress,
  type ResolvedLocalModel,
  type ResolveLocalModelOptions,
} from "./resolve.js";

/** Options the model factory passes; anything else of `LocalChatModelOptions` may be added. */
export type CreateLocalChatModelOptions = Omit<LocalChatModelOptions, "model"> & {
  temperature?: number;
  maxTokens?: number;
  threads?: number;
  cacheDir?: string;
};

/**
 * Creates a local chat model (a LangChain `BaseChatModel`) for `spec` ("" or "default" → `DEFAULT_LOCAL_MODEL`, the
 * strong model of the default pair; "default-strong" / "default-target" → the pair's models).
 * Synchronous and cheap: the model is resolved/downloaded/loaded on the first call or on `load()`, and loaded state
 * is shared by all instances, so one instance per role × temperature is fine.
 */
export function createLocalChatModel(spec: string, options: CreateLocalChatModelOptions = {}): LocalChatModel {
  return new LocalChatModel({ ...options, model: expandLocalDefault(spec) });
}

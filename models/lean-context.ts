/**
 * LangChain's per-runnable context without a LangSmith run tree when nothing traces.
 *
 * Every runnable LangGraph invokes (each node, each channel write, each task's sequence) goes through
 * `AsyncLocalStorageProviderSingleton.runWithConfig`, which, to carry the config to nested runnables, builds a
 * LangSmith `RunTree` even with tracing off: a UUIDv7, timestamps and a callback manager per runnable, about a
 * tenth of the pipeline's CPU per model call at concurrency 128 (profiled; bench/cpu.ts). When no tracer is
 * configured (no LangSmith tracing variable, no `langchain_tracer` handler in the config, no tracing run tree
 * around), the config is carried in a plain store of the same shape that `getRunnableConfig()` reads; otherwise
 * the original runs unchanged, so traced runs are as before.
 */
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";

const CHILD_CONFIG = Symbol.for("lc:child_config");
const CONTEXT_VARIABLES = Symbol.for("lc:context_variables");
const TRACING_VARIABLES = [
  "LANGSMITH_TRACING_V2",
  "LANGCHAIN_TRACING_V2",
  "LANGSMITH_TRACING",
  "LANGCHAIN_TRACING",
  "LANGCHAIN_VERBOSE",
];

type Provider = typeof AsyncLocalStorageProviderSingleton;
type RunWithConfig = Provider["runWithConfig"];
type Config = Parameters<RunWithConfig>[0];
type Store = Record<PropertyKey, unknown> & { tracingEnabled?: boolean };

let installed = false;

function hasTracer(callbacks: unknown): boolean {
  if (!callbacks) return false;
  const handlers = Array.isArray(callbacks) ? callbacks : (callbacks as { handlers?: unknown[] }).handlers;
  return (handlers ?? []).some((handler) => (handler as { name?: string } | undefined)?.name === "langchain_tracer");
}

/** Nothing would trace this runnable: the environment does not ask for it and no tracer is in reach. */
function untraced(config: Config, previous: Store | undefined): boolean {
  if (previous?.tracingEnabled) return false;
  if (hasTracer(config?.callbacks)) return false;
  return !TRACING_VARIABLES.some((name) => process.env[name] === "true");
}

/** Install once per process (idempotent). */
export function installLeanRunContext(): void {
  if (installed) return;
  installed = true;
  const provider = AsyncLocalStorageProviderSingleton;
  const original: RunWithConfig = provider.runWithConfig.bind(provider);
  provider.runWithConfig = ((config, callback, avoidCreatingRootRunTree) => {
    const storage = provider.getInstance();
    const previous = storage.getStore() as Store | undefined;
    if (avoidCreatingRootRunTree || !untraced(config, previous))
      return original(config, callback, avoidCreatingRootRunTree);
    const store: Store = { extra: { [CHILD_CONFIG]: config } };
    if (previous?.[CONTEXT_VARIABLES] !== undefined) store[CONTEXT_VARIABLES] = previous[CONTEXT_VARIABLES];
    return storage.run(store, callback);
  }) as RunWithConfig;
}

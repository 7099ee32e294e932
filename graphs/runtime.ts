import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type CodecConfig, CodecConfigSchema, judgeSettings, resolveConfig } from "../lib/config.js";
import type { ModelRole } from "../lib/records.js";
import { UsageMeter } from "../lib/usage.js";
import type { CallContext } from "../models/call.js";
import { type Env, type LocalModelBuilder, ModelFactory } from "../models/factory.js";
import { Limiter } from "../models/limiter.js";

/** What the graph's builder closes over: things that cannot travel in serialisable config. */
export interface GraphDeps {
  /** Chat models that replace a role's `provider:model` spec. */
  models?: Partial<Record<ModelRole, BaseChatModel>>;
  /** Builds `local:` models (node-llama-cpp). */
  local?: LocalModelBuilder;
  env?: Env;
  maxRetries?: number;
  timeoutMs?: number;
}

interface RunModels {
  factory: ModelFactory;
  limiter: Limiter;
}

const configCache = new WeakMap<object, CodecConfig>();
const modelsCache = new WeakMap<GraphDeps, Map<string, RunModels>>();
const CONFIG_KEYS = new Set(Object.keys(CodecConfigSchema.shape));
const NO_CONTEXT = {};

/**
 * The run's raw settings. `context` is where LangGraph (library, dev server, Studio's config form) puts
 * them; callers that use `configurable` instead (older SDKs, Studio assistants saved as config) are
 * honoured for the keys the schema knows, with `context` winning where both set a key.
 */
function rawContext(runnable: LangGraphRunnableConfig | undefined): object {
  const given = (runnable as { context?: unknown } | undefined)?.context;
  const context = given && typeof given === "object" ? given : NO_CONTEXT;
  const configurable = runnable?.configurable ?? {};
  const picked = Object.entries(configurable).filter(([key]) => CONFIG_KEYS.has(key));
  if (picked.length === 0) return context;
  return { ...Object.fromEntries(picked), ...context };
}

/** The run's configuration with defaults applied; parsed once per context object. */
export function configOf(runnable: LangGraphRunnableConfig | undefined): CodecConfig {
  const raw = rawContext(runnable);
  let config = configCache.get(raw);
  if (!config) {
    config = resolveConfig(raw);
    configCache.set(raw, config);
  }
  return config;
}

/** One factory and one limiter per (deps, roles, concurrency): shared by every node of a run. */
export function modelsFor(deps: GraphDeps, config: CodecConfig): RunModels {
  let byKey = modelsCache.get(deps);
  if (!byKey) {
    byKey = new Map();
    modelsCache.set(deps, byKey);
  }
  const key = JSON.stringify([config.strong, config.target, judgeSettings(config), config.concurrency]);
  let models = byKey.get(key);
  if (!models) {
    models = {
      factory: ModelFactory.fromConfig(config, {
        overrides: deps.models,
        local: deps.local,
        env: deps.env,
        maxRetries: deps.maxRetries,
        timeoutMs: deps.timeoutMs,
      }),
      limiter: new Limiter(config.concurrency),
    };
    byKey.set(key, models);
  }
  return models;
}

export function callContext(
  deps: GraphDeps,
  runnable: LangGraphRunnableConfig | undefined,
  trace?: Record<string, string | number>,
): CallContext {
  const config = configOf(runnable);
  const { factory, limiter } = modelsFor(deps, config);
  return { config, factory, limiter, meter: new UsageMeter(), runnable, trace };
}

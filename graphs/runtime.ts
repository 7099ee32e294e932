import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type CodecConfig, CodecConfigSchema, judgeSettings, resolveConfig } from "../lib/config.js";
import type { ModelRole } from "../lib/records.js";
import { UsageMeter } from "../lib/usage.js";
import type { CallContext, CallServices } from "../models/call.js";
import { RunControl, RunStoppedError } from "../models/control.js";
import { type Env, type LocalModelBuilder, ModelFactory } from "../models/factory.js";
import type { CallJournal, JournalTotals } from "../models/journal.js";
import { SpendLedger } from "../models/ledger.js";
import { CallScheduler } from "../models/scheduler.js";

/** What the graph's builder closes over: things that cannot travel in serialisable config. */
export interface GraphDeps {
  /** Chat models that replace a role's `provider:model` spec. */
  models?: Partial<Record<ModelRole, BaseChatModel>>;
  /** Builds `local:` models (node-llama-cpp). */
  local?: LocalModelBuilder;
  env?: Env;
  /** Retries inside the provider SDK (default 0: models/call.ts retries, counts and backs off). */
  maxRetries?: number;
  /**
   * The run's call machinery (scheduler, budget ledger, stop control, journal), built per run by
   * `runToFiles` with `buildServices`. Absent, one is made per configuration and shared by the runs of
   * this graph (Studio, library use).
   */
  services?: CallServices;
}

interface RunModels {
  factory: ModelFactory;
  services: CallServices;
}

const configCache = new WeakMap<object, CodecConfig>();
const modelsCache = new WeakMap<GraphDeps, Map<string, RunModels>>();
const CONFIG_KEYS = new Set(Object.keys(CodecConfigSchema.shape));
const NO_CONTEXT = {};
const ROLES: ModelRole[] = ["strong", "target", "judge"];

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

export function factoryFor(deps: GraphDeps, config: CodecConfig): ModelFactory {
  return ModelFactory.fromConfig(config, { overrides: deps.models, local: deps.local, env: deps.env, maxRetries: deps.maxRetries });
}

/** "openai|https://host/v1|gpt-4o" -> "openai:gpt-4o at https://host/v1", for messages. */
export function endpointLabel(endpoint: string): string {
  const [provider, base, model] = endpoint.split("|");
  return provider === "custom" ? `the ${model} role's model (${base})` : `${provider}:${model} at ${base}`;
}

export interface ServiceOptions {
  journal?: CallJournal;
  /** What the journal says the run spent before (resume). */
  initial?: JournalTotals;
  control?: RunControl;
  random?: () => number;
}

/**
 * The call machinery of one run: a scheduler with the global limit and one endpoint per distinct
 * (provider, base URL, model), each capped by the smallest per-role limit of the roles using it; the
 * budget ledger; the stop control (an endpoint that stays down stops the run).
 */
export function buildServices(config: CodecConfig, factory: ModelFactory, options: ServiceOptions = {}): CallServices {
  const control = options.control ?? new RunControl();
  const scheduler = new CallScheduler(config.concurrency, {
    adaptive: config.adaptiveConcurrency,
    giveUpMs: config.giveUpAfterSeconds * 1000,
    onGiveUp: (endpoint, downForMs) =>
      control.stop({
        kind: "endpoint-down",
        message: `${endpointLabel(endpoint)} kept failing for ${Math.round(downForMs / 1000)} s without a single success`,
      }),
  });
  control.onStop((info) => scheduler.stop(new RunStoppedError(info)));
  const settings = { strong: config.strong, target: config.target, judge: judgeSettings(config) };
  for (const role of ROLES) scheduler.register(factory.endpoint(role), settings[role].concurrency ?? config.concurrency);
  const ledger = new SpendLedger(config.budget, config.prices, options.initial);
  return {
    scheduler,
    ledger,
    control,
    ...(options.journal ? { journal: options.journal } : {}),
    ...(options.random ? { random: options.random } : {}),
  };
}

/** One factory and one set of call services per (deps, run settings): shared by every node of a run. */
export function modelsFor(deps: GraphDeps, config: CodecConfig): RunModels {
  let byKey = modelsCache.get(deps);
  if (!byKey) {
    byKey = new Map();
    modelsCache.set(deps, byKey);
  }
  const { prompts: _prompts, ...rest } = config;
  const key = JSON.stringify(rest);
  let models = byKey.get(key);
  if (!models) {
    const factory = factoryFor(deps, config);
    models = { factory, services: deps.services ?? buildServices(config, factory) };
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
  const { factory, services } = modelsFor(deps, config);
  return { config, factory, services, meter: new UsageMeter(), runnable, trace };
}

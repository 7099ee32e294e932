import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type CodecConfig, CodecConfigSchema, judgeSettings, resolveConfig } from "../lib/config.js";
import { NearDuplicateIndex } from "../lib/dedupe.js";
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
   * The run's call machinery (scheduler, budget ledger, stop control, journal), built by `runToFiles`
   * with `buildServices` for the one run its graph is built for. Absent, each run of the graph gets its
   * own (see `scopeOf`).
   */
  services?: CallServices;
  /** The run's near-duplicate index, given with `services` (`runToFiles` fills it from the output files on resume). */
  dedupe?: NearDuplicateIndex;
}

/** Everything that belongs to one run of the graph and cannot live in its (serialisable) state. */
export interface RunScope {
  factory: ModelFactory;
  services: CallServices;
  /** Every instruction of the run so far, as tokens; `primed` once what the run's state holds was added. */
  dedupe: { index: NearDuplicateIndex; primed: boolean };
}

const configCache = new WeakMap<object, CodecConfig>();
const factoryCache = new WeakMap<GraphDeps, Map<string, ModelFactory>>();
const scopeCache = new WeakMap<GraphDeps, WeakMap<object, RunScope>>();
/** The scope key of nodes called outside a graph run (tests, direct calls): one per graph's deps. */
const OUTSIDE_A_RUN = {};
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

/** Chat models are plain clients (a local model is a loaded file): one factory per (deps, settings) is shared by runs. */
function sharedFactory(deps: GraphDeps, config: CodecConfig): ModelFactory {
  let byKey = factoryCache.get(deps);
  if (!byKey) {
    byKey = new Map();
    factoryCache.set(deps, byKey);
  }
  const { prompts: _prompts, ...rest } = config;
  const key = JSON.stringify(rest);
  let factory = byKey.get(key);
  if (!factory) {
    factory = factoryFor(deps, config);
    byKey.set(key, factory);
  }
  return factory;
}

/**
 * The run this node belongs to: its call services (scheduler, budget ledger, stop control, journal) and
 * its near-duplicate index. A run's budget is its own and stopping one run stops no other, in the CLI,
 * the library and the dev server alike.
 *
 * Why keyed by `runnable.control`: LangGraph creates one `RunControl` per invocation (`invoke`, `stream`,
 * the dev server's `streamEvents`) and hands that same object to every node, `Send` task and subgraph of
 * the invocation, so it identifies the run without anything in graph state, and a WeakMap releases the
 * scope with the run (a run that throws leaves nothing behind). Settings could not be the key: two runs
 * with the same settings are still two runs. A resumed invocation (a thread continued from its
 * checkpoint) is a new scope: its budget starts afresh, as a new CLI session's does, and its
 * near-duplicate index is rebuilt from the state (`nodes/dedupe.ts`). `runToFiles` builds the graph for
 * one run and passes that run's services in `deps`. The graph used as a node of a parent graph shares
 * the parent invocation's control: each parent run is one codeclm run.
 */
export function scopeOf(deps: GraphDeps, runnable: LangGraphRunnableConfig | undefined): RunScope {
  const config = configOf(runnable);
  const key: object = runnable?.control ?? OUTSIDE_A_RUN;
  let byRun = scopeCache.get(deps);
  if (!byRun) {
    byRun = new WeakMap();
    scopeCache.set(deps, byRun);
  }
  let scope = byRun.get(key);
  if (!scope) {
    const factory = sharedFactory(deps, config);
    scope = {
      factory,
      services: deps.services ?? buildServices(config, factory),
      dedupe: { index: deps.dedupe ?? new NearDuplicateIndex(config.dedupeThreshold), primed: false },
    };
    byRun.set(key, scope);
  }
  return scope;
}

export function callContext(
  deps: GraphDeps,
  runnable: LangGraphRunnableConfig | undefined,
  trace?: Record<string, string | number>,
): CallContext {
  const config = configOf(runnable);
  const { factory, services } = scopeOf(deps, runnable);
  return { config, factory, services, meter: new UsageMeter(), runnable, trace };
}

import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { type CodecConfig, CodecConfigSchema, judgeSettings, resolveConfig } from "../lib/config.js";
import { NearDuplicateIndex } from "../lib/dedupe.js";
import { DedupeStage } from "../lib/dedupe-stage.js";
import type { ModelRole } from "../lib/records.js";
import type { UsageTotals } from "../lib/accounts.js";
import type { InstructionOutcome, InstructionTask } from "../lib/tasks.js";
import { UsageMeter } from "../lib/usage.js";
import { WaveGate } from "../lib/wave-gate.js";
import type { CallContext, CallServices } from "../models/call.js";
import { RunControl, RunStoppedError } from "../models/control.js";
import { type Env, type LocalModelBuilder, ModelFactory } from "../models/factory.js";
import type { CallJournal, JournalTotals } from "../models/journal.js";
import { SpendLedger } from "../models/ledger.js";
import { CallScheduler } from "../models/scheduler.js";
import { batchFetch } from "../models/batch/scope.js";
import { BatchTransport } from "../models/batch/sender.js";
import type { SharedBudget } from "../models/shared-budget.js";
import type { SharedLimits } from "../models/shared-limits.js";

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
   * with `buildServices` for the one run its graph is built for. Absent, each invocation of the graph gets
   * its own (see `newRun`).
   */
  services?: CallServices;
  /** The run's near-duplicate index, given with `services` (`runToFiles` fills it from the output files on resume). */
  dedupe?: NearDuplicateIndex;
  /**
   * Runs one instruction's filtering somewhere else (a fleet of workers: runner/fleet/). Set, the graph's
   * per-instruction node calls it instead of running the instruction subgraph in process.
   */
  instructionExecutor?: InstructionExecutor;
}

/** One instruction's filtering as one unit: its task in, its outcomes and usage out. */
export type InstructionExecutor = (
  task: InstructionTask,
  config: LangGraphRunnableConfig,
) => Promise<{ outcomes: InstructionOutcome[]; usage: UsageTotals }>;

/**
 * Everything that belongs to one run of the graph and cannot live in its (serialisable) state: the run's
 * settings (parsed once), its models, its call services (scheduler, budget ledger, stop control, journal)
 * and its near-duplicate index. A run's budget is its own and stopping one run stops no other.
 */
export interface CodecRun {
  config: CodecConfig;
  factory: ModelFactory;
  services: CallServices;
  /**
   * Every instruction of the run so far, as tokens; `primed` once what the run's state holds was added.
   * `finals` takes the repeat check of a wave's improved instructions as they end (lib/dedupe-stage.ts);
   * a run without it (a fleet worker, which collects nothing) checks nothing ahead.
   */
  dedupe: { index: NearDuplicateIndex; primed: boolean; finals?: DedupeStage };
  /** Starts the current wave's spares once it needs them, and says which instructions can no longer take a place (`spares`). */
  waves: WaveGate;
  /** Instructions are filtered in this process (no fleet): rubrics written ahead are used here. */
  filtersHere: boolean;
}

/**
 * Where a run travels to its nodes: the invocation's `configurable`, which LangGraph hands to every node,
 * `Send` task and subgraph of the invocation. The `__` prefix is LangGraph's own mark for in-process
 * values there (`__pregel_*`): checkpoint savers (the dev server's copies `configurable` into each
 * checkpoint's metadata) and tracing leave such keys out, so the run is never serialised. Settings stay
 * in `context`, as JSON.
 */
export const RUN_KEY = "__codeclm_run";

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

/** An invocation's settings with defaults applied (read once per run, by `newRun`; nodes use `runOf(runtime).config`). */
export function configOf(runnable: LangGraphRunnableConfig | undefined): CodecConfig {
  return resolveConfig(rawContext(runnable));
}

export function factoryFor(deps: GraphDeps, config: CodecConfig): ModelFactory {
  return ModelFactory.fromConfig(config, {
    overrides: deps.models,
    local: deps.local,
    env: deps.env,
    maxRetries: deps.maxRetries,
    ...(config.batch ? { fetch: batchFetch } : {}),
  });
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
  sharedBudget?: SharedBudget;
  sharedLimits?: SharedLimits;
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
  for (const role of ROLES)
    scheduler.register(factory.endpoint(role), settings[role].concurrency ?? config.concurrency);
  const ledger = new SpendLedger(config.budget, config.prices, options.initial);
  const batch = config.batch
    ? new BatchTransport({
        steps: config.batchSteps,
        maxCalls: config.batchMaxCalls,
        waitSeconds: config.batchWaitSeconds,
        pollSeconds: config.batchPollSeconds,
        journal: options.journal,
        stopSignal: control.graphSignal,
      })
    : undefined;
  if (batch) ledger.batchCounts = () => batch.counts();
  return {
    scheduler,
    ledger,
    control,
    ...(batch ? { batch } : {}),
    ...(options.journal ? { journal: options.journal } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.sharedBudget ? { sharedBudget: options.sharedBudget } : {}),
    ...(options.sharedLimits ? { sharedLimits: options.sharedLimits } : {}),
  };
}

/** A fresh run: the deps' services and index when the caller built them for this run (`runToFiles`), else new ones. */
export function newRun(deps: GraphDeps, config: CodecConfig): CodecRun {
  const factory = factoryFor(deps, config);
  return {
    config,
    factory,
    services: deps.services ?? buildServices(config, factory),
    dedupe: {
      index: deps.dedupe ?? new NearDuplicateIndex(config.dedupeThreshold),
      primed: false,
      finals: new DedupeStage(config.dedupeThreshold),
    },
    waves: new WaveGate(),
    filtersHere: !deps.instructionExecutor,
  };
}

/**
 * The invocation's options with a run in `configurable`: the one given (a caller that built it, or the
 * parent invocation of a subgraph), else a new one from the invocation's settings.
 */
export function withRun<O extends LangGraphRunnableConfig>(deps: GraphDeps, options: O | undefined): O {
  if (options?.configurable?.[RUN_KEY]) return options;
  const run = newRun(deps, configOf(options));
  return { ...options, configurable: { ...options?.configurable, [RUN_KEY]: run } } as unknown as O;
}

/** The run a node belongs to (see `withRun`). */
export function runOf(runtime: LangGraphRunnableConfig | undefined): CodecRun {
  const run = runtime?.configurable?.[RUN_KEY] as CodecRun | undefined;
  if (!run)
    throw new Error(
      "codeclm node called outside a run: invoke the graph from createCodecGraph, or pass a run (runtimeFor)",
    );
  return run;
}

/** A node's runtime outside a graph (tests, direct calls): the settings as context, a new run for them. */
export function runtimeFor(settings: object = {}, deps: GraphDeps = {}): LangGraphRunnableConfig {
  return withRun(deps, { context: settings } as LangGraphRunnableConfig);
}

/** What one node's model calls need: the run's settings, models and services, and a meter of its own. */
export function callContext(runtime: LangGraphRunnableConfig, trace?: Record<string, string | number>): CallContext {
  const { config, factory, services } = runOf(runtime);
  return { config, factory, services, meter: new UsageMeter(), runnable: runtime, trace };
}

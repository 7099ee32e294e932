/**
 * A fleet worker (`codeclm worker`): a DBOS executor that takes instructions from the fleet's queue and
 * runs each one's filtering (answer → contrastive-judge → action-apply loop, graphs/instruction.ts) as
 * one checkpointed step of a durable workflow. Killed and restarted under the same `--worker-id`, DBOS
 * resumes its workflows; the step runs again, and the calls it had answered are replayed from the run's
 * call journal in Postgres (only calls in flight at the kill are paid twice). The run's models and
 * settings come from the driver (FleetStore); keys and base URLs from this process's environment.
 */
import { DBOS } from "@dbos-inc/dbos-sdk";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { buildInstructionGraph } from "../../graphs/instruction.js";
import { RECURSION_LIMIT } from "../../graphs/codeclm.js";
import { type CodecConfig, type RoleSettings, judgeSettings } from "../../lib/config.js";
import { NearDuplicateIndex } from "../../lib/dedupe.js";
import type { InstructionOutcome, InstructionTask } from "../../lib/tasks.js";
import { type UsageTotals, totalCounts } from "../../lib/accounts.js";
import { RunStoppedError, type StopInfo } from "../../models/control.js";
import type { Env, ModelFactory } from "../../models/factory.js";
import { PostgresCallJournal } from "../../models/journal.js";
import { PostgresBudget } from "../../models/shared-budget.js";
import { PostgresLimits } from "../../models/shared-limits.js";
import { WaveGate } from "../../lib/wave-gate.js";
import { type CodecRun, RUN_KEY, buildServices, factoryFor } from "../../nodes/runtime.js";
import { FLEET, FleetStore, type WorkflowInput } from "./store.js";

/** What a workflow returns: the instruction's outcomes and usage, and who decided them; or the stop that ended it. */
export type InstructionResult =
  | { worker: string; outcomes: InstructionOutcome[]; usage: UsageTotals; calls: number }
  | { worker: string; stopped: StopInfo };

/**
 * Instructions a worker holds per call in flight, by default. A worker runs each instruction it takes to
 * its end; holding several per call slot interleaves their calls as one process does, so the last
 * instructions of a wave do not run their whole chains alone (bench (i), standing fleet: 0.56 with 1 per
 * call, 0.61–0.62 with 4).
 */
export const INSTRUCTIONS_PER_CALL = 4;

export interface WorkerOptions {
  url: string;
  workerId: string;
  /** Model calls this worker has in flight at once (within the run's own `concurrency`). */
  concurrency: number;
  /** Instructions this worker holds at once (default 4 × `concurrency`: see INSTRUCTIONS_PER_CALL). */
  instructions?: number | undefined;
  env?: Env;
  /** How often the queue is polled (ms). */
  pollMs?: number;
  /** Told once when the database is not set up yet (no driver has started): the worker waits for one. */
  onWaiting?: () => void;
  /** How long to wait for a driver to set the database up (default 10 minutes). */
  waitMs?: number;
}

/**
 * Launch DBOS once a driver has migrated its schema. Workers never migrate (several starting together on
 * an empty database race on it); one started before any driver waits for it.
 */
async function launchWhenMigrated(onWaiting?: () => void, waitMs = 600_000): Promise<void> {
  const until = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      await DBOS.launch();
      return;
    } catch (error) {
      const unmigrated = error instanceof Error && /schema version/i.test(error.message);
      await DBOS.shutdown().catch(() => {});
      if (!unmigrated || Date.now() > until) throw error;
      if (!told) onWaiting?.();
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

interface RunContext {
  run: CodecRun;
  graph: ReturnType<typeof buildInstructionGraph>;
}

/** A worker's base URLs and keys are its own: the run's per-role base URLs are dropped. */
function ownEndpoints(config: CodecConfig): CodecConfig {
  const strip = (role: RoleSettings): RoleSettings => {
    const { baseUrl, ...rest } = role;
    void baseUrl;
    return rest;
  };
  return {
    ...config,
    strong: strip(config.strong),
    target: strip(config.target),
    judge: config.judge ? strip(config.judge) : config.judge,
  };
}

/**
 * The fleet's caps by endpoint: a role's own `concurrency` (e.g. `--target-concurrency`) holds across every
 * worker; endpoints shared by several roles take the smallest. The global `concurrency` stays per process.
 */
export function fleetCaps(config: CodecConfig, factory: ModelFactory): Map<string, number> {
  const caps = new Map<string, number>();
  const settings = { strong: config.strong, target: config.target, judge: judgeSettings(config) };
  for (const [role, setting] of Object.entries(settings) as [keyof typeof settings, RoleSettings][]) {
    if (setting.concurrency === undefined) continue;
    const endpoint = factory.endpoint(role);
    caps.set(endpoint, Math.min(caps.get(endpoint) ?? Infinity, setting.concurrency));
  }
  return caps;
}

export class FleetWorker {
  private readonly runs = new Map<string, Promise<RunContext>>();
  private inFlight = 0;
  private calls = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: WorkerOptions,
    private readonly store: FleetStore,
  ) {}

  /** Start a worker; resolves once DBOS is launched (it then dequeues and recovers its own workflows). */
  static async start(options: WorkerOptions): Promise<FleetWorker> {
    // Queries wait for a free connection, and none is held while waiting for another: about one per call in
    // flight and a few for reports and leases is enough, however many instructions the worker holds.
    const store = await FleetStore.open(options.url, options.concurrency + 4);
    const worker = new FleetWorker(options, store);
    const workflow = DBOS.registerWorkflow((input: WorkflowInput) => worker.workflow(input), { name: FLEET.workflow });
    void workflow;
    DBOS.setConfig({
      name: FLEET.app,
      systemDatabaseUrl: options.url,
      executorID: options.workerId,
      applicationVersion: FLEET.version,
      // The driver migrated DBOS's schema before any worker started (two workers on an empty database race).
      runMigrations: false,
      logLevel: "warn",
      listenQueues: [FLEET.queue],
    });
    await launchWhenMigrated(options.onWaiting, options.waitMs);
    await DBOS.registerQueue(FLEET.queue, {
      workerConcurrency: worker.instructions,
      minPollingIntervalMs: options.pollMs ?? 50,
      onConflict: "always_update",
    });
    await worker.report();
    worker.timer = setInterval(() => void worker.report().catch(() => {}), 1000);
    worker.timer.unref();
    return worker;
  }

  private async report(): Promise<void> {
    await this.store.report(this.options.workerId, this.inFlight, this.calls);
  }

  private async workflow(input: WorkflowInput): Promise<InstructionResult> {
    return DBOS.runStep(() => this.filter(input), { name: "filter" });
  }

  private context(runId: string): Promise<RunContext> {
    let context = this.runs.get(runId);
    if (!context) {
      context = this.openRun(runId);
      context.catch(() => this.runs.delete(runId));
      this.runs.set(runId, context);
    }
    return context;
  }

  /** Instructions this worker holds at once. */
  get instructions(): number {
    return this.options.instructions ?? INSTRUCTIONS_PER_CALL * this.options.concurrency;
  }

  private async openRun(runId: string): Promise<RunContext> {
    const settings = ownEndpoints(await this.store.settings(runId));
    // The run's limit of calls in flight is each process's; this worker's own `--concurrency` may be lower.
    const config = { ...settings, concurrency: Math.min(settings.concurrency, this.options.concurrency) };
    const deps = { env: this.options.env ?? process.env };
    const factory = factoryFor(deps, config);
    const journal = await PostgresCallJournal.open(this.store.pool, runId, { shared: true });
    const services = buildServices(config, factory, {
      journal,
      initial: await journal.load(),
      sharedBudget: new PostgresBudget(this.store.pool, runId, config.budget),
      sharedLimits: new PostgresLimits(this.store.pool, runId, fleetCaps(config, factory)),
    });
    const run: CodecRun = {
      config,
      factory,
      services,
      dedupe: { index: new NearDuplicateIndex(config.dedupeThreshold), primed: true },
      // A worker filters single instructions: waves and their spares are the driver's.
      waves: new WaveGate(),
      filtersHere: true,
    };
    return { run, graph: buildInstructionGraph({ ...deps, services }, "streaming") };
  }

  private async filter(input: WorkflowInput): Promise<InstructionResult> {
    const worker = this.options.workerId;
    const { run, graph } = await this.context(input.runId);
    this.inFlight++;
    try {
      const out = (await graph.invoke({ task: input.task as InstructionTask }, {
        context: run.config,
        configurable: { [RUN_KEY]: run },
        recursionLimit: RECURSION_LIMIT,
      } as LangGraphRunnableConfig)) as { outcomes: InstructionOutcome[]; usage: UsageTotals };
      const calls = totalCounts(out.usage).calls;
      this.calls += calls;
      return { worker, outcomes: out.outcomes, usage: out.usage, calls };
    } catch (error) {
      if (error instanceof RunStoppedError) {
        // This run's budget (or an endpoint down) stopped it here: a fresh context next time (a resume).
        this.runs.delete(input.runId);
        return { worker, stopped: error.stop };
      }
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await DBOS.shutdown();
    await this.store.close();
  }
}

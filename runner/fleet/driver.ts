/**
 * The driver side of a fleet (`codeclm generate --engine dbos`): the graph runs here as it does locally,
 * but each instruction's filtering is enqueued on DBOS's queue (workflow id = run id + instruction id, so
 * a re-send by a resumed driver finds the same workflow and creates nothing) and its result read back
 * from Postgres. Outcomes are decided, and stored exactly once, by the worker that ran the workflow;
 * the driver settles them in the seeded order and writes the files, as a local run would.
 */
import { DBOS, DBOSClient } from "@dbos-inc/dbos-sdk";
import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import type { Spend, UsageTotals } from "../../lib/accounts.js";
import type { CodecConfig } from "../../lib/config.js";
import { PostgresBudget, type SharedBudget } from "../../models/shared-budget.js";
import { redactSecrets } from "../../lib/redact.js";
import type { InstructionOutcome, InstructionTask } from "../../lib/tasks.js";
import { RunStoppedError } from "../../models/control.js";
import { type InstructionExecutor, runOf } from "../../nodes/runtime.js";
import { addFleetSummary } from "./summary.js";
import { FLEET, FleetStore, type WorkerRow, type WorkflowInput, workflowIdOf } from "./store.js";
import type { InstructionResult } from "./worker.js";

const DONE = ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"] as const;

interface Waiter {
  resolve: (result: InstructionResult) => void;
  reject: (error: unknown) => void;
}

/** What the progress line shows of the fleet. */
export interface FleetStatus {
  /** Workers that reported in the last few seconds, with their instructions in flight. */
  workers: WorkerRow[];
  /** This run's instructions waiting on the queue. */
  queued: number;
}

export interface DriverOptions {
  /** How often finished workflows are looked up (ms). */
  pollMs?: number;
  /** Told when instructions wait and no worker has reported for `idleWarnSeconds`, and when one is back. */
  onWarning?: (message: string) => void;
  /** How long instructions may wait with no worker alive before `onWarning` (s; default 15). */
  idleWarnSeconds?: number;
}

export class FleetDriver {
  private readonly waiting = new Map<string, Waiter>();
  private readonly stored = new Map<string, Promise<void>>();
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly budgets: SharedBudget[] = [];
  private polling = false;
  private watching: NodeJS.Timeout | undefined;
  private lastNotice: string | undefined;
  /** Filtering calls by the worker that made them, from the results this driver read. */
  readonly callsByWorker = new Map<string, number>();

  private watchdog: NodeJS.Timeout | undefined;
  /** When the driver last saw a worker alive while it waited (ms), and whether it has said none is. */
  private lastAlive = Date.now();
  private warnedIdle = false;

  private constructor(
    private readonly client: DBOSClient,
    private readonly store: FleetStore,
    private readonly options: DriverOptions,
  ) {}

  private get pollMs(): number {
    return this.options.pollMs ?? 50;
  }

  /** Migrate DBOS's schema (once, here: workers starting together on an empty database would race) and connect. */
  static async open(url: string, options: DriverOptions = {}): Promise<FleetDriver> {
    try {
      await DBOS.migrate(url);
    } catch (error) {
      throw new Error(`cannot set up DBOS in the fleet's database: ${redactSecrets((error as Error).message)}`);
    }
    const store = await FleetStore.open(url);
    const client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: FLEET.app });
    return new FleetDriver(client, store, options);
  }

  /** The graph's per-instruction work (GraphDeps.instructionExecutor). */
  readonly executor: InstructionExecutor = (task, runnable) => this.execute(task, runnable);

  private async execute(
    task: InstructionTask,
    runnable: LangGraphRunnableConfig,
  ): Promise<{ outcomes: InstructionOutcome[]; usage: UsageTotals }> {
    const run = runOf(runnable);
    const runId = runnable.configurable?.thread_id as string | undefined;
    if (!runId) throw new Error("--engine dbos needs a run id (thread_id): run it through runToFiles");
    await this.storeSettings(runId, run.config);
    for (let attempt = 0; ; attempt++) {
      const id = workflowIdOf(runId, attempt === 0 ? task.id : `${task.id}:again${attempt}`);
      const input: WorkflowInput = { runId, task };
      const handle = await this.client.enqueue(
        { queueName: FLEET.queue, workflowName: FLEET.workflow, workflowID: id, appVersion: FLEET.version },
        input,
      );
      // Cancelled when an earlier session of the driver stopped before a worker took it: queue it again.
      if ((await this.client.getWorkflow(id))?.status === "CANCELLED")
        await this.client.resumeWorkflow(id, { queueName: FLEET.queue });
      const result = await this.result(handle.workflowID, runnable.signal);
      if ("stopped" in result) {
        // Stopped in an earlier session (a budget since raised): send it again under the next id.
        const status = await this.client.getWorkflow(id);
        if (status && status.createdAt < this.started) continue;
        run.services.control.stop(result.stopped);
        throw new RunStoppedError(result.stopped);
      }
      this.callsByWorker.set(result.worker, (this.callsByWorker.get(result.worker) ?? 0) + result.calls);
      return {
        outcomes: result.outcomes.map((outcome) => ({ ...outcome, decidedBy: result.worker })),
        usage: result.usage,
      };
    }
  }

  private storeSettings(runId: string, config: CodecConfig): Promise<void> {
    let stored = this.stored.get(runId);
    if (!stored) {
      stored = this.store.putSettings(runId, config);
      this.stored.set(runId, stored);
    }
    return stored;
  }

  /**
   * Resolves with the workflow's result: one query per poll for every instruction awaited, not one each.
   * An aborted graph task (another instruction failed, Ctrl-C) stops waiting; the workflow is left to the fleet.
   */
  private result(id: string, signal?: AbortSignal): Promise<InstructionResult> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
      const onAbort = () => {
        this.waiting.delete(id);
        reject(signal?.reason ?? new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const forget = () => signal?.removeEventListener("abort", onAbort);
      this.waiting.set(id, {
        resolve: (result) => (forget(), resolve(result)),
        reject: (error) => (forget(), reject(error)),
      });
      this.timer ??= setInterval(() => void this.poll(), this.pollMs);
      if (!this.watchdog) {
        this.lastAlive = Date.now();
        this.watchdog = setInterval(() => void this.watchWorkers(), 2000);
        this.watchdog.unref();
      }
    });
  }

  /** Silence is a bug: instructions waiting on a fleet with no worker alive are said, not waited on quietly. */
  private async watchWorkers(): Promise<void> {
    const limit = (this.options.idleWarnSeconds ?? 15) * 1000;
    try {
      const alive = (await this.store.workers()).filter((worker) => worker.ageSeconds <= 5);
      if (alive.length > 0 || this.waiting.size === 0) {
        if (this.warnedIdle && alive.length > 0)
          this.options.onWarning?.(`fleet: ${alive.length} worker(s) alive again; the run goes on`);
        this.warnedIdle = false;
        this.lastAlive = Date.now();
        return;
      }
      if (this.warnedIdle || Date.now() - this.lastAlive < limit) return;
      this.warnedIdle = true;
      this.options.onWarning?.(
        `fleet: ${this.waiting.size} instruction(s) wait and no worker has reported for ${Math.round((Date.now() - this.lastAlive) / 1000)} s: ` +
          "start one with `codeclm worker --checkpoint <this database> --worker-id ID` (the run waits for it)",
      );
    } catch {
      // the next look may succeed; the run does not depend on it
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const ids = [...this.waiting.keys()];
      if (ids.length === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      const done = await this.client.listWorkflows({ workflowIDs: ids, status: [...DONE], loadOutput: true });
      for (const status of done) this.settle(status.workflowID, status.status, status.output, status.error);
    } catch (error) {
      for (const [id, waiter] of this.waiting) {
        this.waiting.delete(id);
        waiter.reject(error);
      }
    } finally {
      this.polling = false;
    }
  }

  private settle(id: string, status: string, output: unknown, error: unknown): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.waiting.delete(id);
    if (status === "SUCCESS") waiter.resolve(output as InstructionResult);
    else
      waiter.reject(
        error instanceof Error ? error : new Error(`instruction workflow ${id} ended ${status}: ${String(error)}`),
      );
  }

  /** The run's budget, shared with every worker (GraphDeps' `sharedBudget` for runToFiles). */
  readonly budgetFor = (runId: string, config: CodecConfig, paidBefore: Spend): SharedBudget => {
    const budget = new PostgresBudget(this.store.pool, runId, config.budget, paidBefore);
    this.budgets.push(budget);
    return budget;
  };

  /** Workers seen in the last `aliveSeconds`, and this run's instructions still queued. */
  async status(runId: string, aliveSeconds = 5): Promise<FleetStatus> {
    const workers = (await this.store.workers()).filter((worker) => worker.ageSeconds <= aliveSeconds);
    const queued = await this.client.listWorkflows({
      workflow_id_prefix: `${runId}:`,
      status: "ENQUEUED",
      loadInput: false,
      loadOutput: false,
    });
    return { workers, queued: queued.length };
  }

  /**
   * For the progress line: the fleet as last looked up (once a second, in the background), e.g.
   * "fleet: 2 workers (w1 3, w2 4 in flight) · queue 5". Undefined until the first look-up.
   */
  readonly notice = (runId: string): string | undefined => {
    if (!this.watching) {
      this.watching = setInterval(() => void this.look(runId), 1000);
      this.watching.unref();
      void this.look(runId);
    }
    return this.lastNotice;
  };

  private async look(runId: string): Promise<void> {
    try {
      const { workers, queued } = await this.status(runId);
      const each = workers.map((worker) => `${worker.workerId} ${worker.inFlight}`).join(", ");
      this.lastNotice = `fleet: ${workers.length} worker${workers.length === 1 ? "" : "s"}${each ? ` (${each} in flight)` : ""} · queue ${queued}`;
    } catch {
      // the next look-up may succeed; the run does not depend on it
    }
  }

  /** Instructions decided and filtering calls made, by worker: from the run's finished workflows (each counted once). */
  async byWorker(runId: string): Promise<Record<string, { instructions: number; calls: number }>> {
    const done = await this.client.listWorkflows({
      workflow_id_prefix: `${runId}:`,
      status: "SUCCESS",
      loadInput: false,
      loadOutput: true,
    });
    const tally: Record<string, { instructions: number; calls: number }> = {};
    for (const status of done) {
      const result = status.output as InstructionResult | undefined;
      if (!result || "stopped" in result) continue;
      const entry = (tally[result.worker] ??= { instructions: 0, calls: 0 });
      entry.instructions++;
      entry.calls += result.calls;
    }
    return tally;
  }

  /** The summary file gets the fleet's part: instructions and calls by worker. */
  async recordSummary(path: string, runId: string): Promise<void> {
    await addFleetSummary(path, { engine: "dbos", byWorker: await this.byWorker(runId) });
  }

  /** A finished run's settings are no longer needed. */
  async forget(runId: string): Promise<void> {
    await this.store.forgetRun(runId);
  }

  /**
   * A driver that stops (a budget, Ctrl-C) takes its runs' instructions that no worker has started off the
   * queue, so the fleet does not go on spending for a run nobody waits for; a resume queues them again.
   */
  private async withdraw(): Promise<void> {
    for (const runId of this.stored.keys()) {
      const queued = await this.client.listWorkflows({
        workflow_id_prefix: `${runId}:`,
        status: "ENQUEUED",
        loadInput: false,
        loadOutput: false,
      });
      if (queued.length > 0) await this.client.cancelWorkflows(queued.map((workflow) => workflow.workflowID));
    }
  }

  async close(): Promise<void> {
    await this.withdraw().catch(() => {});
    if (this.timer) clearInterval(this.timer);
    if (this.watching) clearInterval(this.watching);
    if (this.watchdog) clearInterval(this.watchdog);
    for (const [id, waiter] of this.waiting) {
      this.waiting.delete(id);
      waiter.reject(new Error("the fleet driver was closed"));
    }
    await Promise.all(this.budgets.map((budget) => budget.flush()));
    await this.client.destroy();
    await this.store.close();
  }
}

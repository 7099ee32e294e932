import type { Callbacks } from "@langchain/core/callbacks/manager";
import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { truncate, writeFile } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { type CodecGraphOptions, createCodecGraph } from "../graphs/codeclm.js";
import { buildServices, factoryFor } from "../nodes/runtime.js";
import { NearDuplicateIndex } from "../lib/dedupe.js";
import { type Progress, emptyProgress } from "../lib/tasks.js";
import { filters } from "../lib/ablation.js";
import { type CodecConfig, type CodecConfigInput, SettingsError, inputProblems, resolveConfig } from "../lib/config.js";
import { estimateRun } from "../lib/estimate.js";
import { priceFor } from "../lib/prices.js";
import type { DroppedRecord, KeptPair, Metadata, Seed } from "../lib/records.js";
import type { SeedSelection } from "../lib/seed-sample.js";
import { errorMessage } from "../lib/redact.js";
import { poolMakeup } from "../lib/pool.js";
import { type RunSummary, buildSummary } from "../lib/summary.js";
import { emptyUsage, mergeUsage, type UsageTotals } from "../lib/usage.js";
import { RunControl, type StopInfo } from "../models/control.js";
import { strongTargetWarnings } from "../models/factory.js";
import type { LedgerSnapshot } from "../lib/budget.js";
import type { EndpointSnapshot } from "../models/scheduler.js";
import { type CheckpointSpec, type Durable, describeCheckpoint, openDurable } from "./durable.js";
import { type OutputLock, acquireOutputLock } from "./lock.js";
import { type OutputPaths, RunWriter, createOutputFolders, writeTextAtomic } from "./output.js";
import { reconcileFromCheckpoints } from "./reconcile.js";
import { indexFromOutputs } from "./run-index.js";
import { type RunState, type RunStatus, dataSettings, readRunState, runFingerprint, settingChanges, writeRunState } from "./run-state.js";

/** Live figures for progress displays: records, per-iteration counts, calls, tokens, cost, limits. */
export interface ProgressSnapshot {
  runId: string;
  size: number;
  /** Pairs in the output file. */
  kept: number;
  keptPerIteration: Record<string, number>;
  reverseKept: number;
  /** Records in the dropped file, and instruction drops by reason. */
  dropped: number;
  droppedByReason: Record<string, number>;
  failures: number;
  instructions: { decoded: number; filtered: number; inWave: number };
  calls: number;
  inFlight: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  costComplete: boolean;
  faults: Record<string, number>;
  malformed: number;
  replayed: number;
  /** This session's time so far. */
  elapsedMs: number;
  /** Calls the dry-run estimate expects for the whole run (for an ETA before the first pairs are kept). */
  expectedCalls: number;
  /** Calls when this session started (a resumed run has spent some already). */
  callsAtStart: number;
  endpoints: EndpointSnapshot[];
  /** Short notices that must stay visible on the progress line (e.g. "mix-and-match off"). */
  notices?: string[];
}

/** What a run reports as it goes: the CLI renders these, an agent tool may ignore them. */
export type RunEvent =
  | { type: "start"; runId: string; resumed: boolean; size: number; checkpoint: string; recovered: { kept: number; dropped: number } }
  | { type: "node"; node: string }
  | { type: "kept"; pairs: KeptPair[]; total: number }
  | { type: "dropped"; records: DroppedRecord[]; total: number }
  | { type: "progress"; progress: ProgressSnapshot }
  | { type: "stopping"; stop: StopInfo; inFlight: number }
  /** Something the user must know while the run goes on (e.g. mix-and-match was switched off). */
  | { type: "warning"; message: string }
  | { type: "summary"; summary: RunSummary; resume?: string };

export interface RunOptions {
  /** Seeds (with `seedSelection` when the caller merged and sampled them already) or user-written metadata. */
  input: { seeds: Seed[]; seedSelection?: SeedSelection } | { metadata: Metadata[] };
  config: CodecConfigInput;
  paths: OutputPaths;
  graph?: Omit<CodecGraphOptions, "retainRecords" | "services" | "dedupe" | "checkpointer">;
  /** Id of a fresh run (default: a new UUID); a UUID is also the root run id in traces. */
  runId?: string;
  /** Callback handlers for the graph run: a LangSmith tracer, or the callbacks of an agent calling this as a tool. */
  callbacks?: Callbacks;
  /** Where checkpoints and the call journal go (default: SQLite at `paths.checkpoint`). */
  checkpoint?: CheckpointSpec;
  /** Continue the run these outputs belong to (true), or the run with this id. */
  resume?: boolean | string;
  /** Stop control: `stop` for a clean stop (Ctrl-C), `abortNow` to also cancel calls in flight. */
  control?: RunControl;
  /** Aborting it stops the run cleanly (like `control.stop`). */
  signal?: AbortSignal;
  /** What to tell the user to type to resume (the CLI passes its own command line). */
  resumeCommand?: (runId: string) => string;
  /** The lock of `paths.lock`, when the caller took it already (default: taken here, released at the end). */
  outputLock?: OutputLock;
  /** Keep checkpoints and journal after the run completes (default: removed, they are no longer needed). */
  keepCheckpoints?: boolean;
  progressIntervalMs?: number;
  /** Jitter source for retries (tests). */
  random?: () => number;
  onEvent?: (event: RunEvent) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Graph tasks running at once: enough to keep `concurrency` calls busy (a task makes one or two calls at a time). */
export const taskConcurrency = (concurrency: number) => Math.max(2, 4 * concurrency);

/** A run that cannot start or resume as asked (nothing to resume, different settings): nothing was spent. */
export class RunSetupError extends Error {}

type NodeUpdate =
  | {
      kept?: KeptPair[];
      dropped?: DroppedRecord[];
      summary?: Record<string, unknown>;
      progress?: Progress;
      usage?: UsageTotals;
      decodedCount?: number;
      waveStart?: number;
      waveEnd?: number;
      runId?: string;
      startedAt?: number;
      round?: number;
      poolStats?: Record<string, number>;
      seedSelection?: SeedSelection;
      tally?: Record<string, number>;
    }
  | null
  | undefined;

/** What the runner knows of the graph state: enough for progress and for the summary of a stopped run. */
interface Tracked {
  runId: string;
  startedAt?: number;
  progress: Progress;
  usage: UsageTotals;
  decoded: number;
  waveStart: number;
  waveEnd: number;
  round: number;
  poolStats: Record<string, number>;
  seedSelection?: SeedSelection;
  tally: Record<string, number>;
}

function track(tracked: Tracked, update: NonNullable<NodeUpdate>): void {
  if (update.progress) tracked.progress = update.progress;
  if (update.usage) tracked.usage = mergeUsage(tracked.usage, update.usage);
  if (typeof update.decodedCount === "number") tracked.decoded += update.decodedCount;
  if (typeof update.waveStart === "number") tracked.waveStart = update.waveStart;
  if (typeof update.waveEnd === "number") tracked.waveEnd = update.waveEnd;
  if (typeof update.round === "number") tracked.round = Math.max(tracked.round, update.round);
  if (typeof update.startedAt === "number") tracked.startedAt = update.startedAt;
  if (update.poolStats) tracked.poolStats = update.poolStats;
  if (update.seedSelection) tracked.seedSelection = update.seedSelection;
  if (update.tally) {
    for (const [key, value] of Object.entries(update.tally)) tracked.tally[key] = (tracked.tally[key] ?? 0) + value;
  }
}

function stoppedSummary(
  tracked: Tracked,
  config: CodecConfig,
  stop: StopInfo,
  options: { models: RunSummary["models"]; ledger: LedgerSnapshot; resumable: boolean; warnings: string[] },
): RunSummary {
  const state = {
    runId: tracked.runId,
    startedAt: tracked.startedAt,
    progress: tracked.progress,
    usage: tracked.usage,
    decodedCount: tracked.decoded,
    round: tracked.round,
    poolStats: tracked.poolStats,
    seedSelection: tracked.seedSelection,
    tally: tracked.tally,
  } as unknown as Parameters<typeof buildSummary>[0];
  const reason = `stopped: ${stop.message}${options.resumable ? "" : " (not resumable: no checkpoints were kept)"}`;
  return buildSummary(state, config, { stopReason: reason, models: options.models, finishedAt: Date.now(), stopped: true, ledger: options.ledger, warnings: options.warnings });
}

async function resolveRun(options: RunOptions, config: CodecConfig, durable: Durable, fingerprint: string): Promise<{ runId: string; resumed: boolean; previous?: RunState }> {
  const previous = await readRunState(options.paths.state);
  if (!options.resume) return { runId: options.runId ?? randomUUID(), resumed: false, previous };
  if (durable.spec.kind === "none") throw new RunSetupError("--resume needs checkpoints: --checkpoint none keeps none");
  const runId = typeof options.resume === "string" ? options.resume : previous?.runId;
  if (!runId) throw new RunSetupError(`there is no run to resume for ${options.paths.kept} (no ${options.paths.state}); pass the run id: --resume RUN_ID`);
  const same = previous?.runId === runId ? previous : undefined;
  if (same?.status === "complete") throw new RunSetupError(`run ${runId} is complete: nothing to resume (see ${options.paths.summary})`);
  // What the run was started with, as its journal recorded it (or the run-state file beside the output).
  const recorded = (await (await durable.journal(runId))?.run()) ?? (same ? { fingerprint: same.fingerprint, settings: same.settings } : undefined);
  const tuple = await durable.saver!.getTuple({ configurable: { thread_id: runId } });
  if (!tuple && !recorded) throw new RunSetupError(`no checkpoints for run ${runId} in ${describeCheckpoint(durable.spec)}`);
  if (recorded && recorded.fingerprint !== fingerprint) {
    const changes = settingChanges(recorded.settings ?? {}, dataSettings(config));
    throw new RunSetupError(
      `run ${runId} was started with other settings or input${changes.length > 0 ? `: ${changes.join("; ")}` : " (the seeds or metadata differ)"}. ` +
        "Resume with the original ones, or start a new run (--force).",
    );
  }
  return { runId, resumed: true, previous: same ?? previous };
}

/**
 * Run the graph and stream its results to files. Kept pairs and drops are appended as the graph decides
 * them (they are not kept in graph state, so memory stays flat); with checkpoints (SQLite by default),
 * a run that crashed, was killed or stopped continues with `resume`, paying again for at most the calls
 * that were in flight, and the files end with no duplicate and no missing record. A budget reached, an
 * endpoint that stays down, or `control.stop()` end the run cleanly with status "stopped".
 */
export async function runToFiles(options: RunOptions): Promise<RunSummary> {
  const { paths } = options;
  const checkpointFile = options.checkpoint?.kind === "sqlite" ? [options.checkpoint.path] : options.checkpoint ? [] : [paths.checkpoint];
  await createOutputFolders([paths.lock, paths.kept, paths.dropped, paths.summary, paths.state, ...checkpointFile]);
  // One writer per output set: a second process (fresh, --resume or --force) is refused here.
  const lock = options.outputLock ?? (await acquireOutputLock(paths.lock, "codeclm generate"));
  try {
    return await writeRun(options);
  } finally {
    if (lock !== options.outputLock) await lock.release();
  }
}

/**
 * The run-state file says "failed", with the reason (and, from `base`, the resume command). On a full
 * disk the usual whole-file write may fail: then the state is rewritten in place, which needs no new
 * space; a temporary file is never left behind.
 */
async function saveFailedState(path: string, state: RunState): Promise<void> {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  try {
    await writeTextAtomic(path, text);
  } catch {
    try {
      await writeFile(path, text, { flag: "r+" });
      await truncate(path, Buffer.byteLength(text));
    } catch {
      // Nothing more can be done; the error itself is reported to the user.
    }
  }
}

async function writeRun(options: RunOptions): Promise<RunSummary> {
  // LangGraph composes one abort signal per superstep that every running task listens on: hundreds at a
  // time here, which is expected, not a leak. Node would warn past 10.
  setMaxListeners(0);
  const config = resolveConfig(options.config);
  const impossible = inputProblems(config, "seeds" in options.input ? { seeds: options.input.seeds.length } : { metadata: options.input.metadata.length });
  if (impossible.length > 0) throw new SettingsError(`Invalid codeclm configuration: ${impossible.join("; ")}`);
  const defaultSpec: CheckpointSpec = { kind: "sqlite", path: options.paths.checkpoint };
  const spec = options.checkpoint ?? defaultSpec;
  let completed = false;
  const fingerprint = runFingerprint(config, options.input);
  const durable = await openDurable(spec);
  const control = options.control ?? new RunControl();
  let writer: RunWriter | undefined;
  // Set once the run-state file says "running": any error after that leaves it saying "failed".
  let markFailed: ((error: unknown) => Promise<void>) | undefined;
  try {
    const { runId, resumed, previous } = await resolveRun(options, config, durable, fingerprint);
    const thread = { configurable: { thread_id: runId } };
    const resumeCommand = options.resumeCommand?.(runId) ?? `runToFiles({ ..., resume: "${runId}" })`;
    const resumable = durable.spec.kind !== "none";

    if (!resumed && previous && previous.runId !== runId && durable.spec.kind !== "none") {
      // Outputs are being overwritten (--force): the old run's checkpoints are of no further use.
      await durable.forget(previous.runId).catch(() => {});
    }

    const files = new RunWriter(options.paths);
    writer = files;
    await files.open({ append: resumed });
    const recovered = resumed && durable.saver ? await reconcileFromCheckpoints(durable.saver, runId, files) : { kept: 0, dropped: 0 };

    const journal = await durable.journal(runId);
    await journal?.recordRun({ fingerprint, settings: dataSettings(config) });
    const initial = journal && resumed ? await journal.load() : undefined;
    const factory = factoryFor(options.graph ?? {}, config);
    const services = buildServices(config, factory, {
      control,
      ...(journal ? { journal } : {}),
      ...(initial ? { initial } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
    // This run's services and near-duplicate index (a resumed run's holds every instruction its files hold).
    const dedupe = resumed ? await indexFromOutputs(options.paths, config.dedupeThreshold) : new NearDuplicateIndex(config.dedupeThreshold);
    const graph = createCodecGraph({ ...options.graph, retainRecords: false, services, dedupe, ...(durable.saver ? { checkpointer: durable.saver } : {}) });
    const models = { strong: factory.describe("strong"), target: factory.describe("target"), judge: factory.describe("judge") };

    const tracked: Tracked = {
      runId,
      progress: emptyProgress(),
      usage: emptyUsage(),
      decoded: 0,
      waveStart: 0,
      waveEnd: 0,
      round: 0,
      poolStats: {},
      tally: {},
    };
    const existing = resumed ? await graph.getState(thread) : undefined;
    const fromCheckpoint = existing !== undefined && existing.config?.configurable?.checkpoint_id !== undefined && Object.keys(existing.values ?? {}).length > 0;
    if (fromCheckpoint) {
      const values = existing.values as Record<string, unknown>;
      track(tracked, { ...(values as NonNullable<NodeUpdate>), decodedCount: undefined, tally: undefined, usage: undefined });
      tracked.decoded = (values.decodedCount as number | undefined) ?? 0;
      tracked.usage = (values.usage as UsageTotals | undefined) ?? emptyUsage();
      tracked.tally = { ...((values.tally as Record<string, number> | undefined) ?? {}) };
    }

    const startedAt = new Date().toISOString();
    const baseState: RunState = {
      runId,
      status: "running",
      checkpoint: describeCheckpoint(durable.spec),
      fingerprint,
      settings: dataSettings(config),
      startedAt: previous?.runId === runId ? previous.startedAt : startedAt,
      updatedAt: startedAt,
      sessions: (previous?.runId === runId ? previous.sessions : 0) + 1,
      resume: resumable ? resumeCommand : undefined,
    };
    const saveState = (status: RunStatus, extra: Partial<RunState> = {}) =>
      writeRunState(options.paths.state, { ...baseState, ...extra, status, updatedAt: new Date().toISOString(), kept: files.keptCount });
    await saveState("running");
    markFailed = (error) =>
      saveFailedState(options.paths.state, { ...baseState, status: "failed", error: errorMessage(error), updatedAt: new Date().toISOString(), kept: files.keptCount });

    options.onEvent?.({ type: "start", runId, resumed, size: config.size, checkpoint: describeCheckpoint(durable.spec), recovered });
    const estimate = estimateRun(
      "seeds" in options.input
        ? { seeds: { count: options.input.seeds.length, meanChars: options.input.seeds.reduce((sum, seed) => sum + seed.instruction.length, 0) / Math.max(1, options.input.seeds.length) } }
        : { metadata: options.input.metadata.length },
      config,
    );
    const roles = [config.strong.model, config.target.model, (config.judge ?? config.strong).model];
    const costComplete = !options.graph?.models && roles.every((model) => priceFor(model, config.prices) !== undefined);
    const mixNotice = (): string[] => {
      const { mixAndMatch } = poolMakeup(tracked.poolStats, config.plausibilityAlertShare);
      return mixAndMatch === "off" || mixAndMatch === "partly off" ? [`mix-and-match ${mixAndMatch}`] : [];
    };
    const sessionStart = Date.now();
    const callsAtStart = services.ledger.snapshot().spent.calls;
    const snapshot = (): ProgressSnapshot => {
      const ledger = services.ledger.snapshot();
      return {
        runId,
        size: config.size,
        kept: files.keptCount,
        keptPerIteration: tracked.progress.keptPerIteration,
        reverseKept: tracked.progress.reverseKept,
        dropped: files.droppedCount,
        droppedByReason: tracked.progress.droppedByReason,
        failures: Object.values(tracked.progress.failuresByStep).reduce((a, b) => a + b, 0) + Object.entries(tracked.tally).filter(([key]) => key.startsWith("failed:")).reduce((a, [, b]) => a + b, 0),
        instructions: { decoded: tracked.decoded, filtered: tracked.progress.finished, inWave: tracked.waveEnd - tracked.waveStart },
        calls: ledger.spent.calls,
        inFlight: ledger.inFlight,
        inputTokens: ledger.spent.inputTokens,
        outputTokens: ledger.spent.outputTokens,
        costUsd: ledger.spent.costUsd,
        costComplete: costComplete && Object.values(ledger.byModel).every((spend) => spend.priced),
        faults: ledger.faults as Record<string, number>,
        malformed: ledger.malformed,
        replayed: ledger.replayed,
        elapsedMs: Date.now() - sessionStart,
        expectedCalls: estimate.total.calls,
        callsAtStart,
        endpoints: services.scheduler.snapshot(),
        notices: mixNotice(),
      };
    };
    const timer = options.onEvent
      ? setInterval(() => options.onEvent?.({ type: "progress", progress: snapshot() }), options.progressIntervalMs ?? 1000)
      : undefined;
    timer?.unref();
    const onExternalAbort = () => control.stop({ kind: "interrupt", message: "interrupted" });
    options.signal?.addEventListener("abort", onExternalAbort, { once: true });
    if (options.signal?.aborted) onExternalAbort();
    control.onStop((stop) => options.onEvent?.({ type: "stopping", stop, inFlight: services.scheduler.inFlight }));

    // A crash after the graph ended but before the files were finished: the summary is in the state.
    let summary: RunSummary | undefined =
      fromCheckpoint && existing.next.length === 0 ? ((existing.values as { summary?: RunSummary }).summary ?? undefined) : undefined;
    const consume = async (): Promise<RunSummary | undefined> => {
      let result: RunSummary | undefined;
      const stream = await graph.stream(fromCheckpoint ? null : { ...options.input, runId }, {
        context: config,
        configurable: { thread_id: runId },
        streamMode: "updates",
        signal: control.graphSignal,
        // Start fan-out tasks a few at a time rather than thousands at once (memory, event-loop stalls).
        // Safe only with a checkpointer that does not save "finished with no writes" (runner/saver.ts).
        maxConcurrency: taskConcurrency(config.concurrency),
        callbacks: options.callbacks,
        // The trace's root run is the run id, once: a resumed session traces under a new root.
        ...(!resumed && !fromCheckpoint && UUID.test(runId) ? { runId } : {}),
      });
      for await (const chunk of stream as AsyncIterable<Record<string, NodeUpdate>>) {
        for (const [node, update] of Object.entries(chunk)) {
          if (node === "__metadata__") continue;
          options.onEvent?.({ type: "node", node });
          if (!update) continue;
          track(tracked, update);
          const warning = update.poolStats ? poolMakeup(update.poolStats, config.plausibilityAlertShare).warning : undefined;
          if (warning) options.onEvent?.({ type: "warning", message: warning });
          if (update.kept && update.kept.length > 0) {
            const fresh = await files.writeKept(update.kept);
            if (fresh.length > 0) options.onEvent?.({ type: "kept", pairs: fresh, total: files.keptCount });
          }
          if (update.dropped && update.dropped.length > 0) {
            const fresh = await files.writeDropped(update.dropped);
            if (fresh.length > 0) options.onEvent?.({ type: "dropped", records: fresh, total: files.droppedCount });
          }
          if (update.summary) result = update.summary as unknown as RunSummary;
        }
      }
      return result;
    };
    let failure: unknown;
    try {
      if (!summary) summary = await consume();
    } catch (error) {
      failure = error;
    } finally {
      if (timer) clearInterval(timer);
      options.signal?.removeEventListener("abort", onExternalAbort);
    }

    // A node that failed stops the run through the control (graphs/guard.ts): that is a failure, not a stop.
    if (control.stopped?.kind === "failed") failure = control.error ?? failure;
    const stop = control.stopped?.kind === "failed" ? undefined : control.stopped;
    if (stop || failure) {
      // Let the calls in flight finish and be recorded, so a resumed run does not pay for them again.
      if (!control.requestSignal.aborted) {
        const bound = new Promise((resolve) => setTimeout(resolve, config.timeoutSeconds * 1000 + 1000).unref());
        await Promise.race([services.scheduler.idle(), bound]);
      }
      await journal?.flush();
    }
    options.onEvent?.({ type: "progress", progress: snapshot() });
    if (stop) {
      const stopped = stoppedSummary(tracked, config, stop, {
        models,
        ledger: services.ledger.snapshot(),
        resumable,
        warnings: strongTargetWarnings(factory, filters(config.ablation)),
      });
      await files.writeSummary(stopped);
      await saveState("stopped", { stopReason: stopped.stopReason });
      options.onEvent?.({ type: "summary", summary: stopped, ...(resumable ? { resume: resumeCommand } : {}) });
      return stopped;
    }
    if (failure) throw failure;
    if (!summary) throw new Error("the graph ended without a summary");
    await journal?.flush();
    await files.writeSummary(summary);
    await saveState(summary.status, { stopReason: summary.stopReason });
    if (summary.status === "complete" && !options.keepCheckpoints) {
      await durable.forget(runId);
      // The default checkpoint file beside the output goes too once it holds nothing.
      completed = spec.kind === "sqlite" && resolvePath(spec.path) === resolvePath(defaultSpec.path);
    }
    options.onEvent?.({ type: "summary", summary });
    return summary;
  } catch (error) {
    await markFailed?.(error);
    throw error;
  } finally {
    await writer?.close();
    await durable.close({ removeIfEmpty: completed });
  }
}

/**
 * How `generate` shows a run: a live display on a terminal (log-update), a plain line every so often
 * when stderr is not a terminal, machine-readable events on stdout with `--json`, or nothing with
 * `--quiet`. All of it is driven by the runner's events; nothing here touches the graph.
 */
import { createLogUpdate } from "log-update";
import type { ProgressSnapshot, RunEvent } from "../runner/run.js";

export type ProgressMode = "tty" | "plain" | "json" | "quiet";

const count = (n: number): string => {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return Math.round(n).toLocaleString("en-US");
};

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/**
 * Time left: calls still needed over the call rate of this session. Calls needed are extrapolated from
 * calls per kept pair once pairs are kept, and taken from the dry-run estimate before that.
 */
export function etaMs(p: ProgressSnapshot): number | undefined {
  if (p.kept >= p.size) return 0;
  const sessionCalls = p.calls - p.callsAtStart;
  if (sessionCalls < 10 || p.elapsedMs < 2000) return undefined;
  const rate = sessionCalls / p.elapsedMs;
  const projected = p.kept > 0 ? (p.calls / p.kept) * p.size : p.expectedCalls;
  return Math.max(0, projected - p.calls) / rate;
}

const tallies = (record: Record<string, number>) =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key} ${n}`)
    .join(", ");

function money(p: ProgressSnapshot): string {
  if (p.costUsd === 0 && !p.costComplete) return "cost unknown";
  return `$${p.costUsd.toFixed(2)}${p.costComplete ? "" : "+"}`;
}

function faultLine(p: ProgressSnapshot): string {
  const total = Object.values(p.faults).reduce((a, b) => a + b, 0);
  const parts = [
    total > 0 ? `retries ${total} (${tallies(p.faults)})` : "",
    p.malformed > 0 ? `malformed ${p.malformed}` : "",
    p.replayed > 0 ? `replayed ${p.replayed}` : "",
  ];
  return parts.filter(Boolean).join(" · ");
}

function bar(fraction: number, width = 24): string {
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `${"█".repeat(full)}${"░".repeat(width - full)}`;
}

/** Notices that must stay visible, e.g. " · MIX-AND-MATCH OFF". */
const notices = (p: ProgressSnapshot): string =>
  (p.notices ?? []).length > 0 ? ` · ${p.notices!.join(" · ").toUpperCase()}` : "";

/** With `batch` on: " · batches 7 submitted, 2 pending, 5 done (40 calls gathered)". */
function batchPart(p: ProgressSnapshot): string {
  const b = p.batches;
  if (!b) return "";
  const failed = b.failed > 0 ? `, ${b.failed} FAILED` : "";
  const lineErrors = b.lineErrors > 0 ? `, ${b.lineErrors} lines resent single` : "";
  return ` · batches ${b.submitted} submitted, ${b.pending} pending, ${b.completed} done${failed} (${b.queued} calls gathered${lineErrors})`;
}

/**
 * Decoded instructions not yet sent to filtering (decode ahead): sent only if the run still needs them;
 * those left when it ends are the summary's `instructions.notNeeded`, and cost no answer or judge call.
 */
const decodedAhead = (p: ProgressSnapshot): number =>
  Math.max(0, p.instructions.decoded - p.instructions.filtered - p.instructions.inWave);

/** The live display: a few lines redrawn in place. */
export function renderProgress(p: ProgressSnapshot): string {
  const eta = etaMs(p);
  const percent = Math.floor((100 * p.kept) / Math.max(1, p.size));
  const perIteration = Object.entries(p.keptPerIteration)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([iteration, n]) => `${iteration}:${n}`)
    .join(" ");
  const endpoints = p.endpoints
    .map((e) => {
      const name = e.key.split("|").at(-1) ?? e.key;
      const state =
        e.breaker !== "closed"
          ? ` ${e.breaker === "open" ? "PAUSED" : "probing"}`
          : e.limit < e.max && e.lastChange
            ? ` (${e.lastChange})`
            : "";
      return `${name} ${e.active}/${e.limit}${state}`;
    })
    .join(" · ");
  const rate = p.elapsedMs > 0 ? ((p.calls - p.callsAtStart) * 1000) / p.elapsedMs : 0;
  const lines = [
    `codeclm ${bar(p.kept / Math.max(1, p.size))} ${p.kept}/${p.size} kept ${percent}%  ETA ${eta === undefined ? "…" : duration(eta)}  (${duration(p.elapsedMs)})${notices(p)}`,
    `  kept by iteration ${perIteration || "-"} · reverse-kept ${p.reverseKept} · dropped ${p.dropped}${Object.keys(p.droppedByReason).length ? ` (${tallies(p.droppedByReason)})` : ""}`,
    `  calls ${count(p.calls)} (${p.inFlight} in flight, ${rate.toFixed(1)}/s) · tokens ${count(p.inputTokens)} in / ${count(p.outputTokens)} out · ${money(p)}${batchPart(p)}`,
    `  filtering ${p.instructions.inWave} instructions (${p.instructions.filtered} of ${p.instructions.decoded} decoded done, ${decodedAhead(p)} waiting)${endpoints ? ` · ${endpoints}` : ""}`,
  ];
  const faults = faultLine(p);
  if (faults) lines.push(`  ${faults}`);
  return lines.join("\n");
}

/** One line for logs (stderr not a terminal). */
export function progressLine(p: ProgressSnapshot): string {
  const eta = etaMs(p);
  const faults = faultLine(p);
  return (
    `codeclm: kept ${p.kept}/${p.size} · dropped ${p.dropped} · instructions ${p.instructions.filtered} filtered, ${p.instructions.inWave} filtering, ${decodedAhead(p)} waiting · calls ${p.calls} (${p.inFlight} in flight)${batchPart(p)} · ` +
    `tokens ${count(p.inputTokens)} in/${count(p.outputTokens)} out · ${money(p)}${faults ? ` · ${faults}` : ""} · ` +
    `elapsed ${duration(p.elapsedMs)}${eta === undefined ? "" : ` · ETA ${duration(eta)}`}${notices(p)}`
  );
}

export interface ProgressSink {
  onEvent(event: RunEvent): void;
  /** A message that must stay visible (stop notices). */
  note(text: string): void;
  close(): void;
}

function startLine(event: Extract<RunEvent, { type: "start" }>): string {
  const recovered = event.recovered.kept + event.recovered.dropped;
  return (
    `codeclm: ${event.resumed ? "resuming" : "starting"} run ${event.runId} (${event.size} pairs; checkpoints ${event.checkpoint})` +
    (recovered > 0
      ? `; recovered ${event.recovered.kept} kept and ${event.recovered.dropped} dropped records from the checkpoints`
      : "")
  );
}

export function createProgress(
  mode: ProgressMode,
  options: { plainIntervalMs?: number; stderr?: NodeJS.WriteStream; stdout?: NodeJS.WritableStream } = {},
): ProgressSink {
  const stderr = options.stderr ?? process.stderr;
  const stdout = options.stdout ?? process.stdout;
  if (mode === "quiet") return { onEvent: () => {}, note: () => {}, close: () => {} };

  if (mode === "json") {
    const emit = (value: Record<string, unknown>) =>
      stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...value })}\n`);
    return {
      onEvent(event) {
        switch (event.type) {
          case "node":
            return;
          case "kept":
            return emit({ event: "kept", ids: event.pairs.map((pair) => pair.id), total: event.total });
          case "dropped":
            return emit({
              event: "dropped",
              records: event.records.map((r) => ({
                id: r.id,
                kind: r.kind,
                reason: r.reason,
                ...(r.step ? { step: r.step } : {}),
              })),
              total: event.total,
            });
          case "progress":
            return emit({ event: "progress", ...event.progress, etaMs: etaMs(event.progress) ?? null });
          case "stopping":
            return emit({ event: "stopping", ...event.stop, inFlight: event.inFlight });
          case "summary":
            return emit({
              event: "summary",
              summary: event.summary,
              ...(event.resume ? { resume: event.resume } : {}),
            });
          default:
            return emit({ event: event.type, ...event });
        }
      },
      note: () => {},
      close: () => {},
    };
  }

  if (mode === "plain") {
    const interval = options.plainIntervalMs ?? 10_000;
    let last = 0;
    let latest: ProgressSnapshot | undefined;
    return {
      onEvent(event) {
        if (event.type === "start") stderr.write(`${startLine(event)}\n`);
        if (event.type === "warning") stderr.write(`codeclm: warning: ${event.message}\n`);
        if (event.type !== "progress") return;
        latest = event.progress;
        const now = Date.now();
        if (now - last < interval) return;
        last = now;
        stderr.write(`${progressLine(event.progress)}\n`);
      },
      note: (text) => stderr.write(`${text}\n`),
      close: () => {
        if (latest) stderr.write(`${progressLine(latest)}\n`);
      },
    };
  }

  const log = createLogUpdate(stderr, { showCursor: true });
  let latest: ProgressSnapshot | undefined;
  let drawn = 0;
  const draw = (force = false) => {
    if (!latest) return;
    const now = Date.now();
    if (!force && now - drawn < 200) return;
    drawn = now;
    log(renderProgress(latest));
  };
  return {
    onEvent(event) {
      if (event.type === "start") log.persist(startLine(event));
      if (event.type === "warning") log.persist(`codeclm: warning: ${event.message}`);
      if (event.type === "progress") {
        latest = event.progress;
        draw();
      }
    },
    note: (text) => {
      log.clear();
      log.persist(text);
      draw(true);
    },
    close: () => {
      draw(true);
      log.done();
    },
  };
}

/**
 * `OUT.run.json`: the run that writes these outputs, its status, and how to resume it. Written when the
 * run starts ("running"), and again when it ends or stops; always whole (temporary file, then rename).
 * A status other than "complete" means the data files are not the full result.
 */
import { createHash } from "node:crypto";
import { readFile, truncate, writeFile } from "node:fs/promises";
import type { CodecConfig } from "../lib/config.js";
import type { Metadata, Seed } from "../lib/records.js";
import { errorMessage } from "../lib/redact.js";
import { writeJsonAtomic, writeTextAtomic } from "./output.js";

export type RunStatus = "running" | "stopped" | "complete" | "incomplete" | "failed";

export interface RunState {
  runId: string;
  status: RunStatus;
  /** Where the checkpoints are (`sqlite:/path`, `postgres://host/db` without credentials, `none`). */
  checkpoint: string;
  /** Digest of the input and of every setting that shapes the data (not concurrency, budgets, timeouts). */
  fingerprint: string;
  /** The settings behind the fingerprint, to say what changed. */
  settings: Record<string, unknown>;
  startedAt: string;
  updatedAt: string;
  sessions: number;
  kept?: number;
  stopReason?: string;
  /** The command that continues this run. */
  resume?: string;
  error?: string;
}

export async function readRunState(path: string): Promise<RunState | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as RunState;
  } catch {
    return undefined;
  }
}

export const writeRunState = (path: string, state: RunState) => writeJsonAtomic(path, state);

/**
 * The run-state file says "failed", with the reason (and the resume command). On a full disk the usual
 * whole-file write may fail: then the state is rewritten in place, which needs no new space; a temporary
 * file is never left behind.
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

/** What this session writes to the run-state file: the status as the run goes, with the pairs kept so far. */
export interface RunStateFile {
  save(status: RunStatus, extra?: Partial<RunState>): Promise<void>;
  /** The run failed with `error` (never throws: the error itself is what the user must see). */
  fail(error: unknown): Promise<void>;
}

export function runStateFile(path: string, session: RunState, keptCount: () => number): RunStateFile {
  const now = () => new Date().toISOString();
  return {
    save: (status, extra = {}) =>
      writeRunState(path, { ...session, ...extra, status, updatedAt: now(), kept: keptCount() }),
    fail: (error) =>
      saveFailedState(path, {
        ...session,
        status: "failed",
        error: errorMessage(error),
        updatedAt: now(),
        kept: keptCount(),
      }),
  };
}

/** This session's entry: a continued run keeps its first start time and counts one session more. */
export function sessionState(
  run: {
    runId: string;
    previous?: RunState;
    checkpoint: string;
    fingerprint: string;
    settings: Record<string, unknown>;
    resume?: string;
  },
  startedAt = new Date().toISOString(),
): RunState {
  const same = run.previous?.runId === run.runId ? run.previous : undefined;
  return {
    runId: run.runId,
    status: "running",
    checkpoint: run.checkpoint,
    fingerprint: run.fingerprint,
    settings: run.settings,
    startedAt: same?.startedAt ?? startedAt,
    updatedAt: startedAt,
    sessions: (same?.sessions ?? 0) + 1,
    resume: run.resume,
  };
}

/** Settings that may change between sessions of a run without changing its data. */
const OPERATIONAL = new Set([
  "concurrency",
  "adaptiveConcurrency",
  "timeoutSeconds",
  "retries",
  "giveUpAfterSeconds",
  "budget",
  "prices",
  // Batch or single requests: the same calls (the same prompts, settings and call keys), sent another way.
  "batch",
  "batchSteps",
  "batchMaxCalls",
  "batchWaitSeconds",
  "batchPollSeconds",
  "plausibilityAlertShare",
  // Whether to stop for a review does not shape the data: the reviewed pool does, and the checkpoints hold it.
  "reviewPool",
  "reviewInstructions",
]);
const ROLE_OPERATIONAL = new Set(["baseUrl", "apiKeyEnv", "concurrency", "structuredOutput"]);

/** The settings that shape the data, role settings reduced to their model. */
export function dataSettings(config: CodecConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (OPERATIONAL.has(key)) continue;
    if ((key === "strong" || key === "target" || key === "judge") && value && typeof value === "object") {
      out[key] = Object.fromEntries(Object.entries(value).filter(([field]) => !ROLE_OPERATIONAL.has(field)));
      continue;
    }
    out[key] = value;
  }
  return out;
}

export function runFingerprint(config: CodecConfig, input: { seeds: Seed[] } | { metadata: Metadata[] }): string {
  return createHash("sha256")
    .update(JSON.stringify([dataSettings(config), input]))
    .digest("hex");
}

/** What differs between two sets of data settings, as "name: old → new" lines. */
export function settingChanges(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const changes: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = JSON.stringify(before[key]);
    const b = JSON.stringify(after[key]);
    if (a !== b) changes.push(`${key}: ${a ?? "unset"} → ${b ?? "unset"}`);
  }
  return changes;
}

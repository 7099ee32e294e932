/**
 * `OUT.run.json`: the run that writes these outputs, its status, and how to resume it. Written when the
 * run starts ("running"), and again when it ends or stops; always whole (temporary file, then rename).
 * A status other than "complete" means the data files are not the full result.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { CodecConfig } from "../lib/config.js";
import type { Metadata, Seed } from "../lib/records.js";
import { writeJsonAtomic } from "./output.js";

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

/** Settings that may change between sessions of a run without changing its data. */
const OPERATIONAL = new Set(["concurrency", "adaptiveConcurrency", "timeoutSeconds", "retries", "giveUpAfterSeconds", "budget", "prices", "plausibilityAlertShare"]);
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
  return createHash("sha256").update(JSON.stringify([dataSettings(config), input])).digest("hex");
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

import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { EvalItemSchema, type EvalItem, type EvalSummary } from "../eval/records.js";
import { InputError } from "../io/input-error.js";
import { outputPathsFor } from "../runner/output.js";
import { DroppedRecordSchema, type DroppedRecord, KeptPairSchema, type KeptPair } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { exists } from "../io/files.js";

/** A `generate` run: kept pairs, what was dropped, and the summary beside them. */
export interface RunReportData {
  kind: "run";
  /** The kept file the report was asked for. */
  source: string;
  kept: KeptPair[];
  dropped: DroppedRecord[];
  summary?: RunSummary;
}

/** An `eval` run: per-item records and the summary beside them. */
export interface EvalReportData {
  kind: "eval";
  source: string;
  items: EvalItem[];
  summary?: EvalSummary;
}

export type ReportData = RunReportData | EvalReportData;

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && (await exists(`${path}.partial`))) {
      throw new InputError(
        path,
        undefined,
        "not found, but a .partial file is beside it: the run has not finished (or crashed)",
      );
    }
    throw new InputError(path, undefined, code === "ENOENT" ? "file not found" : `cannot read: ${code ?? error}`);
  }
}

function parseLines<T>(text: string, path: string, schema: z.ZodType<T>): T[] {
  const out: T[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new InputError(path, index + 1, "not a JSON line");
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InputError(
        path,
        index + 1,
        `not a codeclm record: ${issue.path.join(".") || "value"}: ${issue.message}`,
      );
    }
    out.push(parsed.data);
  });
  return out;
}

const looksLikeEval = (text: string): boolean => {
  const first = text.split("\n").find((line) => line.trim() !== "");
  if (!first) return false;
  try {
    const value = JSON.parse(first) as Record<string, unknown>;
    return typeof value === "object" && value !== null && "outcome" in value && "judgements" in value;
  } catch {
    return false;
  }
};

/** Reads a run's outputs (or an evaluation's) from the JSONL the user names; the other files are found beside it. */
export async function loadReport(path: string): Promise<ReportData> {
  const text = await readText(path);
  const paths = outputPathsFor(path);
  const summary = (await exists(paths.summary))
    ? (JSON.parse(await readText(paths.summary)) as Record<string, unknown>)
    : undefined;
  if (summary?.kind === "eval" || looksLikeEval(text)) {
    return {
      kind: "eval",
      source: path,
      items: parseLines(text, path, EvalItemSchema),
      ...(summary ? { summary: summary as unknown as EvalSummary } : {}),
    };
  }
  const dropped = (await exists(paths.dropped))
    ? parseLines(await readText(paths.dropped), paths.dropped, DroppedRecordSchema)
    : [];
  return {
    kind: "run",
    source: path,
    kept: parseLines(text, path, KeptPairSchema),
    dropped,
    ...(summary ? { summary: summary as unknown as RunSummary } : {}),
  };
}

/**
 * A resumed run's near-duplicate index, from what its output files hold: every instruction that reached
 * filtering and every kept pair's final instruction (graph state holds the rest: the seeds, the wave in
 * flight and the instructions waiting for one, added by nodes/dedupe.ts). Read line by line, so memory
 * holds tokens, not the files.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { NearDuplicateIndex, addDroppedRecord, addKeptPair } from "../lib/dedupe.js";
import type { OutputPaths } from "./output.js";

async function* records(path: string): AsyncGenerator<Record<string, unknown>> {
  try {
    await stat(path);
  } catch {
    return;
  }
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value && typeof value === "object") yield value as Record<string, unknown>;
    } catch {
      // A cut last line is removed when the files are opened; anything else unreadable is not ours to index.
    }
  }
}

export async function indexFromOutputs(
  paths: Pick<OutputPaths, "kept" | "dropped">,
  threshold: number,
): Promise<NearDuplicateIndex> {
  const index = new NearDuplicateIndex(threshold);
  if (!index.enabled) return index;
  for await (const pair of records(paths.kept)) {
    if (typeof pair.id === "string" && typeof pair.instruction === "string")
      addKeptPair(index, pair as Parameters<typeof addKeptPair>[1]);
  }
  for await (const record of records(paths.dropped)) {
    if (typeof record.id === "string" && typeof record.kind === "string" && typeof record.reason === "string") {
      addDroppedRecord(index, record as Parameters<typeof addDroppedRecord>[1]);
    }
  }
  return index;
}

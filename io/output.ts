import { type FileHandle, open, rename, rm, stat } from "node:fs/promises";
import type { DroppedRecord, KeptPair } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";

/** Where a run's three outputs go: the kept pairs, the dropped records, and the summary. */
export interface OutputPaths {
  kept: string;
  dropped: string;
  summary: string;
}

/** `data.jsonl` → `data.dropped.jsonl` and `data.summary.json` beside it. */
export function outputPathsFor(out: string, overrides: Partial<OutputPaths> = {}): OutputPaths {
  const base = out.replace(/\.jsonl?$/i, "");
  return {
    kept: out,
    dropped: overrides.dropped ?? `${base}.dropped.jsonl`,
    summary: overrides.summary ?? `${base}.summary.json`,
  };
}

/** The suffix of files still being written: a crashed run leaves these, never a file that looks complete. */
export const PARTIAL_SUFFIX = ".partial";

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Output files that already exist (the CLI refuses to overwrite them without --force). */
export async function existingOutputs(paths: OutputPaths): Promise<string[]> {
  const found: string[] = [];
  for (const path of [paths.kept, paths.dropped, paths.summary]) if (await exists(path)) found.push(path);
  return found;
}

/**
 * Streams records to `<path>.partial` as they are decided, and renames to the final names only when the
 * run ends cleanly. Each line is written whole and flushed before the next.
 */
export class RunWriter {
  private keptFile?: FileHandle;
  private droppedFile?: FileHandle;
  keptCount = 0;
  droppedCount = 0;

  constructor(readonly paths: OutputPaths) {}

  async open(): Promise<void> {
    this.keptFile = await open(this.paths.kept + PARTIAL_SUFFIX, "w");
    this.droppedFile = await open(this.paths.dropped + PARTIAL_SUFFIX, "w");
  }

  async writeKept(pairs: readonly KeptPair[]): Promise<void> {
    if (pairs.length === 0) return;
    await this.keptFile!.write(pairs.map((pair) => `${JSON.stringify(pair)}\n`).join(""));
    await this.keptFile!.datasync();
    this.keptCount += pairs.length;
  }

  async writeDropped(records: readonly DroppedRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.droppedFile!.write(records.map((record) => `${JSON.stringify(record)}\n`).join(""));
    await this.droppedFile!.datasync();
    this.droppedCount += records.length;
  }

  /** Close and move the files into place; the summary is written last, so its presence marks a finished run. */
  async finish(summary: RunSummary): Promise<void> {
    await this.close();
    await rename(this.paths.kept + PARTIAL_SUFFIX, this.paths.kept);
    await rename(this.paths.dropped + PARTIAL_SUFFIX, this.paths.dropped);
    const tmp = this.paths.summary + PARTIAL_SUFFIX;
    const file = await open(tmp, "w");
    await file.write(`${JSON.stringify(summary, null, 2)}\n`);
    await file.datasync();
    await file.close();
    await rename(tmp, this.paths.summary);
  }

  async close(): Promise<void> {
    await this.keptFile?.close();
    await this.droppedFile?.close();
    this.keptFile = undefined;
    this.droppedFile = undefined;
  }

  /** Remove the partial files (a run that failed before producing anything). */
  async discard(): Promise<void> {
    await this.close();
    await rm(this.paths.kept + PARTIAL_SUFFIX, { force: true });
    await rm(this.paths.dropped + PARTIAL_SUFFIX, { force: true });
  }
}

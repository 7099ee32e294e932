import { createReadStream } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import type { DroppedRecord, KeptPair } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import { exists } from "../io/files.js";

/** Where a run's outputs go: the kept pairs, the dropped records, the summary, and the run-state sidecar. */
export interface OutputPaths {
  kept: string;
  dropped: string;
  summary: string;
  /** `OUT.run.json`: which run writes these files, its status, and how to resume it. */
  state: string;
  /** The default SQLite checkpoint file (`--checkpoint` may put the checkpoints elsewhere). */
  checkpoint: string;
  /** `OUT.lock`: held by the one process writing these outputs (runner/lock.ts). */
  lock: string;
  /** `OUT.pool.jsonl`: the metadata pool written for a person's review (`--review-pool`), read back on resume. */
  pool: string;
  /** `OUT.instructions.jsonl`: a sample of basic instructions written for a look (`--review-instructions N`). */
  instructions: string;
}

/** `data.jsonl` → `data.dropped.jsonl`, `data.summary.json`, `data.run.json`, `data.checkpoint.sqlite` beside it. */
export function outputPathsFor(out: string, overrides: Partial<OutputPaths> = {}): OutputPaths {
  const base = out.replace(/\.jsonl?$/i, "");
  return {
    kept: out,
    dropped: overrides.dropped ?? `${base}.dropped.jsonl`,
    summary: overrides.summary ?? `${base}.summary.json`,
    state: overrides.state ?? `${base}.run.json`,
    checkpoint: overrides.checkpoint ?? `${base}.checkpoint.sqlite`,
    lock: overrides.lock ?? `${base}.lock`,
    pool: overrides.pool ?? `${base}.pool.jsonl`,
    instructions: overrides.instructions ?? `${base}.instructions.jsonl`,
  };
}

/** Create the folders the outputs go into (`--out new/dir/data.jsonl` is fine). */
export async function createOutputFolders(paths: readonly string[]): Promise<void> {
  for (const folder of new Set(paths.map((path) => dirname(path)))) {
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      throw new OutputWriteError(folder, error, "cannot create the output folder");
    }
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EIO: "input/output error",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EISDIR: "is a folder",
  ENOTDIR: "a part of the path is not a folder",
  ENOENT: "no such file or folder",
  EFBIG: "file too large",
};

/** Writing an output failed (disk full, I/O error, permissions): the message names the file. */
export class OutputWriteError extends Error {
  readonly code?: string;
  constructor(
    readonly path: string,
    cause: unknown,
    what = "cannot write",
  ) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    super(
      `${what} ${path}: ${code ? `${ERRNO_TEXT[code] ?? (cause as Error).message} (${code})` : String((cause as Error)?.message ?? cause)}`,
    );
    this.code = code;
  }
}

/** Run a file operation; an error becomes an `OutputWriteError` naming the file. */
export async function writingTo<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof OutputWriteError) throw error;
    throw new OutputWriteError(path, error);
  }
}

/** Output files that already exist (the CLI refuses to overwrite them without --force). */
export async function existingOutputs(paths: OutputPaths): Promise<string[]> {
  const found: string[] = [];
  for (const path of [paths.kept, paths.dropped, paths.summary, paths.state]) if (await exists(path)) found.push(path);
  return found;
}

/** What makes a dropped record unique: the same id can be a seed, a metadata and an instruction. */
export const droppedKey = (record: Pick<DroppedRecord, "kind" | "id" | "reason">) =>
  `${record.kind}|${record.id}|${record.reason}`;

/** Cut an unterminated last line (a write cut short by a crash); returns the file's new size. */
async function cutPartialLine(path: string): Promise<number> {
  const file = await open(path, "r+");
  try {
    const { size } = await file.stat();
    let end = size;
    const chunk = Buffer.alloc(64 * 1024);
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await file.read(chunk, 0, end - start, start);
      const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (newline >= 0) {
        end = start + newline + 1;
        break;
      }
      end = start;
    }
    // The record on the cut line comes back: from the checkpoints if its node finished, else when the node runs again.
    if (end < size) await file.truncate(end);
    return end;
  } finally {
    await file.close();
  }
}

/** Keys of the records already in a JSONL output (after cutting a partial last line). */
export async function scanJsonl(
  path: string,
  keyOf: (record: Record<string, unknown>) => string,
): Promise<Set<string>> {
  const keys = new Set<string>();
  if (!(await exists(path))) return keys;
  await cutPartialLine(path);
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === "") continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${path}:${number} is not a JSON record; cannot resume into this file`);
    }
    keys.add(keyOf(record));
  }
  return keys;
}

/**
 * Appends records to the outputs as they are decided, each batch written whole and flushed before the
 * next. Records already in the files (a resumed run, a task LangGraph replays) are recognised by id and
 * not written twice. The summary is written last, only when the run ends or stops: until then the
 * run-state file says "running", so a crashed run never looks complete.
 */
export class RunWriter {
  private keptFile?: FileHandle;
  private droppedFile?: FileHandle;
  private keptIds = new Set<string>();
  private droppedKeys = new Set<string>();

  constructor(readonly paths: OutputPaths) {}

  get keptCount(): number {
    return this.keptIds.size;
  }

  get droppedCount(): number {
    return this.droppedKeys.size;
  }

  hasKept(id: string): boolean {
    return this.keptIds.has(id);
  }

  hasDropped(record: DroppedRecord): boolean {
    return this.droppedKeys.has(droppedKey(record));
  }

  /** A fresh run empties the files; a resumed one keeps what they hold and appends. */
  async open(options: { append: boolean }): Promise<void> {
    const { kept, dropped, summary } = this.paths;
    await createOutputFolders([kept, dropped, summary]);
    if (options.append) {
      this.keptIds = await scanJsonl(kept, (record) => String(record.id));
      this.droppedKeys = await scanJsonl(dropped, (record) => droppedKey(record as unknown as DroppedRecord));
      this.keptFile = await writingTo(kept, () => open(kept, "a"));
      this.droppedFile = await writingTo(dropped, () => open(dropped, "a"));
    } else {
      this.keptFile = await writingTo(kept, () => open(kept, "w"));
      this.droppedFile = await writingTo(dropped, () => open(dropped, "w"));
    }
    await writingTo(summary, () => rm(summary, { force: true }));
  }

  /** Write the pairs not yet in the file; returns those written. */
  async writeKept(pairs: readonly KeptPair[]): Promise<KeptPair[]> {
    const fresh: KeptPair[] = [];
    for (const pair of pairs) {
      if (this.keptIds.has(pair.id)) continue;
      this.keptIds.add(pair.id);
      fresh.push(pair);
    }
    if (fresh.length === 0) return fresh;
    await writingTo(this.paths.kept, async () => {
      await this.keptFile!.write(fresh.map((pair) => `${JSON.stringify(pair)}\n`).join(""));
      await this.keptFile!.datasync();
    });
    return fresh;
  }

  async writeDropped(records: readonly DroppedRecord[]): Promise<DroppedRecord[]> {
    const fresh: DroppedRecord[] = [];
    for (const record of records) {
      const key = droppedKey(record);
      if (this.droppedKeys.has(key)) continue;
      this.droppedKeys.add(key);
      fresh.push(record);
    }
    if (fresh.length === 0) return fresh;
    await writingTo(this.paths.dropped, async () => {
      await this.droppedFile!.write(fresh.map((record) => `${JSON.stringify(record)}\n`).join(""));
      await this.droppedFile!.datasync();
    });
    return fresh;
  }

  /** The summary, written whole (temporary file, then rename). */
  async writeSummary(summary: RunSummary): Promise<void> {
    await writeJsonAtomic(this.paths.summary, summary);
  }

  async close(): Promise<void> {
    await this.keptFile?.close().catch(() => {});
    await this.droppedFile?.close().catch(() => {});
    this.keptFile = undefined;
    this.droppedFile = undefined;
  }
}

/**
 * Write JSON so that readers see the old file or the new one, never half of one. When the write fails
 * (disk full, I/O error) the temporary file is removed and the error names the file.
 */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeTextAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

export async function writeTextAtomic(path: string, text: string, tmp = `${path}.tmp-${process.pid}`): Promise<void> {
  try {
    const file = await open(tmp, "w");
    try {
      await file.write(text);
      await file.datasync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error instanceof OutputWriteError ? error : new OutputWriteError(path, error);
  }
}

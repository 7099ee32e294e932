import { type FileHandle, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { EvalItem, EvalSummary } from "./records.js";
import { type EvalResult, type EvaluateOptions, evaluate } from "./run.js";

/** Files being written carry this suffix until they are complete. */
const PARTIAL_SUFFIX = ".partial";

/** An evaluation's outputs in `--out DIR`: one JSON line per benchmark item, and the summary. */
export interface EvalPaths {
  items: string;
  summary: string;
}

export const evalPathsFor = (dir: string): EvalPaths => ({ items: join(dir, "eval.jsonl"), summary: join(dir, "eval.summary.json") });

export async function existingEvalOutputs(paths: EvalPaths): Promise<string[]> {
  const found: string[] = [];
  for (const path of [paths.items, paths.summary]) {
    try {
      await stat(path);
      found.push(path);
    } catch {
      // absent
    }
  }
  return found;
}

async function writeWhole(path: string, text: string): Promise<void> {
  const tmp = path + PARTIAL_SUFFIX;
  const file = await open(tmp, "w");
  await file.write(text);
  await file.datasync();
  await file.close();
  await rename(tmp, path);
}

/**
 * Evaluate and write the results: items stream into `eval.jsonl.partial` as they are judged (a crash leaves
 * that, never a file that looks complete); at the end `eval.jsonl` is written in benchmark order and the
 * summary last.
 */
export async function runEvalToFiles(options: EvaluateOptions & { paths: EvalPaths }): Promise<EvalResult> {
  await mkdir(join(options.paths.items, ".."), { recursive: true });
  const partial = options.paths.items + PARTIAL_SUFFIX;
  const stream: FileHandle = await open(partial, "w");
  let writing = Promise.resolve();
  let result: EvalResult;
  try {
    result = await evaluate({
      ...options,
      onEvent: (event) => {
        writing = writing.then(async () => {
          await stream.write(`${JSON.stringify(event.item)}\n`);
        });
        options.onEvent?.(event);
      },
    });
    await writing;
  } catch (error) {
    await writing.catch(() => {});
    await stream.close();
    throw error;
  }
  await stream.close();
  await writeWhole(options.paths.items, result.items.map((item: EvalItem) => `${JSON.stringify(item)}\n`).join(""));
  await rm(partial, { force: true });
  await writeWhole(options.paths.summary, `${JSON.stringify(result.summary satisfies EvalSummary, null, 2)}\n`);
  return result;
}

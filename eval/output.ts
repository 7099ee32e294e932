import { type FileHandle, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createOutputFolders, writingTo, writeTextAtomic } from "../runner/output.js";
import type { EvalItem, EvalSummary } from "./records.js";
import { type EvalResult, type EvaluateOptions, evaluate } from "./run.js";

/** Files being written carry this suffix until they are complete. */
const PARTIAL_SUFFIX = ".partial";

/** An evaluation's outputs in `--out DIR`: one JSON line per benchmark item, and the summary. */
export interface EvalPaths {
  items: string;
  summary: string;
}

export const evalPathsFor = (dir: string): EvalPaths => ({
  items: join(dir, "eval.jsonl"),
  summary: join(dir, "eval.summary.json"),
});

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

/** Written whole or not at all; a failed write names the file and leaves no temporary file. */
const writeWhole = (path: string, text: string) => writeTextAtomic(path, text, path + PARTIAL_SUFFIX);

/**
 * Evaluate and write the results: items stream into `eval.jsonl.partial` as they are judged (a crash leaves
 * that, never a file that looks complete); at the end `eval.jsonl` is written in benchmark order and the
 * summary last.
 */
export async function runEvalToFiles(options: EvaluateOptions & { paths: EvalPaths }): Promise<EvalResult> {
  await createOutputFolders([options.paths.items, options.paths.summary]);
  const partial = options.paths.items + PARTIAL_SUFFIX;
  const stream: FileHandle = await writingTo(partial, () => open(partial, "w"));
  let writing = Promise.resolve();
  let result: EvalResult;
  try {
    result = await evaluate({
      ...options,
      onEvent: (event) => {
        writing = writing.then(() =>
          writingTo(partial, () => stream.write(`${JSON.stringify(event.item)}\n`)).then(() => {}),
        );
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

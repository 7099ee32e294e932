import { type Command, Option } from "commander";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  parseKeptPairs,
  serialise,
  splitValidation,
  toTrainingRecord,
  validationPathFor,
} from "../io/formats.js";
import { readInputText } from "../io/input-error.js";
import { withOutputLock } from "../runner/lock.js";
import { createOutputFolders, writeTextAtomic } from "../runner/output.js";
import { UsageError } from "./errors.js";
import { decimal, deprecatedOutAlias, integer, outFrom, warnDeprecated } from "./options.js";
import { exists } from "../io/files.js";

export interface ExportFlags {
  format: ExportFormat;
  out: string;
  system?: string;
  valSplit?: number;
  valOut?: string;
  seed: number;
  force?: boolean;
}

export interface ExportResult {
  train: { path: string; count: number };
  validation?: { path: string; count: number };
}

/** Write whole or not at all: a temporary file renamed into place (removed if the write fails). */
const writeAtomically = (path: string, text: string) => writeTextAtomic(path, text, `${path}.partial`);

/** Convert a kept-pairs file to a fine-tuning format, optionally split into train and validation files. */
export async function exportPairs(input: string, flags: ExportFlags): Promise<ExportResult> {
  const pairs = parseKeptPairs(await readInputText(input), input);
  const valPath = flags.valOut ?? validationPathFor(flags.out);
  const split = flags.valSplit ? splitValidation(pairs, flags.valSplit, flags.seed) : { train: pairs, validation: [] };
  const targets = [flags.out, ...(split.validation.length > 0 ? [valPath] : [])];
  if (new Set(targets).size !== targets.length) throw new UsageError("the validation file must differ from --out");
  if (!flags.force) {
    const taken = [];
    for (const path of targets) if (await exists(path)) taken.push(path);
    if (taken.length > 0) throw new UsageError(`output already exists: ${taken.join(", ")} (use --force to overwrite)`);
  }
  const write = (path: string, items: typeof pairs) =>
    writeAtomically(
      path,
      serialise(
        items.map((pair) => toTrainingRecord(pair, flags.format, flags.system)),
        /\.json$/i.test(path),
      ),
    );
  await createOutputFolders(targets);
  await write(flags.out, split.train);
  if (split.validation.length > 0) await write(valPath, split.validation);
  return {
    train: { path: flags.out, count: split.train.length },
    ...(split.validation.length > 0 ? { validation: { path: valPath, count: split.validation.length } } : {}),
  };
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("Convert kept pairs (the --out file of generate) into a fine-tuning format")
    .argument("<kept>", "kept-pairs JSONL written by `codeclm generate`")
    .addOption(
      new Option(
        "--format <format>",
        "openai-chat (OpenAI fine-tuning), alpaca, sharegpt (LLaMA-Factory, axolotl), jsonl (instruction/output)",
      )
        .choices([...EXPORT_FORMATS])
        .makeOptionMandatory(),
    )
    .option("--out <file>", "where to write (required); a .json name gets a JSON array, anything else JSONL")
    .addOption(deprecatedOutAlias("--output"))
    .option("--system <prompt>", "system prompt given to every example")
    .option("--val-split <fraction>", "hold out this fraction (0-1) as a validation file", decimal(0, 0.99))
    .option("--val-out <file>", "the validation file (default: OUT with .val before the extension)")
    .addOption(deprecatedOutAlias("--val-output").hideHelp())
    .option("--seed <n>", "seed of the train/validation split", integer(Number.MIN_SAFE_INTEGER), 42)
    .option("--force", "overwrite existing files")
    .action(async (input: string, given: ExportFlags & { output?: string; valOutput?: string }) => {
      const out = outFrom(given.out, given.output, "--output");
      if (!out) throw new UsageError("--out FILE is required: where to write the training file");
      if (given.valOutput !== undefined) warnDeprecated("--val-output", "--val-out");
      const flags: ExportFlags = {
        ...given,
        out,
        ...((given.valOut ?? given.valOutput) ? { valOut: given.valOut ?? given.valOutput } : {}),
      };
      const result = await withOutputLock(`${out}.lock`, `codeclm export --out ${out}`, () =>
        exportPairs(input, flags),
      );
      const parts = [`${result.train.count} -> ${result.train.path}`];
      if (result.validation) parts.push(`${result.validation.count} -> ${result.validation.path} (validation)`);
      process.stdout.write(`exported ${flags.format}: ${parts.join("; ")}\n`);
    });
}

import { rename, stat, writeFile } from "node:fs/promises";
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
import { UsageError } from "./errors.js";
import { decimal, integer } from "./options.js";

export interface ExportFlags {
  format: ExportFormat;
  output: string;
  system?: string;
  valSplit?: number;
  valOutput?: string;
  seed: number;
  force?: boolean;
}

export interface ExportResult {
  train: { path: string; count: number };
  validation?: { path: string; count: number };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Write whole or not at all: a temporary file renamed into place. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.partial`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/** Convert a kept-pairs file to a fine-tuning format, optionally split into train and validation files. */
export async function exportPairs(input: string, flags: ExportFlags): Promise<ExportResult> {
  const pairs = parseKeptPairs(await readInputText(input), input);
  const valPath = flags.valOutput ?? validationPathFor(flags.output);
  const split = flags.valSplit ? splitValidation(pairs, flags.valSplit, flags.seed) : { train: pairs, validation: [] };
  const targets = [flags.output, ...(split.validation.length > 0 ? [valPath] : [])];
  if (new Set(targets).size !== targets.length) throw new UsageError("the validation file must differ from --output");
  if (!flags.force) {
    const taken = [];
    for (const path of targets) if (await exists(path)) taken.push(path);
    if (taken.length > 0) throw new UsageError(`output already exists: ${taken.join(", ")} (use --force to overwrite)`);
  }
  const write = (path: string, items: typeof pairs) =>
    writeAtomically(path, serialise(items.map((pair) => toTrainingRecord(pair, flags.format, flags.system)), /\.json$/i.test(path)));
  await write(flags.output, split.train);
  if (split.validation.length > 0) await write(valPath, split.validation);
  return {
    train: { path: flags.output, count: split.train.length },
    ...(split.validation.length > 0 ? { validation: { path: valPath, count: split.validation.length } } : {}),
  };
}

export function registerExport(program: Command): void {
  program
    .command("export")
    .description("Convert kept pairs (the --out file of generate) into a fine-tuning format")
    .argument("<kept>", "kept-pairs JSONL written by `codeclm generate`")
    .addOption(
      new Option("--format <format>", "openai-chat (OpenAI fine-tuning), alpaca, sharegpt (LLaMA-Factory, axolotl), jsonl (instruction/output)")
        .choices([...EXPORT_FORMATS])
        .makeOptionMandatory(),
    )
    .requiredOption("--output <file>", "where to write; a .json name gets a JSON array, anything else JSONL")
    .option("--system <prompt>", "system prompt given to every example")
    .option("--val-split <fraction>", "hold out this fraction (0-1) as a validation file", decimal(0, 0.99))
    .option("--val-output <file>", "the validation file (default: OUTPUT with .val before the extension)")
    .option("--seed <n>", "seed of the train/validation split", integer(Number.MIN_SAFE_INTEGER), 42)
    .option("--force", "overwrite existing files")
    .action(async (input: string, flags: ExportFlags) => {
      const result = await exportPairs(input, flags);
      const parts = [`${result.train.count} -> ${result.train.path}`];
      if (result.validation) parts.push(`${result.validation.count} -> ${result.validation.path} (validation)`);
      process.stdout.write(`exported ${flags.format}: ${parts.join("; ")}\n`);
    });
}

/**
 * Kept pairs -> fine-tuning formats (`codeclm export`). Pure: parsing, converting, splitting; the CLI
 * reads and writes the files.
 *
 * - `openai-chat`: OpenAI's fine-tuning chat format, `{"messages": [{"role": "system"|"user"|"assistant", "content"}]}`.
 * - `alpaca`: `{"instruction", "input": "", "output"}` (plus `"system"`), as Alpaca, LLaMA-Factory and axolotl read it.
 * - `sharegpt`: `{"conversations": [{"from": "system"|"human"|"gpt", "value"}]}`, as LLaMA-Factory and axolotl read it.
 * - `jsonl`: plain `{"instruction", "output"}` (plus `"system"`), for Hugging Face `datasets`.
 */
import { createRng, shuffle } from "../lib/rng.js";
import { InputError } from "./input-error.js";

export const EXPORT_FORMATS = ["openai-chat", "alpaca", "sharegpt", "jsonl"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** What an export needs from a kept pair; the rest of the record (scores, lineage) stays in the source file. */
export interface TrainingPair {
  id: string;
  instruction: string;
  response: string;
}

export interface OpenAIChatRecord {
  messages: Array<{ role: "system" | "user" | "assistant"; content: string }>;
}
export interface AlpacaRecord {
  instruction: string;
  input: string;
  output: string;
  system?: string;
}
export interface ShareGptRecord {
  conversations: Array<{ from: "system" | "human" | "gpt"; value: string }>;
}
export interface PlainRecord {
  instruction: string;
  output: string;
  system?: string;
}
export type TrainingRecord = OpenAIChatRecord | AlpacaRecord | ShareGptRecord | PlainRecord;

/** One pair in one format; `system` (optional) is the system prompt every example gets. */
export function toTrainingRecord(pair: TrainingPair, format: ExportFormat, system?: string): TrainingRecord {
  const sys = system?.trim() ? system : undefined;
  switch (format) {
    case "openai-chat":
      return {
        messages: [
          ...(sys ? [{ role: "system" as const, content: sys }] : []),
          { role: "user", content: pair.instruction },
          { role: "assistant", content: pair.response },
        ],
      };
    case "alpaca":
      return { instruction: pair.instruction, input: "", output: pair.response, ...(sys ? { system: sys } : {}) };
    case "sharegpt":
      return {
        conversations: [
          ...(sys ? [{ from: "system" as const, value: sys }] : []),
          { from: "human", value: pair.instruction },
          { from: "gpt", value: pair.response },
        ],
      };
    case "jsonl":
      return { instruction: pair.instruction, output: pair.response, ...(sys ? { system: sys } : {}) };
  }
}

const describe = (value: unknown) =>
  value === null
    ? "null"
    : Array.isArray(value)
      ? "an array"
      : typeof value === "object"
        ? "an object"
        : `a ${typeof value}`;

/**
 * The pairs of a kept-pairs file (`codeclm generate --out`): JSONL, one pair per line, each with a
 * non-empty `instruction` and `response`. Anything else is an InputError naming the file and line.
 */
export function parseKeptPairs(text: string, file: string): TrainingPair[] {
  const pairs: TrainingPair[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.replace(/\r$/, "").replace(/^\uFEFF/, "");
    if (line.trim() === "") continue;
    const number = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      const hint =
        index === 0 && line.trim().startsWith("[") ? " (a JSON array? expected JSONL, one pair per line)" : "";
      throw new InputError(file, number, `not valid JSON${hint}: ${(error as Error).message}`);
    }
    if (Array.isArray(value)) {
      throw new InputError(
        file,
        number,
        "a JSON array: expected JSONL, one kept pair per line, as `codeclm generate` writes",
      );
    }
    if (typeof value !== "object" || value === null) {
      throw new InputError(
        file,
        number,
        `expected a kept pair (an object with "instruction" and "response"), got ${describe(value)}`,
      );
    }
    const record = value as Record<string, unknown>;
    if (record.reason !== undefined && record.response === undefined) {
      throw new InputError(
        file,
        number,
        `this is a dropped record (reason "${String(record.reason)}"), not a kept pair: export the kept-pairs file`,
      );
    }
    for (const field of ["instruction", "response"] as const) {
      if (typeof record[field] !== "string" || (record[field] as string).trim() === "") {
        const fields = Object.keys(record).join(", ") || "none";
        throw new InputError(
          file,
          number,
          `not a kept pair from \`codeclm generate\`: "${field}" must be a non-empty string (the record has fields: ${fields})`,
        );
      }
    }
    pairs.push({
      id: typeof record.id === "string" ? record.id : String(number),
      instruction: record.instruction as string,
      response: record.response as string,
    });
  }
  if (pairs.length === 0) throw new InputError(file, undefined, "holds no kept pairs");
  return pairs;
}

/** How many of `total` go to validation: the fraction rounded, at least one and at most total − 1. */
export function validationCount(total: number, fraction: number): number {
  if (fraction <= 0 || total < 2) return 0;
  return Math.min(total - 1, Math.max(1, Math.round(total * fraction)));
}

/**
 * A seeded train/validation split: which items go to validation depends only on the seed and the
 * number of items; both parts keep the input's order.
 */
export function splitValidation<T>(
  items: readonly T[],
  fraction: number,
  seed: number,
): { train: T[]; validation: T[] } {
  const count = validationCount(items.length, fraction);
  if (count === 0) return { train: [...items], validation: [] };
  const chosen = new Set(
    shuffle(
      createRng(seed, "val-split"),
      items.map((_, index) => index),
    ).slice(0, count),
  );
  return {
    train: items.filter((_, index) => !chosen.has(index)),
    validation: items.filter((_, index) => chosen.has(index)),
  };
}

/** JSONL, or a JSON array when the file is named `.json` (Alpaca's original layout). */
export function serialise(records: readonly TrainingRecord[], asArray: boolean): string {
  if (asArray) return `${JSON.stringify(records, null, 2)}\n`;
  return records.map((record) => `${JSON.stringify(record)}\n`).join("");
}

/** `train.jsonl` -> `train.val.jsonl` (same extension), for the validation part of a split. */
export function validationPathFor(output: string): string {
  const match = /\.(jsonl|json|ndjson)$/i.exec(output);
  return match ? `${output.slice(0, match.index)}.val${match[0]}` : `${output}.val`;
}

/**
 * Answers read from a file instead of asked of a model (`codeclm eval --answers FILE --reference-answers FILE`),
 * e.g. a fine-tuned model's answers produced by another harness.
 *
 * A JSONL or JSON file (the same JSON reading as the seeds reader): one record per answer.
 * - The answer comes from `--answer-field NAME`, else the first of `answer`, `response`, `output`, `completion`,
 *   FastChat's `choices[0].turns[0]`, or OpenAI's `choices[0].message.content`.
 * - A record matches a benchmark item by id (`id`, `question_id` or `idx`, as in the benchmark); a file
 *   without ids (e.g. AlpacaEval's `{instruction, output}`) matches by the instruction text instead
 *   (`instruction`, `prompt`, `question` or `Instruction`, whitespace collapsed).
 * Every problem, a benchmark item without an answer included, is an `InputError` raised before any model call.
 */
import { InputError, readInputText } from "../io/input-error.js";
import { type JsonRecord, normalizeNewlines, parseJsonRecords } from "../io/record-reader.js";
import { ID_FIELDS } from "../io/seeds.js";
import type { Seed } from "../lib/records.js";

export const ANSWER_FIELDS = ["answer", "response", "output", "completion"] as const;
const MATCH_INSTRUCTION_FIELDS = ["instruction", "prompt", "question", "Instruction"] as const;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const collapse = (text: string) => text.replace(/\s+/g, " ").trim();

function pathValue(value: unknown, path: readonly (string | number)[]): unknown {
  let current: unknown = value;
  for (const step of path) {
    if (typeof step === "number") current = Array.isArray(current) ? current[step] : undefined;
    else current = isObject(current) ? current[step] : undefined;
  }
  return current;
}

/** The answer text of one record, or why there is none. */
function answerOf(record: Record<string, unknown>, field: string | undefined): { text: string } | { problem: string } {
  const candidates: Array<[string, unknown]> = field
    ? [[field, record[field]]]
    : [
        ...ANSWER_FIELDS.map((name): [string, unknown] => [name, record[name]]),
        ["choices[0].turns[0]", pathValue(record, ["choices", 0, "turns", 0])],
        ["choices[0].message.content", pathValue(record, ["choices", 0, "message", "content"])],
      ];
  for (const [name, value] of candidates) {
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") return { problem: `the answer field "${name}" must be a string` };
    return { text: value.replace(/\r\n?/g, "\n") };
  }
  const looked = field
    ? `"${field}" (from --answer-field)`
    : `${ANSWER_FIELDS.join(", ")}, choices[0].turns[0], choices[0].message.content`;
  return {
    problem: `no answer field (looked for ${looked}); the record has fields: ${Object.keys(record).join(", ") || "none"}`,
  };
}

function idOf(record: Record<string, unknown>): string | undefined {
  for (const field of ID_FIELDS) {
    const value = record[field];
    if (typeof value === "string" && value.trim() !== "") return value.trim();
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
  }
  return undefined;
}

function instructionOf(record: Record<string, unknown>): string | undefined {
  for (const field of MATCH_INSTRUCTION_FIELDS) {
    const value = record[field];
    if (typeof value === "string" && value.trim() !== "") return collapse(value);
  }
  return undefined;
}

interface ParsedAnswer {
  line: number;
  id?: string;
  instruction?: string;
  text: string;
}

/** Pure: the answers in `text`, matched to `benchmark`, as a map from benchmark item id to answer. */
export function parseAnswers(
  text: string,
  file: string,
  benchmark: readonly Seed[],
  options: { field?: string } = {},
): Map<string, string> {
  const normalized = normalizeNewlines(text);
  const { records } = parseJsonRecords(normalized, file, "auto");
  if (records.length === 0) throw new InputError(file, undefined, "no answers found: the file is empty");
  const parsed = records.map((record: JsonRecord): ParsedAnswer => {
    if (!isObject(record.value))
      throw new InputError(file, record.line, "expected a JSON object for the answer record");
    const answer = answerOf(record.value, options.field);
    if ("problem" in answer) throw new InputError(file, record.line, answer.problem);
    const id = idOf(record.value);
    const instruction = instructionOf(record.value);
    return {
      line: record.line,
      text: answer.text,
      ...(id !== undefined ? { id } : {}),
      ...(instruction !== undefined ? { instruction } : {}),
    };
  });

  const byId = parsed.some((answer) => answer.id !== undefined);
  const index = new Map<string, ParsedAnswer>();
  for (const answer of parsed) {
    const key = byId ? answer.id : answer.instruction;
    if (key === undefined) {
      throw new InputError(
        file,
        answer.line,
        byId
          ? "this record has no id (id, question_id or idx) while others have one"
          : "the record has neither an id nor an instruction to match it by",
      );
    }
    const earlier = index.get(key);
    if (earlier) {
      throw new InputError(
        file,
        answer.line,
        `a second answer for ${byId ? `id "${key}"` : "the same instruction"} (first on line ${earlier.line})`,
      );
    }
    index.set(key, answer);
  }

  const answers = new Map<string, string>();
  const missing: string[] = [];
  for (const item of benchmark) {
    const found = index.get(byId ? item.id : collapse(item.instruction));
    if (found) answers.set(item.id, found.text);
    else missing.push(item.id);
  }
  if (missing.length > 0) {
    const shown = missing
      .slice(0, 5)
      .map((id) => `"${id}"`)
      .join(", ");
    throw new InputError(
      file,
      undefined,
      `no answer for ${missing.length} of the ${benchmark.length} benchmark item(s) (matched by ${byId ? "id" : "instruction text"}): ${shown}${missing.length > 5 ? ", ..." : ""}`,
    );
  }
  return answers;
}

/** Reads an answers file and matches it to the benchmark. */
export async function readAnswers(
  path: string,
  benchmark: readonly Seed[],
  options: { field?: string } = {},
): Promise<Map<string, string>> {
  return parseAnswers(await readInputText(path), path, benchmark, options);
}

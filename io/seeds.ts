/**
 * Reader for seed-instruction files (`codeclm generate --seeds FILE`) and benchmark files
 * (`codeclm eval --benchmark FILE`).
 *
 * Accepted formats:
 * - JSONL (`.jsonl`, `.ndjson`, `.jsonlines`): one JSON object (or JSON string) per line; blank lines skipped.
 * - JSON (`.json`): a top-level array of objects or strings, or an object `{ "data": [...] }` (the
 *   Hugging Face / many dataset dumps wrapper), or a single record object. A `.json` file whose content is
 *   really JSONL (several objects, one per line) is read as JSONL.
 * - CSV (`.csv`) and TSV (`.tsv`, `.tab`): RFC 4180, header row required; TSV uses the same quoting rules
 *   with a tab delimiter.
 * - Plain text (`.txt`, `.text`): one instruction per non-blank line.
 * - Any other extension with format `auto`: content sniffing. First non-blank character `[` → JSON array,
 *   `{` → JSON object(s) (JSONL or a single object), anything else → plain text.
 *
 * Seeds without an id field get `seed-<line>` (the line the record starts on); elements of a JSON array get
 * `seed-<n>`, their 1-based position, since a compact array puts every element on line 1.
 *
 * Every problem is an `InputError` (`FILE:LINE: what is wrong`), thrown before any seed is returned:
 * reading is all-or-nothing.
 */
import { extname } from "node:path";
import type { Seed } from "../lib/records.js";
import { type SeedSelection, SeedSelector } from "../lib/seed-sample.js";
import { InputError, readInputText } from "./input-error.js";
import { fileHead, fileLines } from "./lines.js";
import {
  type CsvRow,
  cleanText,
  csvRowsOfText,
  describeType,
  firstNonBlankChar,
  isPlainObject,
  listFields,
  normalizeNewlines,
  parseJsonLine,
  parseJsonRecords,
  rejectNul,
  streamCsvRows,
  textLines,
} from "./record-reader.js";

export type SeedFormat = "auto" | "jsonl" | "json" | "csv" | "tsv" | "text";

export interface ReadSeedsOptions {
  /** Exact key (JSON) or column name (CSV) holding the instruction. Array values use their first element. */
  field?: string;
  /** `auto` (default): decide from the extension, then from the content. */
  format?: SeedFormat;
}

/** Fields tried, in order, for the instruction when `field` is not given. Array values use element 0 (`turns[0]`). */
export const INSTRUCTION_FIELDS = ["instruction", "prompt", "text", "question", "turns", "Instruction"] as const;
/** Fields tried, in order, for the seed id. Numbers are stringified; an empty string counts as absent. */
export const ID_FIELDS = ["id", "question_id", "idx"] as const;
/** Fields tried, in order, for the category (MT-Bench/Vicuna `category`, Evol-Instruct `Skill`, Self-Instruct `motivation_app`). */
export const CATEGORY_FIELDS = ["category", "Skill", "motivation_app"] as const;

// ---------------------------------------------------------------------------------------------------------------
// Records to seeds

interface SeedContext {
  file: string;
  field?: string;
  /** Generated id for records without one. */
  fallbackId: (record: { line: number; index: number }) => string;
  /** Extra text for "no instruction field" errors. */
  noFieldHint?: string;
  /** Extra text for "got an array" errors. */
  arrayRecordHint?: string;
}

/** Fields of `obj` whose names match `name` ignoring case, for "did you mean" hints. */
function caseInsensitiveMatches(obj: Record<string, unknown>, names: readonly string[]): string[] {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  return Object.keys(obj).filter((k) => wanted.has(k.toLowerCase()) && !names.includes(k));
}

function instructionValue(value: unknown, field: string, file: string, line: number): string {
  let v = value;
  if (Array.isArray(v)) {
    if (v.length === 0) throw new InputError(file, line, `field "${field}" is an empty array; no instruction in it`);
    v = v[0];
  }
  if (typeof v !== "string") {
    const what = Array.isArray(value) ? `the first element of "${field}"` : `field "${field}"`;
    throw new InputError(file, line, `${what} must be a string, got ${describeType(v)}`);
  }
  const text = cleanText(v);
  if (text === "") throw new InputError(file, line, `the instruction (field "${field}") is empty`);
  return text;
}

function pickInstruction(
  obj: Record<string, unknown>,
  line: number,
  ctx: SeedContext,
): { field: string; text: string } {
  if (ctx.field !== undefined) {
    const field = ctx.field;
    if (!Object.hasOwn(obj, field) || obj[field] === null || obj[field] === undefined) {
      const near = caseInsensitiveMatches(obj, [field]);
      const hint = near.length > 0 ? ` (did you mean "${near[0]}"?)` : "";
      throw new InputError(
        ctx.file,
        line,
        `field "${field}" (from --field) not found${hint}; the record has fields: ${listFields(obj)}`,
      );
    }
    return { field, text: instructionValue(obj[field], field, ctx.file, line) };
  }
  for (const field of INSTRUCTION_FIELDS) {
    if (Object.hasOwn(obj, field) && obj[field] !== null && obj[field] !== undefined) {
      return { field, text: instructionValue(obj[field], field, ctx.file, line) };
    }
  }
  const near = caseInsensitiveMatches(obj, INSTRUCTION_FIELDS);
  const hint =
    near.length > 0 ? ` (did you mean --field ${near[0]}?)` : "; pass --field NAME to say which field holds it";
  throw new InputError(
    ctx.file,
    line,
    `no instruction field (looked for ${INSTRUCTION_FIELDS.join(", ")}); the record has fields: ${listFields(obj)}` +
      hint +
      (ctx.noFieldHint ?? ""),
  );
}

/**
 * Extra input to append to the instruction. Self-Instruct records carry `instances: [{ input, output }]` and Alpaca
 * records a top-level `input`: the instruction alone is often incomplete without it ("Rewrite the sentence" needs
 * the sentence). When the first instance's `input` (else the top-level `input`) is a non-empty string, it is
 * appended after a blank line, the usual Alpaca prompt layout. Only the first instance is used: a seed is one task.
 */
function extraInput(obj: Record<string, unknown>, instructionField: string): string | undefined {
  if (instructionField === "instances" || instructionField === "input") return undefined;
  const instances = obj.instances;
  if (Array.isArray(instances) && instances.length > 0) {
    const first: unknown = instances[0];
    if (isPlainObject(first) && typeof first.input === "string") {
      const input = cleanText(first.input);
      return input === "" ? undefined : input;
    }
  }
  if (typeof obj.input === "string") {
    const input = cleanText(obj.input);
    return input === "" ? undefined : input;
  }
  return undefined;
}

/** First present value of `fields` as a trimmed string: strings (empty counts as absent) and finite numbers. */
function pickScalar(
  obj: Record<string, unknown>,
  fields: readonly string[],
  what: string,
  file: string,
  line: number,
): string | undefined {
  for (const field of fields) {
    if (!Object.hasOwn(obj, field)) continue;
    const v = obj[field];
    if (v === null || v === undefined) continue;
    if (typeof v === "string") {
      const s = cleanText(v);
      if (s !== "") return s;
      continue;
    }
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
    throw new InputError(file, line, `${what} field "${field}" must be a string or a number, got ${describeType(v)}`);
  }
  return undefined;
}

function recordToSeed(value: unknown, rec: { line: number; index: number }, ctx: SeedContext): Seed {
  const { file } = ctx;
  const { line } = rec;
  if (typeof value === "string") {
    const instruction = cleanText(value);
    if (instruction === "") throw new InputError(file, line, "the instruction is an empty string");
    return { id: ctx.fallbackId(rec), instruction };
  }
  if (!isPlainObject(value)) {
    const hint = Array.isArray(value) ? (ctx.arrayRecordHint ?? "") : "";
    throw new InputError(
      file,
      line,
      `expected a JSON object or string for the record, got ${describeType(value)}${hint}`,
    );
  }
  const { field, text } = pickInstruction(value, line, ctx);
  const extra = extraInput(value, field);
  const instruction = extra === undefined ? text : `${text}\n\n${extra}`;
  const id = pickScalar(value, ID_FIELDS, "id", file, line) ?? ctx.fallbackId(rec);
  const category = pickScalar(value, CATEGORY_FIELDS, "category", file, line);
  return category === undefined ? { id, instruction } : { id, instruction, category };
}

function checkUniqueIds(seeds: Seed[], lines: number[], file: string): void {
  const seen = new Map<string, number>();
  seeds.forEach((seed, i) => {
    const line = lines[i] ?? 0;
    const first = seen.get(seed.id);
    if (first !== undefined) {
      throw new InputError(file, line, `duplicate id "${seed.id}": already used on line ${first}; ids must be unique`);
    }
    seen.set(seed.id, line);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Format detection and entry points

/** The format to read `file` as. `auto`: from the extension, else from the first non-blank character. */
export function detectSeedFormat(file: string, text: string, format: SeedFormat = "auto"): Exclude<SeedFormat, "auto"> {
  if (format !== "auto") return format;
  const ext = extname(file).toLowerCase();
  switch (ext) {
    case ".jsonl":
    case ".ndjson":
    case ".jsonlines":
      return "jsonl";
    case ".json":
      return "json";
    case ".csv":
      return "csv";
    case ".tsv":
    case ".tab":
      return "tsv";
    case ".txt":
    case ".text":
      return "text";
    default: {
      const first = firstNonBlankChar(text);
      return first === "[" || first === "{" ? "json" : "text";
    }
  }
}

function seedsFromJson(text: string, file: string, mode: "auto" | "json" | "jsonl", field?: string): LocatedSeed[] {
  const { records, shape } = parseJsonRecords(text, file, mode);
  if (records.length === 0) {
    throw new InputError(
      file,
      undefined,
      shape === "array" ? "no instructions found: the JSON array is empty" : "no instructions found: the file is empty",
    );
  }
  const ctx: SeedContext = {
    file,
    ...(field !== undefined ? { field } : {}),
    // Line numbers are no stable identity inside a JSON array (reformatting moves them, and a compact array
    // has every element on line 1), so array elements get their 1-based position; JSONL records their line.
    fallbackId: shape === "array" ? (r) => `seed-${r.index}` : (r) => `seed-${r.line}`,
    ...(shape === "jsonl"
      ? { arrayRecordHint: "; if the file is one JSON array, name it .json or pass --format json" }
      : {}),
    ...(shape === "object"
      ? { noFieldHint: '. A JSON file should hold an array of records (or an object with a "data" array)' }
      : {}),
  };
  const seeds = records.map((r) => recordToSeed(r.value, r, ctx));
  checkUniqueIds(
    seeds,
    records.map((r) => r.line),
    file,
  );
  return seeds.map((seed, i) => ({ seed, line: records[i]!.line }));
}

/** A seed with the line its record starts on. */
export interface LocatedSeed {
  seed: Seed;
  line: number;
}

/** Maps the units of a file (lines, or CSV rows) to seeds as they come; `end` throws when the file held none. */
interface SeedReader<Unit> {
  take(unit: Unit): LocatedSeed[];
  end(): void;
}

type Emit = (seed: Seed, line: number) => LocatedSeed;

/** Locates seeds and checks ids for uniqueness as they complete. */
function seedEmitter(file: string): { emit: Emit; count: () => number } {
  const idLines = new Map<string, number>();
  const emit: Emit = (seed, line) => {
    const first = idLines.get(seed.id);
    if (first !== undefined) {
      throw new InputError(file, line, `duplicate id "${seed.id}": already used on line ${first}; ids must be unique`);
    }
    idLines.set(seed.id, line);
    return { seed, line };
  };
  return { emit, count: () => idLines.size };
}

/** The CSV/TSV header's instruction column: `field` if given, else the first of INSTRUCTION_FIELDS present. */
function instructionColumn(
  columns: string[],
  row: CsvRow,
  file: string,
  kind: string,
  field: string | undefined,
): string {
  if (field !== undefined) {
    if (columns.includes(field)) return field;
    const near = columns.find((c) => c.toLowerCase() === field.toLowerCase());
    throw new InputError(
      file,
      row.line,
      `column "${field}" (from --field) not found in the ${kind} header` +
        (near !== undefined ? ` (did you mean "${near}"?)` : "") +
        `; the header has columns: ${columns.join(", ")}`,
    );
  }
  const found = INSTRUCTION_FIELDS.find((f) => columns.includes(f));
  if (found !== undefined) return found;
  throw new InputError(
    file,
    row.line,
    `no instruction column in the ${kind} header (looked for ${INSTRUCTION_FIELDS.join(", ")}); ` +
      `the header has columns: ${columns.join(", ")}; pass --field NAME to say which column holds it`,
  );
}

/** One data row as a record keyed by the header (first occurrence wins when a column name repeats). */
function rowRecord(row: CsvRow, columns: string[], file: string, delimiter: string): Record<string, unknown> {
  if (row.fields.length > columns.length && row.fields.slice(columns.length).some((f) => f.trim() !== "")) {
    throw new InputError(
      file,
      row.line,
      `row has ${row.fields.length} fields but the header has ${columns.length} columns` +
        ` (a field holding "${delimiter === "\t" ? "\\t" : delimiter}" must be quoted)`,
    );
  }
  const obj: Record<string, unknown> = {};
  columns.forEach((name, c) => {
    if (!Object.hasOwn(obj, name)) obj[name] = row.fields[c] ?? ""; // missing trailing cells are empty
  });
  return obj;
}

function csvSeedReader(file: string, delimiter: string, field: string | undefined, emit: Emit): SeedReader<CsvRow> {
  const kind = delimiter === "\t" ? "TSV" : "CSV";
  let header: { columns: string[]; ctx: SeedContext } | undefined;
  let dataRows = 0;
  return {
    take(row) {
      if (header === undefined) {
        const columns = row.fields.map((c) => c.trim());
        const column = instructionColumn(columns, row, file, kind, field);
        header = { columns, ctx: { file, field: column, fallbackId: (r) => `seed-${r.line}` } };
        return [];
      }
      const record = rowRecord(row, header.columns, file, delimiter);
      return [emit(recordToSeed(record, { line: row.line, index: ++dataRows }, header.ctx), row.line)];
    },
    end() {
      if (header === undefined) throw new InputError(file, undefined, "no instructions found: the file is empty");
      if (dataRows === 0)
        throw new InputError(file, undefined, `no instructions found: the ${kind} file has only a header row`);
    },
  };
}

type Line = { line: number; text: string };

function textSeedReader(file: string, emitter: ReturnType<typeof seedEmitter>): SeedReader<Line> {
  let lines = 0;
  return {
    take({ line, text }) {
      lines++;
      const instruction = text.trim();
      return instruction === "" ? [] : [emitter.emit({ id: `seed-${line}`, instruction }, line)];
    },
    end() {
      if (emitter.count() > 0) return;
      const reason = lines > 0 ? "the file has only blank lines" : "the file is empty";
      throw new InputError(file, undefined, `no instructions found: ${reason}`);
    },
  };
}

function jsonlSeedReader(
  file: string,
  field: string | undefined,
  emitter: ReturnType<typeof seedEmitter>,
): SeedReader<Line> {
  const ctx: SeedContext = {
    file,
    ...(field !== undefined ? { field } : {}),
    fallbackId: (r) => `seed-${r.line}`,
    arrayRecordHint: "; if the file is one JSON array, name it .json or pass --format json",
  };
  let records = 0;
  return {
    take({ line, text }) {
      if (text.trim() === "") return [];
      const value = parseJsonLine(text, file, line);
      return [emitter.emit(recordToSeed(value, { line, index: ++records }, ctx), line)];
    },
    end() {
      if (emitter.count() === 0) throw new InputError(file, undefined, "no instructions found: the file is empty");
    },
  };
}

function lineSeedReader(format: "jsonl" | "text", file: string, field?: string): SeedReader<Line> {
  const emitter = seedEmitter(file);
  return format === "text" ? textSeedReader(file, emitter) : jsonlSeedReader(file, field, emitter);
}

const delimiterOf = (format: "csv" | "tsv"): string => (format === "tsv" ? "\t" : ",");

function checkField(file: string, field: string | undefined): void {
  if (field !== undefined && field.trim() === "") throw new InputError(file, undefined, "--field must not be empty");
}

/** Every seed of `units`, then the reader's end check. */
function readAll<Unit>(reader: SeedReader<Unit>, units: Iterable<Unit>): LocatedSeed[] {
  const out: LocatedSeed[] = [];
  for (const unit of units) out.push(...reader.take(unit));
  reader.end();
  return out;
}

function parseLocated(text: string, file: string, options: ReadSeedsOptions): LocatedSeed[] {
  const { field } = options;
  checkField(file, field);
  const normalized = normalizeNewlines(text);
  rejectNul(normalized, file);
  const format = detectSeedFormat(file, normalized, options.format ?? "auto");
  // Detected (not forced) JSON still reads `{`-first text with several objects, one per line, as JSONL.
  if (format === "json") return seedsFromJson(normalized, file, options.format === "json" ? "json" : "auto", field);
  if (format === "csv" || format === "tsv") {
    const delimiter = delimiterOf(format);
    const reader = csvSeedReader(file, delimiter, field, seedEmitter(file).emit);
    return readAll(reader, csvRowsOfText(normalized, file, delimiter));
  }
  return readAll(lineSeedReader(format, file, field), textLines(normalized));
}

/**
 * Parses seed instructions from the text of `file` (the name picks the format and appears in errors).
 * Pure: no file access. Throws `InputError` on the first problem.
 *
 * `field` is ignored for plain text and for records that are bare JSON strings.
 */
export function parseSeeds(text: string, file: string, options: ReadSeedsOptions = {}): Seed[] {
  return parseLocated(text, file, options).map((located) => located.seed);
}

/**
 * The seeds of a file, in order, as they are read. JSONL, plain text and CSV/TSV stream line by line
 * (memory does not grow with the file); a JSON document (`.json`, or content starting with `[`/`{` under
 * another name) is parsed whole. Every problem is an `InputError` naming the file and line; ids are checked
 * for uniqueness as they come, so a consumer must not act on the seeds before the generator has ended.
 */
export async function* streamSeeds(path: string, options: ReadSeedsOptions = {}): AsyncGenerator<LocatedSeed> {
  checkField(path, options.field);
  const head = normalizeNewlines(await fileHead(path));
  const format = detectSeedFormat(path, head, options.format ?? "auto");
  if (format === "json") {
    yield* parseLocated(await readInputText(path), path, options);
    return;
  }
  if (format === "csv" || format === "tsv") {
    const delimiter = delimiterOf(format);
    const reader = csvSeedReader(path, delimiter, options.field, seedEmitter(path).emit);
    for await (const row of streamCsvRows(path, delimiter)) yield* reader.take(row);
    reader.end();
    return;
  }
  const reader = lineSeedReader(format, path, options.field);
  for await (const line of fileLines(path)) yield* reader.take(line);
  reader.end();
}

/** Reads and validates a seed (or benchmark) file. Every problem is an `InputError` naming the file and line. */
export async function readSeeds(path: string, options: ReadSeedsOptions = {}): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for await (const { seed } of streamSeeds(path, options)) seeds.push(seed);
  return seeds;
}

/**
 * The seeds a run uses, read from a file of any size: identical seeds merged and a seeded sample drawn
 * as the file streams (lib/seed-sample.ts), so memory holds the sample, not the file. A seed longer than
 * `maxChars` is an `InputError` at its line.
 */
export async function readSeedSample(
  path: string,
  options: ReadSeedsOptions & { sampleSize: number | "all"; seed: number; maxChars: number },
): Promise<{ seeds: Seed[]; selection: SeedSelection }> {
  const selector = new SeedSelector({ sampleSize: options.sampleSize, seed: options.seed });
  for await (const { seed, line } of streamSeeds(path, options)) {
    if (seed.instruction.length > options.maxChars) {
      throw new InputError(
        path,
        line,
        `the instruction is ${seed.instruction.length} characters long, over the limit of ${options.maxChars} (--max-seed-chars; config maxSeedChars)`,
      );
    }
    selector.add(seed);
  }
  return selector.result();
}

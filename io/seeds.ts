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

/** A JSON value read from a file, with where it starts. */
export interface JsonRecord {
  /** 1-based line the record starts on. */
  line: number;
  /** 1-based position of the record in the file. */
  index: number;
  value: unknown;
}

export interface JsonRecords {
  records: JsonRecord[];
  /** `jsonl`: one value per line; `array`: elements of a JSON array (or of `{ "data": [...] }`); `object`: a single top-level object. */
  shape: "jsonl" | "array" | "object";
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

/** Drops a BOM and turns CRLF / lone CR line endings into LF (line numbers are unchanged for CRLF files). */
export function normalizeNewlines(text: string): string {
  const noBom = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return noBom.includes("\r") ? noBom.replace(/\r\n?/g, "\n") : noBom;
}

/** `\r` removed (CRLF and lone CR become LF) and surrounding whitespace trimmed. */
export function cleanText(s: string): string {
  return (s.includes("\r") ? s.replace(/\r\n?/g, "\n") : s).trim();
}

/** 1-based line and column of `offset` in LF-normalized text. */
function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: end - lineStart + 1 };
}

/** Number of the last non-blank line (1 for an empty text). */
function lastContentLine(text: string): number {
  const trimmed = text.trimEnd();
  return trimmed === "" ? 1 : lineColumnAt(trimmed, trimmed.length).line;
}

function firstNonBlankChar(text: string): string | undefined {
  const m = /\S/.exec(text);
  return m?.[0];
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function listFields(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  return keys.length === 0 ? "none (the object is empty)" : keys.join(", ");
}

/** Throws an InputError if the text holds a NUL character (binary content). */
function rejectNul(text: string, file: string): void {
  const nul = text.indexOf("\0");
  if (nul !== -1) {
    throw new InputError(
      file,
      lineColumnAt(text, nul).line,
      "contains NUL bytes: this looks like a binary file, not text (expected JSONL, JSON, CSV or plain text)",
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON and JSONL

/** The parser's message without its own position suffix (which counts from a different origin). */
function parserMessage(err: unknown): { message: string; position?: number } {
  const raw = err instanceof Error ? err.message : String(err);
  const pos = /\bat position (\d+)/.exec(raw);
  const message = raw
    .replace(/\s*\(line \d+ column \d+\)/, "")
    .replace(/\s*in JSON at position \d+/, "")
    .replace(/\s*at position \d+/, "")
    .trim();
  return pos?.[1] !== undefined ? { message, position: Number(pos[1]) } : { message };
}

/** Parses one JSONL line; errors name the line and the column the parser stopped at. */
function parseJsonLine(lineText: string, file: string, line: number): unknown {
  try {
    return JSON.parse(lineText);
  } catch (err) {
    const { message, position } = parserMessage(err);
    const where = position !== undefined ? ` (column ${position + 1})` : "";
    const hint = lineText.trimStart().startsWith("[")
      ? "; if the file is one JSON array, name it .json or pass --format json"
      : "";
    throw new InputError(file, line, `not valid JSON: ${message}${where}${hint}`);
  }
}

function parseJsonl(text: string, file: string): JsonRecord[] {
  const records: JsonRecord[] = [];
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    line++;
    const lineText = text.slice(start, end);
    if (lineText.trim() !== "") {
      records.push({ line, index: records.length + 1, value: parseJsonLine(lineText, file, line) });
    }
    start = end + 1;
  }
  return records;
}

/** Parses a whole-file JSON document; a syntax error names the line (and column) computed from the parser's position. */
function parseJsonDocument(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const { message, position } = parserMessage(err);
    let hint = "";
    if (/non-whitespace character after JSON/i.test(message)) {
      hint =
        "; the file holds more than one JSON value. If it is JSONL (one object per line), name it .jsonl or pass --format jsonl";
    }
    // A position inside trailing whitespace (truncated file) is reported at the last line with content.
    if (position !== undefined && position < text.trimEnd().length) {
      const { line, column } = lineColumnAt(text, position);
      throw new InputError(file, line, `not valid JSON: ${message} (column ${column})${hint}`);
    }
    throw new InputError(file, lastContentLine(text), `not valid JSON: ${message}${hint}`);
  }
}

/**
 * Offsets where the elements of a JSON array start, found by scanning `text` (which must be valid JSON).
 * `key` undefined: the top-level array; otherwise the array that is the value of `key` in the top-level object.
 */
function arrayElementOffsets(text: string, key?: string): number[] {
  const offsets: number[] = [];
  const targetDepth = key === undefined ? 1 : 2;
  let depth = 0;
  let inTarget = false;
  let expectValue = false;
  let expectKey = false;
  let lastKey: string | undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) continue;
    if (inTarget && depth === targetDepth && expectValue && c !== 0x5d /* ] */) {
      offsets.push(i);
      expectValue = false;
    }
    if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      if (key !== undefined && depth === 1 && !inTarget && expectKey) {
        lastKey = JSON.parse(text.slice(start, i + 1)) as string;
        expectKey = false;
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      const opensTarget =
        c === 0x5b &&
        !inTarget &&
        offsets.length === 0 &&
        (key === undefined ? depth === 0 : depth === 1 && lastKey === key);
      depth++;
      if (opensTarget) {
        inTarget = true;
        expectValue = true;
      } else if (key !== undefined && depth === 1 && c === 0x7b) {
        expectKey = true;
      }
    } else if (c === 0x5d || c === 0x7d) {
      if (inTarget && depth === targetDepth) return offsets;
      depth--;
    } else if (c === 0x2c /* , */) {
      if (inTarget && depth === targetDepth) expectValue = true;
      else if (key !== undefined && depth === 1 && !inTarget) expectKey = true;
    } else if (c === 0x3a /* : */) {
      if (key !== undefined && depth === 1) expectKey = false;
    }
  }
  return offsets;
}

/** Lines of ascending offsets, in one pass. */
function linesOfOffsets(text: string, offsets: number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let pos = 0;
  for (const off of offsets) {
    for (let i = text.indexOf("\n", pos); i !== -1 && i < off; i = text.indexOf("\n", i + 1)) {
      line++;
      pos = i + 1;
    }
    lines.push(line);
  }
  return lines;
}

function recordsOfDocument(text: string, file: string, parsed?: { doc: unknown }): JsonRecords {
  const doc = parsed === undefined ? parseJsonDocument(text, file) : parsed.doc;
  let elements: unknown[];
  let offsets: number[];
  if (Array.isArray(doc)) {
    elements = doc;
    offsets = arrayElementOffsets(text);
  } else if (isPlainObject(doc) && Array.isArray(doc.data)) {
    elements = doc.data;
    offsets = arrayElementOffsets(text, "data");
  } else if (isPlainObject(doc)) {
    const start = text.search(/\S/);
    return { records: [{ line: lineColumnAt(text, start).line, index: 1, value: doc }], shape: "object" };
  } else {
    throw new InputError(
      file,
      lineColumnAt(text, Math.max(0, text.search(/\S/))).line,
      `expected a JSON array of records (or an object with a "data" array), got ${describeType(doc)}`,
    );
  }
  // Offsets always match for valid JSON; a mismatch (duplicate "data" keys) falls back to the array's first line.
  const lines = offsets.length === elements.length ? linesOfOffsets(text, offsets) : undefined;
  const fallback = lineColumnAt(text, Math.max(0, text.search(/\S/))).line;
  return {
    records: elements.map((value, i) => ({ line: lines?.[i] ?? fallback, index: i + 1, value })),
    shape: "array",
  };
}

/**
 * Reads JSON records from LF-normalized text: JSONL, a JSON array, `{ "data": [...] }` or a single object.
 * `auto`: `.jsonl`/`.ndjson`/`.jsonlines` → JSONL; otherwise first non-blank character `[` → JSON array,
 * `{` → the whole text as one JSON value if it parses, else JSONL. Shared with the metadata reader.
 */
export function parseJsonRecords(text: string, file: string, format: "auto" | "json" | "jsonl"): JsonRecords {
  if (format === "jsonl") return { records: parseJsonl(text, file), shape: "jsonl" };
  if (format === "json") return recordsOfDocument(text, file);
  const ext = extname(file).toLowerCase();
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".jsonlines") {
    return { records: parseJsonl(text, file), shape: "jsonl" };
  }
  const first = firstNonBlankChar(text);
  if (first === "{") {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // JSONL when the first non-blank line is a JSON value on its own; otherwise a broken (pretty-printed)
      // document, whose error is better reported at the parser's position.
      const start = text.search(/\S/);
      const end = text.indexOf("\n", start);
      const firstLine = text.slice(start, end === -1 ? text.length : end);
      let firstLineParses = true;
      try {
        JSON.parse(firstLine);
      } catch {
        firstLineParses = false;
      }
      if (firstLineParses) return { records: parseJsonl(text, file), shape: "jsonl" };
      return recordsOfDocument(text, file);
    }
    return recordsOfDocument(text, file, { doc });
  }
  if (first === undefined) return { records: [], shape: "jsonl" };
  return recordsOfDocument(text, file);
}

// ---------------------------------------------------------------------------------------------------------------
// CSV / TSV

interface CsvRow {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 parser: fields separated by `delimiter`, records by LF (the text is LF-normalized), a field that starts
 * with `"` is quoted and may hold delimiters, newlines and doubled quotes `""`. A quote inside an unquoted field is
 * kept literally (lenient, as most spreadsheet exports expect). Blank rows are skipped.
 */
function parseCsv(text: string, file: string, delimiter: string, firstLine = 1): CsvRow[] {
  const rows: CsvRow[] = [];
  const n = text.length;
  const delim = delimiter.charCodeAt(0);
  let i = 0;
  let line = firstLine;
  while (i < n) {
    const rowLine = line;
    const fields: string[] = [];
    for (;;) {
      let value: string;
      if (text.charCodeAt(i) === 0x22) {
        const quoteLine = line;
        i++;
        value = "";
        for (;;) {
          const close = text.indexOf('"', i);
          if (close === -1) {
            throw new InputError(
              file,
              quoteLine,
              `unterminated quote: the quoted field in column ${fields.length + 1} that starts here never closes`,
            );
          }
          const chunk = text.slice(i, close);
          for (let k = chunk.indexOf("\n"); k !== -1; k = chunk.indexOf("\n", k + 1)) line++;
          value += chunk;
          if (text.charCodeAt(close + 1) === 0x22) {
            value += '"';
            i = close + 2;
          } else {
            i = close + 1;
            break;
          }
        }
        const next = text.charCodeAt(i);
        if (i < n && next !== delim && next !== 0x0a) {
          throw new InputError(
            file,
            line,
            `unexpected character ${JSON.stringify(text[i])} after the closing quote of column ${fields.length + 1}` +
              ` (a quote inside a quoted field must be doubled: "")`,
          );
        }
      } else {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === delim || d === 0x0a) break;
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      fields.push(value);
      if (i < n && text.charCodeAt(i) === delim) {
        i++;
        continue;
      }
      if (i < n) {
        i++; // the newline
        line++;
      }
      break;
    }
    if (fields.some((f) => f.trim() !== "")) rows.push({ line: rowLine, fields });
  }
  return rows;
}

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

function pickInstruction(obj: Record<string, unknown>, line: number, ctx: SeedContext): { field: string; text: string } {
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
  const hint = near.length > 0 ? ` (did you mean --field ${near[0]}?)` : "; pass --field NAME to say which field holds it";
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
    throw new InputError(file, line, `expected a JSON object or string for the record, got ${describeType(value)}${hint}`);
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

/** Formats read line by line (a file of any size streams through them). */
type LineFormat = "jsonl" | "text" | "csv" | "tsv";

interface LineSeedReader {
  /** The seeds completed by this line (none, or one; a quoted CSV field may span lines). */
  push(line: number, text: string): LocatedSeed[];
  /** The seeds left at the end of the file; throws when the file held none. */
  end(): LocatedSeed[];
}

/** Updates `state` over one CSV line: whether the record goes on inside a quoted field (parseCsv's rules). */
function scanCsvLine(text: string, delimiter: number, state: { inQuotes: boolean }): void {
  let fieldStart = !state.inQuotes;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (state.inQuotes) {
      if (c === 0x22) {
        if (text.charCodeAt(i + 1) === 0x22) i++;
        else state.inQuotes = false;
      }
    } else if (fieldStart && c === 0x22) {
      state.inQuotes = true;
      fieldStart = false;
    } else {
      fieldStart = c === delimiter;
    }
  }
}

function csvLineReader(file: string, delimiter: string, field: string | undefined, emit: (seed: Seed, line: number) => LocatedSeed): LineSeedReader {
  const kind = delimiter === "\t" ? "TSV" : "CSV";
  const quotes = { inQuotes: false };
  let pending: string[] | undefined;
  let pendingLine = 0;
  let header: { columns: string[]; line: number } | undefined;
  let column = "";
  let dataRows = 0;

  const headerOf = (row: CsvRow) => {
    const columns = row.fields.map((c) => c.trim());
    if (field !== undefined) {
      if (!columns.includes(field)) {
        const near = columns.find((c) => c.toLowerCase() === field.toLowerCase());
        throw new InputError(
          file,
          row.line,
          `column "${field}" (from --field) not found in the ${kind} header` +
            (near !== undefined ? ` (did you mean "${near}"?)` : "") +
            `; the header has columns: ${columns.join(", ")}`,
        );
      }
      column = field;
    } else {
      const found = INSTRUCTION_FIELDS.find((f) => columns.includes(f));
      if (found === undefined) {
        throw new InputError(
          file,
          row.line,
          `no instruction column in the ${kind} header (looked for ${INSTRUCTION_FIELDS.join(", ")}); ` +
            `the header has columns: ${columns.join(", ")}; pass --field NAME to say which column holds it`,
        );
      }
      column = found;
    }
    return { columns, line: row.line };
  };

  const seedOf = (row: CsvRow, columns: string[]): LocatedSeed => {
    if (row.fields.length > columns.length && row.fields.slice(columns.length).some((f) => f.trim() !== "")) {
      throw new InputError(
        file,
        row.line,
        `row has ${row.fields.length} fields but the header has ${columns.length} columns` +
          ` (a field holding "${delimiter === "\t" ? "\\t" : delimiter}" must be quoted)`,
      );
    }
    // First occurrence wins when a column name repeats; missing trailing cells are empty.
    const obj: Record<string, unknown> = {};
    columns.forEach((name, c) => {
      if (!Object.hasOwn(obj, name)) obj[name] = row.fields[c] ?? "";
    });
    const ctx: SeedContext = { file, field: column, fallbackId: (r) => `seed-${r.line}` };
    return emit(recordToSeed(obj, { line: row.line, index: ++dataRows }, ctx), row.line);
  };

  const rowsOf = (text: string, line: number): LocatedSeed[] => {
    const out: LocatedSeed[] = [];
    for (const row of parseCsv(text, file, delimiter, line)) {
      if (header === undefined) header = headerOf(row);
      else out.push(seedOf(row, header.columns));
    }
    return out;
  };

  return {
    push(line, text) {
      if (pending === undefined) {
        pending = [];
        pendingLine = line;
      }
      pending.push(text);
      scanCsvLine(text, delimiter.charCodeAt(0), quotes);
      if (quotes.inQuotes) return [];
      const record = pending.join("\n");
      pending = undefined;
      return rowsOf(record, pendingLine);
    },
    end() {
      // An open quote at the end of the file: parseCsv names the line where it opened.
      const out = pending === undefined ? [] : rowsOf(pending.join("\n"), pendingLine);
      if (header === undefined) throw new InputError(file, undefined, "no instructions found: the file is empty");
      if (dataRows === 0) throw new InputError(file, undefined, `no instructions found: the ${kind} file has only a header row`);
      return out;
    },
  };
}

/** The line-by-line reader for `format`; ids are checked for uniqueness as seeds complete. */
function lineSeedReader(format: LineFormat, file: string, field?: string): LineSeedReader {
  const idLines = new Map<string, number>();
  let count = 0;
  let lines = 0;
  const emit = (seed: Seed, line: number): LocatedSeed => {
    const first = idLines.get(seed.id);
    if (first !== undefined) {
      throw new InputError(file, line, `duplicate id "${seed.id}": already used on line ${first}; ids must be unique`);
    }
    idLines.set(seed.id, line);
    count++;
    return { seed, line };
  };
  if (format === "csv" || format === "tsv") return csvLineReader(file, format === "tsv" ? "\t" : ",", field, emit);
  if (format === "text") {
    return {
      push(line, text) {
        lines++;
        const instruction = text.trim();
        return instruction === "" ? [] : [emit({ id: `seed-${line}`, instruction }, line)];
      },
      end() {
        if (count === 0) {
          throw new InputError(
            file,
            undefined,
            lines > 0 ? "no instructions found: the file has only blank lines" : "no instructions found: the file is empty",
          );
        }
        return [];
      },
    };
  }
  const ctx: SeedContext = {
    file,
    ...(field !== undefined ? { field } : {}),
    fallbackId: (r) => `seed-${r.line}`,
    arrayRecordHint: "; if the file is one JSON array, name it .json or pass --format json",
  };
  let records = 0;
  return {
    push(line, text) {
      if (text.trim() === "") return [];
      const value = parseJsonLine(text, file, line);
      return [emit(recordToSeed(value, { line, index: ++records }, ctx), line)];
    },
    end() {
      if (count === 0) throw new InputError(file, undefined, "no instructions found: the file is empty");
      return [];
    },
  };
}

function checkField(file: string, field: string | undefined): void {
  if (field !== undefined && field.trim() === "") throw new InputError(file, undefined, "--field must not be empty");
}

/** Text split as the file reader splits it: LF, CRLF or lone CR. */
function* textLines(normalized: string): Generator<{ line: number; text: string }> {
  if (normalized === "") return;
  const parts = normalized.split("\n");
  if (parts.at(-1) === "") parts.pop();
  for (let i = 0; i < parts.length; i++) yield { line: i + 1, text: parts[i]! };
}

function parseLocated(text: string, file: string, options: ReadSeedsOptions): LocatedSeed[] {
  const { field } = options;
  checkField(file, field);
  const normalized = normalizeNewlines(text);
  rejectNul(normalized, file);
  const format = detectSeedFormat(file, normalized, options.format ?? "auto");
  // Detected (not forced) JSON still reads `{`-first text with several objects, one per line, as JSONL.
  if (format === "json") return seedsFromJson(normalized, file, options.format === "json" ? "json" : "auto", field);
  const reader = lineSeedReader(format, file, field);
  const out: LocatedSeed[] = [];
  for (const { line, text: lineText } of textLines(normalized)) out.push(...reader.push(line, lineText));
  out.push(...reader.end());
  return out;
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
  const reader = lineSeedReader(format, path, options.field);
  for await (const { line, text } of fileLines(path)) yield* reader.push(line, text);
  yield* reader.end();
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

/**
 * Reading records from a user's data file, whatever the records mean: JSONL, JSON (an array, `{ "data": [...] }` or
 * one object) and CSV/TSV (through csv-parse). Every record carries the line it starts on, and every problem is an
 * `InputError` naming the file and line. The seed reader (seeds.ts), the metadata reader and the answers reader
 * map these records to what they hold.
 */
import { extname } from "node:path";
import { CsvError, type Options as CsvOptions, parse as csvStream } from "csv-parse";
import { parse as csvSync } from "csv-parse/sync";
import { InputError } from "./input-error.js";
import { fileLines } from "./lines.js";

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

export function firstNonBlankChar(text: string): string | undefined {
  const m = /\S/.exec(text);
  return m?.[0];
}

export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function listFields(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj);
  return keys.length === 0 ? "none (the object is empty)" : keys.join(", ");
}

/** Throws an InputError if the text holds a NUL character (binary content). */
export function rejectNul(text: string, file: string): void {
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
export function parseJsonLine(lineText: string, file: string, line: number): unknown {
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
// CSV / TSV (csv-parse: RFC 4180 quoting, strict about quotes)

/** One CSV row: its fields and the line it starts on (a quoted field may span lines). */
export interface CsvRow {
  line: number;
  fields: string[];
}

/** Text split as the file reader splits it (the text is LF-normalized). */
export function* textLines(normalized: string): Generator<{ line: number; text: string }> {
  if (normalized === "") return;
  const parts = normalized.split("\n");
  if (parts.at(-1) === "") parts.pop();
  for (let i = 0; i < parts.length; i++) yield { line: i + 1, text: parts[i]! };
}

/** csv-parse's options: blank lines stay rows (of one empty field), so that counting rows counts lines. */
const csvOptions = (delimiter: string): CsvOptions => ({ delimiter, record_delimiter: "\n", relax_column_count: true });

/**
 * Numbers the rows as csv-parse gives them: each starts on the line after the one before ended, and spans one line
 * more than the line breaks inside its quoted fields. Rows of nothing but blanks are dropped here. `line` is where
 * the next row starts (an unclosed row, when parsing fails).
 */
class RowLines {
  line = 1;
  next(fields: string[]): CsvRow | undefined {
    const start = this.line;
    this.line++;
    for (const field of fields) for (let i = field.indexOf("\n"); i !== -1; i = field.indexOf("\n", i + 1)) this.line++;
    return fields.some((f) => f.trim() !== "") ? { line: start, fields } : undefined;
  }
}

/** csv-parse's error as an `InputError` at its line (an unclosed quote: the line its row starts on). */
function csvInputError(error: unknown, file: string, openRowLine: number | undefined): unknown {
  if (!(error instanceof CsvError)) return error;
  const line = typeof error.lines === "number" ? error.lines : undefined;
  const column = typeof error.column === "number" ? error.column + 1 : undefined;
  switch (error.code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return new InputError(
        file,
        openRowLine ?? line,
        `unterminated quote: a quoted field (column ${column ?? "?"}) of the row that starts here never closes`,
      );
    case "CSV_INVALID_CLOSING_QUOTE":
      return new InputError(
        file,
        line,
        `unexpected character after the closing quote of column ${column ?? "?"} (a quote inside a quoted field must be doubled: "")`,
      );
    case "INVALID_OPENING_QUOTE":
      return new InputError(
        file,
        line,
        `a quote inside the unquoted field of column ${column ?? "?"}: put the whole field in quotes and double the quote ("")`,
      );
    default:
      return new InputError(file, line, `not valid CSV: ${error.message.replace(/\s*at line \d+/, "")}`);
  }
}

/** The rows of LF-normalized CSV/TSV text. */
export function csvRowsOfText(text: string, file: string, delimiter: string): CsvRow[] {
  const lines = new RowLines();
  const rows: CsvRow[] = [];
  const keep = (fields: string[]): null => {
    const row = lines.next(fields);
    if (row !== undefined) rows.push(row);
    return null;
  };
  try {
    csvSync(text, { ...csvOptions(delimiter), on_record: keep });
  } catch (error) {
    throw csvInputError(error, file, lines.line);
  }
  return rows;
}

/** The file's lines as LF-terminated text in blocks of about 64 KB (csv-parse's input). */
async function* lineBlocks(path: string): AsyncGenerator<string> {
  let block = "";
  for await (const { text } of fileLines(path)) {
    block += `${text}\n`;
    if (block.length >= 65536) {
      yield block;
      block = "";
    }
  }
  if (block !== "") yield block;
}

/** Writes one block to the parser; resolves once it is parsed (csv-parse parses a block synchronously). */
function parseBlock(parser: ReturnType<typeof csvStream>, block: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error | null) => (error ? reject(error) : resolve());
    if (block === undefined) parser.end(done);
    else parser.write(block, done);
  });
}

/** The rows of a CSV/TSV file as they are parsed: memory holds a block of lines, not the file. */
export async function* streamCsvRows(path: string, delimiter: string): AsyncGenerator<CsvRow> {
  const lines = new RowLines();
  // A block's records wait in the stream until read: room for all of them, so a write never waits for a read.
  const parser = csvStream({ ...csvOptions(delimiter), highWaterMark: 1 << 20 } as CsvOptions);
  parser.on("error", () => {}); // each write's callback gets the error
  const parsedRows = function* (): Generator<CsvRow> {
    for (let fields = parser.read() as string[] | null; fields !== null; fields = parser.read() as string[] | null) {
      const row = lines.next(fields);
      if (row !== undefined) yield row;
    }
  };
  try {
    for await (const block of lineBlocks(path)) {
      await parseBlock(parser, block);
      yield* parsedRows();
    }
    await parseBlock(parser, undefined);
    yield* parsedRows();
  } catch (error) {
    throw csvInputError(error, path, lines.line);
  } finally {
    parser.destroy();
  }
}

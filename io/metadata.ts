/**
 * Reader for hand-written instruction metadata (`codeclm generate --metadata FILE`).
 *
 * The file is JSONL (one object per line) or a JSON array (also `{ "data": [...] }`, or a single object) of
 * `{ "useCase": string, "skills": string[] }`. Also accepted: `use_case` for `useCase`, and `skills` as one
 * comma-separated string. Other fields are ignored. Every problem is an `InputError` (`FILE:LINE: ...`) thrown
 * before anything is returned.
 */
import { type ReviewedEntry, ReviewProblem, reviewedPool } from "../lib/review.js";
import { type Metadata, type PoolEntry, PoolEntrySchema } from "../lib/records.js";
import { InputError, readInputText } from "./input-error.js";
import { cleanText, normalizeNewlines, parseJsonRecords } from "./record-reader.js";

export interface ReadMetadataOptions {
  /** Most skills one metadata may list (the paper's k). A record with more is an error, never truncated. */
  skillsMax: number;
  /** `auto` (default): `.jsonl`/`.ndjson` → JSONL; otherwise `[` → JSON array, `{` → JSON object(s). */
  format?: "auto" | "jsonl" | "json";
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function recordToMetadata(value: unknown, line: number, file: string, skillsMax: number): Metadata {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(
      file,
      line,
      `expected an object like {"useCase": "...", "skills": ["..."]}, got ${describeType(value)}`,
    );
  }
  const obj = value as Record<string, unknown>;
  const fields = Object.keys(obj).join(", ") || "none (the object is empty)";

  const useCaseKey = obj.useCase !== undefined && obj.useCase !== null ? "useCase" : "use_case";
  const rawUseCase = obj[useCaseKey];
  if (rawUseCase === undefined || rawUseCase === null) {
    throw new InputError(file, line, `no "useCase" (or "use_case") field; the record has fields: ${fields}`);
  }
  if (typeof rawUseCase !== "string") {
    throw new InputError(file, line, `"${useCaseKey}" must be a string, got ${describeType(rawUseCase)}`);
  }
  const useCase = cleanText(rawUseCase);
  if (useCase === "") throw new InputError(file, line, `"${useCaseKey}" is empty`);

  const rawSkills = obj.skills;
  if (rawSkills === undefined || rawSkills === null) {
    throw new InputError(file, line, `no "skills" field; the record has fields: ${fields}`);
  }
  let items: unknown[];
  if (typeof rawSkills === "string") items = rawSkills.split(",");
  else if (Array.isArray(rawSkills)) items = rawSkills;
  else {
    throw new InputError(
      file,
      line,
      `"skills" must be an array of strings or a comma-separated string, got ${describeType(rawSkills)}`,
    );
  }
  const skills: string[] = [];
  items.forEach((item, i) => {
    if (typeof item !== "string") {
      throw new InputError(file, line, `skill ${i + 1} must be a string, got ${describeType(item)}`);
    }
    const skill = cleanText(item);
    if (skill === "") throw new InputError(file, line, `skill ${i + 1} is empty`);
    if (skills.some((s) => s.toLowerCase() === skill.toLowerCase())) {
      throw new InputError(file, line, `skill "${skill}" is listed twice`);
    }
    skills.push(skill);
  });
  if (skills.length === 0) throw new InputError(file, line, `"skills" is empty; give 1 to ${skillsMax} skills`);
  if (skills.length > skillsMax) {
    throw new InputError(
      file,
      line,
      `${skills.length} skills given but at most ${skillsMax} are allowed (skillsMax); remove some, they are not truncated`,
    );
  }
  return { useCase, skills };
}

/** A bad `skillsMax` is a programming error, not an input error. */
function checkSkillsMax(skillsMax: number): void {
  if (!Number.isInteger(skillsMax) || skillsMax < 1) {
    throw new RangeError(`skillsMax must be a positive integer, got ${skillsMax}`);
  }
}

/** Parses metadata from the text of `file` (the name picks JSONL vs JSON and appears in errors). Pure. */
export function parseMetadata(text: string, file: string, options: ReadMetadataOptions): Metadata[] {
  const { skillsMax } = options;
  checkSkillsMax(skillsMax);
  const normalized = normalizeNewlines(text);
  const nul = normalized.indexOf("\0");
  if (nul !== -1) {
    const line = normalized.slice(0, nul).split("\n").length;
    throw new InputError(file, line, "contains NUL bytes: this looks like a binary file, not JSONL or JSON");
  }
  const format = options.format ?? "auto";
  const first = /\S/.exec(normalized)?.[0];
  if (
    format === "auto" &&
    first !== undefined &&
    first !== "[" &&
    first !== "{" &&
    !/\.(jsonl|ndjson|jsonlines|json)$/i.test(file)
  ) {
    const line = normalized.slice(0, normalized.search(/\S/)).split("\n").length;
    throw new InputError(
      file,
      line,
      'expected JSONL (one {"useCase": "...", "skills": ["..."]} object per line) or a JSON array of such objects',
    );
  }
  const { records, shape } = parseJsonRecords(normalized, file, format);
  if (records.length === 0) {
    throw new InputError(
      file,
      undefined,
      shape === "array" ? "no metadata found: the JSON array is empty" : "no metadata found: the file is empty",
    );
  }
  return records.map((r) => recordToMetadata(r.value, r.line, file, skillsMax));
}

/** Reads and validates a user-written metadata file. */
export async function readMetadata(path: string, options: ReadMetadataOptions): Promise<Metadata[]> {
  checkSkillsMax(options.skillsMax);
  const text = await readInputText(path);
  return parseMetadata(text, path, options);
}

const ORIGINS = PoolEntrySchema.shape.origin.options;

/** One entry of a reviewed pool: its metadata (checked as above) and, when it has one, its id, origin and seeds. */
function reviewEntryOf(value: unknown, line: number, file: string, skillsMax: number): ReviewedEntry {
  const metadata = recordToMetadata(value, line, file, skillsMax);
  const obj = value as Record<string, unknown>;
  const entry: ReviewedEntry = { metadata, line };
  if (obj.id !== undefined && obj.id !== null && obj.id !== "") {
    if (typeof obj.id !== "string")
      throw new InputError(file, line, `"id" must be a string, got ${describeType(obj.id)}`);
    entry.id = obj.id;
  }
  if (obj.origin !== undefined && obj.origin !== null) {
    if (typeof obj.origin !== "string" || !(ORIGINS as readonly string[]).includes(obj.origin))
      throw new InputError(file, line, `"origin" must be one of ${ORIGINS.join(", ")}`);
    entry.origin = obj.origin as PoolEntry["origin"];
  }
  if (obj.seedIds !== undefined && obj.seedIds !== null) {
    if (!Array.isArray(obj.seedIds) || obj.seedIds.some((id) => typeof id !== "string"))
      throw new InputError(file, line, `"seedIds" must be an array of strings`);
    entry.seedIds = obj.seedIds as string[];
  }
  return entry;
}

/** A reviewed pool from records with their lines; every problem is an `InputError` naming `file` and the line. */
export function poolFromRecords(
  records: ReadonlyArray<{ value: unknown; line: number }>,
  file: string,
  skillsMax: number,
): { pool: PoolEntry[]; added: number } {
  checkSkillsMax(skillsMax);
  const entries = records.map((record) => reviewEntryOf(record.value, record.line, file, skillsMax));
  try {
    return reviewedPool(entries);
  } catch (error) {
    if (error instanceof ReviewProblem) throw new InputError(file, error.line, error.reason);
    throw error;
  }
}

/**
 * Reads a pool file (`OUT.pool.jsonl`, written by `generate --review-pool`, edited by a person): one
 * metadata per line, `{"id", "useCase", "skills", "origin", "seedIds"}`; a line without an id is new.
 */
export async function readPoolFile(
  path: string,
  skillsMax: number,
): Promise<{ pool: PoolEntry[]; added: number; records: unknown[] }> {
  const text = normalizeNewlines(await readInputText(path));
  const { records } = parseJsonRecords(text, path, "jsonl");
  return { ...poolFromRecords(records, path, skillsMax), records: records.map((record) => record.value) };
}

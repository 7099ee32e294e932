import { readFile, stat } from "node:fs/promises";

/**
 * A problem with a file the user gave us (seeds, metadata, benchmark).
 *
 * The message always starts with the file and, when known, the 1-based line: `FILE:LINE: what is wrong`
 * or `FILE: what is wrong`. The CLI prints `error.message` as is and exits with status 2.
 */
export class InputError extends Error {
  override name = "InputError";
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based line the problem is on, when there is one. */
  readonly line?: number;
  /** The message without the `FILE:LINE: ` prefix. */
  readonly reason: string;

  constructor(file: string, line: number | undefined, reason: string, options?: { cause?: unknown }) {
    super(line === undefined ? `${file}: ${reason}` : `${file}:${line}: ${reason}`, options);
    this.file = file;
    if (line !== undefined) this.line = line;
    this.reason = reason;
  }
}

/** 1-based line holding the byte at `index`. */
function lineOfByte(buf: Uint8Array, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (buf[i] === 0x0a) line++;
  return line;
}

/** 1-based line of the first byte sequence that is not valid UTF-8 (only called once decoding has failed). */
function firstBadUtf8Line(buf: Uint8Array): number | undefined {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= buf.length; i++) {
    if (i === buf.length || buf[i] === 0x0a) {
      try {
        decoder.decode(buf.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return undefined;
}

/**
 * Checks the raw bytes of an input file and decodes them as UTF-8 text (a leading BOM is dropped).
 * Throws an `InputError` for compressed, UTF-16, binary or otherwise non-UTF-8 content.
 */
export function decodeInputBytes(buf: Uint8Array, file: string): string {
  const b0 = buf[0];
  const b1 = buf[1];
  if (b0 === 0x1f && b1 === 0x8b) {
    throw new InputError(file, undefined, "is gzip-compressed; decompress it first (e.g. `gunzip`)");
  }
  if (b0 === 0x50 && b1 === 0x4b && buf[2] === 0x03 && buf[3] === 0x04) {
    throw new InputError(
      file,
      undefined,
      "is a ZIP archive (an .xlsx spreadsheet?), not a text file; export it as CSV, JSONL or JSON",
    );
  }
  if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
    throw new InputError(file, undefined, "is UTF-16 encoded; save it as UTF-8");
  }
  const nul = buf.indexOf(0);
  if (nul !== -1) {
    throw new InputError(
      file,
      lineOfByte(buf, nul),
      "contains NUL bytes: this looks like a binary file, not text (expected JSONL, JSON, CSV or plain text)",
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(buf);
  } catch {
    throw new InputError(
      file,
      firstBadUtf8Line(buf),
      "is not valid UTF-8 text; save it as UTF-8 (it may be Latin-1/Windows-1252 or a binary file)",
    );
  }
}

/** Node's fs error code, when `err` is one. */
function errnoCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

/**
 * Reads a user-supplied input file as UTF-8 text.
 * Every failure (missing, a directory, no permission, binary, bad encoding) is an `InputError` naming the file.
 */
export async function readInputText(path: string): Promise<string> {
  let buf: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new InputError(path, undefined, "is a directory, not a file");
    buf = await readFile(path);
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = errnoCode(err);
    const reason =
      code === "ENOENT"
        ? "file not found"
        : code === "EACCES" || code === "EPERM"
          ? "cannot read the file: permission denied"
          : code === "EISDIR"
            ? "is a directory, not a file"
            : code === "ENOTDIR"
              ? "file not found (a parent in the path is not a directory)"
              : `cannot read the file: ${err instanceof Error ? err.message : String(err)}`;
    throw new InputError(path, undefined, reason, { cause: err });
  }
  return decodeInputBytes(buf, path);
}

/**
 * A user's input file, read as lines without holding the whole file: blocks of whole lines are checked
 * (gzip/ZIP/UTF-16 at the start, NUL bytes, UTF-8) and decoded one at a time, so a problem is still
 * reported with its file and line. Line breaks are LF, CRLF or a lone CR (as `normalizeNewlines`);
 * a leading BOM is dropped.
 */
import { type FileHandle, open, stat } from "node:fs/promises";
import { InputError, decodeInputBytes, readInputText } from "./input-error.js";

const CHUNK_BYTES = 1 << 20;

/** The block's checks and decoding, with errors moved to the block's place in the file. */
function decodeBlock(block: Uint8Array, file: string, linesBefore: number, first: boolean): string {
  try {
    if (first) return decodeInputBytes(block, file);
    // Only the file's first bytes may carry a BOM or a format's magic number.
    if (block.indexOf(0) !== -1) throw new InputError(file, lineOfNul(block), NUL_REASON);
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(block);
  } catch (error) {
    if (error instanceof InputError) {
      throw new InputError(file, error.line === undefined ? undefined : error.line + linesBefore, error.reason);
    }
    // Invalid UTF-8 in a later block: decodeInputBytes finds its line.
    try {
      decodeInputBytes(block, file);
    } catch (inner) {
      if (inner instanceof InputError) {
        throw new InputError(file, inner.line === undefined ? undefined : inner.line + linesBefore, inner.reason);
      }
    }
    throw error;
  }
}

const NUL_REASON =
  "contains NUL bytes: this looks like a binary file, not text (expected JSONL, JSON, CSV or plain text)";

function lineOfNul(block: Uint8Array): number {
  const nul = block.indexOf(0);
  let line = 1;
  for (let i = block.indexOf(0x0a); i !== -1 && i < nul; i = block.indexOf(0x0a, i + 1)) line++;
  return line;
}

const BREAK = /\r\n?|\n/;

/** The file opened for reading; one that cannot be (missing, a directory, no permission) is `readInputText`'s `InputError`. */
async function openInput(path: string): Promise<FileHandle> {
  try {
    if (!(await stat(path)).isDirectory()) return await open(path, "r");
  } catch {
    // readInputText names the problem.
  }
  await readInputText(path);
  throw new InputError(path, undefined, "cannot read the file");
}

/** The lines of `path`, in order, 1-based line numbers counting every line (blank ones too). */
export async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const handle = await openInput(path);
  try {
    let carry: Uint8Array = new Uint8Array(0);
    let line = 0;
    let first = true;
    const buffer = new Uint8Array(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, null);
      const done = bytesRead === 0;
      if (done && carry.length === 0) return;
      const data = done ? carry : concat(carry, buffer.subarray(0, bytesRead));
      // Binary content is reported before any line of the bytes read is used.
      const nul = data.indexOf(0);
      if (nul !== -1) decodeBlock(data.subarray(0, nul + 1), path, line, first);
      // Decode whole lines only: a character split across reads, or an error, stays on its own line.
      const end = done ? data.length : data.lastIndexOf(0x0a) + 1;
      if (end > 0) {
        const text = decodeBlock(data.subarray(0, end), path, line, first);
        first = false;
        const parts = text.split(BREAK);
        // A block of whole lines ends with a break: its last part is empty, not a line.
        if (!done || text.endsWith("\n") || text.endsWith("\r")) parts.pop();
        for (const part of parts) yield { line: ++line, text: part };
      }
      carry = data.slice(end);
      if (done) return;
    }
  } finally {
    await handle.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The first `bytes` of a file, decoded leniently: enough to sniff its format. */
export async function fileHead(path: string, bytes = 4096): Promise<string> {
  const handle = await openInput(path);
  try {
    const buffer = new Uint8Array(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return new TextDecoder("utf-8").decode(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

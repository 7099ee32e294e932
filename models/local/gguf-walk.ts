/**
 * A bounded walk over a GGUF header: every count and length is checked against the bytes left in the file before
 * anything is read, and each metadata key's stored type is kept. Values are not decoded (node-llama-cpp's
 * `readGgufFileInfo` does that once this walk has passed); the walk exists because that reader zero-fills reads
 * past the end of the file, so a corrupt array length or a header cut short makes it read on and report garbage.
 */
import { open } from "node:fs/promises";
import { GgufType } from "./gguf-types.js";

/** The stored type of each metadata key (for arrays, also the element type). */
export type KeyTypes = Map<string, { type: number; elementType?: number }>;

export type HeaderWalk = { ok: true; keyTypes: KeyTypes } | { ok: false; problem: string };

/** Encoded size of one value of each fixed-size type; strings (8-byte length + bytes) and arrays vary. */
const FIXED_SIZE: Record<number, number> = {
  [GgufType.Uint8]: 1,
  [GgufType.Int8]: 1,
  [GgufType.Uint16]: 2,
  [GgufType.Int16]: 2,
  [GgufType.Uint32]: 4,
  [GgufType.Int32]: 4,
  [GgufType.Float32]: 4,
  [GgufType.Bool]: 1,
  [GgufType.Uint64]: 8,
  [GgufType.Int64]: 8,
  [GgufType.Float64]: 8,
};

/** Thrown when the buffer in memory ends before the header does but the file has more bytes. */
class NeedMore extends Error {}
/** Thrown when the header claims more bytes than the file has. */
class Truncated extends Error {}
/** Thrown for structurally invalid headers. */
class Corrupt extends Error {}

class Cursor {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly fileSize: number,
  ) {}
  /** Moves past `n` bytes, returning where they start. */
  skip(n: number, what: string): number {
    const start = this.pos;
    const end = start + n;
    if (end > this.fileSize)
      throw new Truncated(`the file ends at byte ${this.fileSize} but ${what} needs bytes up to ${end}`);
    if (end > this.buf.length) throw new NeedMore();
    this.pos = end;
    return start;
  }
  u32(what: string): number {
    return this.buf.readUInt32LE(this.skip(4, what));
  }
  u64(what: string): bigint {
    return this.buf.readBigUInt64LE(this.skip(8, what));
  }
  /** Reads a u64 count and checks that `count * minItemSize` bytes can still follow. */
  count(what: string, minItemSize: number): number {
    const n = this.u64(what);
    const left = this.fileSize - this.pos;
    if (n * BigInt(minItemSize) > BigInt(left))
      throw new Truncated(`${what} claims ${n} items, more than the ${left} bytes left in the file`);
    return Number(n);
  }
  string(what: string): string {
    const n = this.count(`the length of ${what}`, 1);
    const start = this.skip(n, what);
    return this.buf.toString("utf8", start, start + n);
  }
  skipValue(type: number, what: string): void {
    if (type === GgufType.String) this.string(what);
    else if (FIXED_SIZE[type] !== undefined) this.skip(FIXED_SIZE[type], what);
    else throw new Corrupt(`${what} has unknown value type ${type}`);
  }
}

function walkMetadata(c: Cursor, kvCount: number): KeyTypes {
  const keyTypes: KeyTypes = new Map();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32(`the type of "${key}"`);
    if (type !== GgufType.Array) {
      c.skipValue(type, `the value of "${key}"`);
      keyTypes.set(key, { type });
      continue;
    }
    const elementType = c.u32(`the element type of "${key}"`);
    const min = elementType === GgufType.String ? 8 : FIXED_SIZE[elementType];
    if (min === undefined) throw new Corrupt(`"${key}" is an array of unsupported type ${elementType}`);
    const n = c.count(`the array "${key}"`, min);
    if (elementType === GgufType.String) for (let j = 0; j < n; j++) c.string(`item ${j} of "${key}"`);
    else c.skip(n * min, `the array "${key}"`);
    keyTypes.set(key, { type, elementType });
  }
  return keyTypes;
}

function walkTensorInfos(c: Cursor, tensorCount: number): void {
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`the name of tensor #${i}`);
    const nDims = c.u32(`the dimension count of tensor "${name}"`);
    if (nDims < 1 || nDims > 4) throw new Corrupt(`tensor "${name}" has ${nDims} dimensions (1 to 4 allowed)`);
    c.skip(8 * nDims + 4 + 8, `the shape, type and offset of tensor "${name}"`);
  }
}

function walk(buf: Buffer, fileSize: number): KeyTypes {
  const c = new Cursor(buf, fileSize);
  c.pos = 8; // magic and version checked by the caller
  const tensorCount = c.u64("the tensor count");
  const kvCount = c.u64("the metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 8 + 4 + 8.
  const left = BigInt(fileSize - c.pos);
  if (kvCount * 13n > left)
    throw new Truncated(`the header claims ${kvCount} metadata entries, more than the file can hold`);
  if (tensorCount * 32n > left)
    throw new Truncated(`the header claims ${tensorCount} tensors, more than the file can hold`);
  const keyTypes = walkMetadata(c, Number(kvCount));
  walkTensorInfos(c, Number(tensorCount));
  return keyTypes;
}

/** Walks the header of a file already known to start with a GGUF v2/v3 magic, growing the window until it fits. */
export async function walkGgufHeader(filePath: string, fileSize: number): Promise<HeaderWalk> {
  const fh = await open(filePath, "r");
  try {
    for (let windowSize = Math.min(fileSize, 8 * 1024 * 1024); ; windowSize = Math.min(fileSize, windowSize * 4)) {
      const buf = Buffer.alloc(windowSize);
      const { bytesRead } = await fh.read(buf, 0, windowSize, 0);
      try {
        return { ok: true, keyTypes: walk(buf.subarray(0, bytesRead), fileSize) };
      } catch (err) {
        if (err instanceof Truncated)
          return { ok: false, problem: `the header is cut short or corrupt: ${err.message} (truncated download?)` };
        if (err instanceof Corrupt) return { ok: false, problem: `the header is corrupt: ${err.message}` };
        if (!(err instanceof NeedMore)) throw err;
        if (windowSize >= fileSize)
          return {
            ok: false,
            problem: "the header is cut short or corrupt: the header does not fit in the file (truncated download?)",
          };
      }
    }
  } finally {
    await fh.close();
  }
}

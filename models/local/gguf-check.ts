/**
 * Checks a GGUF file before node-llama-cpp loads it.
 *
 * llama.cpp aborts the whole process (GGML_ASSERT, exit 134) on some broken files instead of throwing: measured with
 * node-llama-cpp 3.22 on a llama GGUF, a missing or zero `<arch>.attention.head_count` or `<arch>.feed_forward_length`
 * and a zero `<arch>.block_count` abort. Other problems (missing context length, width, block count, rms epsilon,
 * tokenizer model/tokens/merges, unknown architecture, truncated data) only give "Failed to load model", which does
 * not say what is wrong. This module reads the header itself, bounds-checking every read against the file size (the
 * node-llama-cpp reader zero-fills reads past the end of a truncated file and reports garbage), and reports every
 * problem it finds by name.
 */
import { open, stat } from "node:fs/promises";
import * as nodeLlamaCpp from "node-llama-cpp";
import { GgufType } from "./gguf-types.js";

export type LocalModelErrorCode =
  /** The file is not a loadable GGUF (bad magic/version, missing keys, truncated, unsupported architecture...). */
  | "invalid-gguf"
  /** The path does not exist or is not a readable file. */
  | "not-found"
  /** A download failed for a reason other than the network being unreachable. */
  | "download-failed"
  /** The network (or the model host) is unreachable and no cached copy exists. */
  | "offline"
  /** node-llama-cpp could not load the model or create a context. */
  | "load-failed"
  /** Structured output was still malformed after the bounded retries. */
  | "malformed-output";

/** The one error type of the local provider: `code` says what kind of failure, `file` which file (if any). */
export class LocalModelError extends Error {
  override readonly name: string = "LocalModelError";
  readonly code: LocalModelErrorCode;
  readonly file: string | undefined;
  constructor(message: string, options: { code: LocalModelErrorCode; file?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.file = options.file;
  }
}

/** What was read from a GGUF that passed the check. */
export interface GgufSummary {
  version: number;
  architecture: string;
  name: string | undefined;
  fileSize: number;
  tensorCount: number;
  contextLength: number;
  embeddingLength: number;
  blockCount: number;
  vocabSize: number;
  tokenizerModel: string;
  hasChatTemplate: boolean;
}

export type GgufCheckResult =
  | { ok: true; path: string; summary: GgufSummary }
  | { ok: false; path: string; problems: string[] };

// ---------------------------------------------------------------------------------------------------------------
// Bounded header reader


/** Minimum encoded size of one value of each scalar type (strings: the 8-byte length). */
const MIN_VALUE_SIZE: Record<number, number> = {
  [GgufType.Uint8]: 1,
  [GgufType.Int8]: 1,
  [GgufType.Uint16]: 2,
  [GgufType.Int16]: 2,
  [GgufType.Uint32]: 4,
  [GgufType.Int32]: 4,
  [GgufType.Float32]: 4,
  [GgufType.Bool]: 1,
  [GgufType.String]: 8,
  [GgufType.Array]: 12,
  [GgufType.Uint64]: 8,
  [GgufType.Int64]: 8,
  [GgufType.Float64]: 8,
};

type MetaValue = string | number | bigint | boolean | MetaValue[];
interface MetaEntry {
  type: number;
  /** For arrays: the element type. */
  elementType?: number;
  value: MetaValue;
}

interface TensorInfo {
  name: string;
  dims: bigint[];
  type: number;
  offset: bigint;
}

interface ParsedHeader {
  version: number;
  metadata: Map<string, MetaEntry>;
  tensors: TensorInfo[];
  /** Absolute file offset where tensor data starts. */
  dataStart: number;
}

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
  private need(n: number, what: string): void {
    const end = this.pos + n;
    if (end > this.fileSize)
      throw new Truncated(`the file ends at byte ${this.fileSize} but ${what} needs bytes up to ${end}`);
    if (end > this.buf.length) throw new NeedMore();
  }
  remaining(): number {
    return this.fileSize - this.pos;
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf.readUInt8(this.pos++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  /** Reads a u64 length and checks that `length * minItemSize` bytes can still follow. */
  length(what: string, minItemSize: number): number {
    const n = this.u64(what);
    if (n * BigInt(minItemSize) > BigInt(this.remaining()))
      throw new Truncated(`${what} claims ${n} items, more than the ${this.remaining()} bytes left in the file`);
    return Number(n);
  }
  string(what: string): string {
    const n = this.length(`the length of ${what}`, 1);
    this.need(n, what);
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  scalar(type: number, what: string): MetaValue {
    switch (type) {
      case GgufType.Uint8:
        return this.u8(what);
      case GgufType.Int8:
        this.need(1, what);
        return this.buf.readInt8(this.pos++);
      case GgufType.Uint16: {
        this.need(2, what);
        const v = this.buf.readUInt16LE(this.pos);
        this.pos += 2;
        return v;
      }
      case GgufType.Int16: {
        this.need(2, what);
        const v = this.buf.readInt16LE(this.pos);
        this.pos += 2;
        return v;
      }
      case GgufType.Uint32:
        return this.u32(what);
      case GgufType.Int32: {
        this.need(4, what);
        const v = this.buf.readInt32LE(this.pos);
        this.pos += 4;
        return v;
      }
      case GgufType.Float32: {
        this.need(4, what);
        const v = this.buf.readFloatLE(this.pos);
        this.pos += 4;
        return v;
      }
      case GgufType.Bool:
        return this.u8(what) !== 0;
      case GgufType.String:
        return this.string(what);
      case GgufType.Uint64:
        return this.u64(what);
      case GgufType.Int64: {
        this.need(8, what);
        const v = this.buf.readBigInt64LE(this.pos);
        this.pos += 8;
        return v;
      }
      case GgufType.Float64: {
        this.need(8, what);
        const v = this.buf.readDoubleLE(this.pos);
        this.pos += 8;
        return v;
      }
      default:
        throw new Corrupt(`${what} has unknown value type ${type}`);
    }
  }
}

function parseHeader(buf: Buffer, fileSize: number): ParsedHeader {
  const c = new Cursor(buf, fileSize);
  c.pos = 4; // magic checked by the caller
  const version = c.u32("the version");
  if (version !== 2 && version !== 3) throw new Corrupt(`unsupported GGUF version ${version}`);
  const tensorCount = c.u64("the tensor count");
  const kvCount = c.u64("the metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 4 + 8.
  if (kvCount * 13n > BigInt(c.remaining()))
    throw new Truncated(`the header claims ${kvCount} metadata entries, more than the file can hold`);
  if (tensorCount * 24n > BigInt(c.remaining()))
    throw new Truncated(`the header claims ${tensorCount} tensors, more than the file can hold`);

  const metadata = new Map<string, MetaEntry>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32(`the type of "${key}"`);
    if (type === GgufType.Array) {
      const elementType = c.u32(`the element type of "${key}"`);
      const min = MIN_VALUE_SIZE[elementType];
      if (min === undefined || elementType === GgufType.Array)
        throw new Corrupt(`"${key}" is an array of unsupported type ${elementType}`);
      const n = c.length(`the array "${key}"`, min);
      const values: MetaValue[] = new Array<MetaValue>(n);
      for (let j = 0; j < n; j++) values[j] = c.scalar(elementType, `item ${j} of "${key}"`);
      metadata.set(key, { type, elementType, value: values });
    } else {
      metadata.set(key, { type, value: c.scalar(type, `the value of "${key}"`) });
    }
  }

  const tensors: TensorInfo[] = [];
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = c.string(`the name of tensor #${i}`);
    const nDims = c.u32(`the dimension count of tensor "${name}"`);
    if (nDims < 1 || nDims > 4) throw new Corrupt(`tensor "${name}" has ${nDims} dimensions (1 to 4 allowed)`);
    const dims: bigint[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64(`dimension ${d} of tensor "${name}"`));
    const type = c.u32(`the type of tensor "${name}"`);
    const offset = c.u64(`the data offset of tensor "${name}"`);
    tensors.push({ name, dims, type, offset });
  }

  const alignEntry = metadata.get("general.alignment");
  const alignment = alignEntry !== undefined && typeof alignEntry.value === "number" ? alignEntry.value : 32;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    throw new Corrupt(`general.alignment is ${alignment}, not a power of two`);
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  return { version, metadata, tensors, dataStart };
}

/** Reads and parses the header, growing the in-memory window until the header fits. */
async function readHeader(filePath: string, fileSize: number): Promise<ParsedHeader> {
  const fh = await open(filePath, "r");
  try {
    let windowSize = Math.min(fileSize, 8 * 1024 * 1024);
    for (;;) {
      const buf = Buffer.alloc(windowSize);
      const { bytesRead } = await fh.read(buf, 0, windowSize, 0);
      try {
        return parseHeader(buf.subarray(0, bytesRead), fileSize);
      } catch (err) {
        if (!(err instanceof NeedMore)) throw err;
        if (windowSize >= fileSize) throw new Truncated("the header does not fit in the file");
        windowSize = Math.min(fileSize, windowSize * 4);
      }
    }
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What llama.cpp needs

/**
 * Bytes per block and values per block of the GGML tensor types (ggml.c `type_traits`). Unknown types are not
 * size-checked (only their start offset is).
 */
const GGML_TYPE_SIZES: Record<number, { blockSize: number; typeSize: number; name: string }> = {
  0: { blockSize: 1, typeSize: 4, name: "F32" },
  1: { blockSize: 1, typeSize: 2, name: "F16" },
  2: { blockSize: 32, typeSize: 18, name: "Q4_0" },
  3: { blockSize: 32, typeSize: 20, name: "Q4_1" },
  6: { blockSize: 32, typeSize: 22, name: "Q5_0" },
  7: { blockSize: 32, typeSize: 24, name: "Q5_1" },
  8: { blockSize: 32, typeSize: 34, name: "Q8_0" },
  9: { blockSize: 32, typeSize: 36, name: "Q8_1" },
  10: { blockSize: 256, typeSize: 84, name: "Q2_K" },
  11: { blockSize: 256, typeSize: 110, name: "Q3_K" },
  12: { blockSize: 256, typeSize: 144, name: "Q4_K" },
  13: { blockSize: 256, typeSize: 176, name: "Q5_K" },
  14: { blockSize: 256, typeSize: 210, name: "Q6_K" },
  15: { blockSize: 256, typeSize: 292, name: "Q8_K" },
  16: { blockSize: 256, typeSize: 66, name: "IQ2_XXS" },
  17: { blockSize: 256, typeSize: 74, name: "IQ2_XS" },
  18: { blockSize: 256, typeSize: 98, name: "IQ3_XXS" },
  19: { blockSize: 256, typeSize: 50, name: "IQ1_S" },
  20: { blockSize: 32, typeSize: 18, name: "IQ4_NL" },
  21: { blockSize: 256, typeSize: 110, name: "IQ3_S" },
  22: { blockSize: 256, typeSize: 82, name: "IQ2_S" },
  23: { blockSize: 256, typeSize: 136, name: "IQ4_XS" },
  24: { blockSize: 1, typeSize: 1, name: "I8" },
  25: { blockSize: 1, typeSize: 2, name: "I16" },
  26: { blockSize: 1, typeSize: 4, name: "I32" },
  27: { blockSize: 1, typeSize: 8, name: "I64" },
  28: { blockSize: 1, typeSize: 8, name: "F64" },
  29: { blockSize: 256, typeSize: 56, name: "IQ1_M" },
  30: { blockSize: 1, typeSize: 2, name: "BF16" },
  34: { blockSize: 256, typeSize: 54, name: "TQ1_0" },
  35: { blockSize: 256, typeSize: 66, name: "TQ2_0" },
  39: { blockSize: 32, typeSize: 17, name: "MXFP4" },
};

/** Architectures that generate text through a state-space/recurrent block: no attention head count, no FFN width. */
const RECURRENT_ARCHITECTURES = new Set(["mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"]);

/** Encoder-only or non-text architectures: llama.cpp loads them, but they cannot chat. */
const NON_CHAT_ARCHITECTURES = new Set([
  "bert",
  "modern-bert",
  "nomic-bert",
  "nomic-bert-moe",
  "neo-bert",
  "jina-bert-v2",
  "jina-bert-v3",
  "eurobert",
  "t5encoder",
  "wavtokenizer-dec",
  "gemma-embedding",
]);

/** Architectures whose llama.cpp loader reads `<arch>.attention.layer_norm_rms_epsilon` as a required key. */
const RMS_NORM_ARCHITECTURES = new Set([
  "llama",
  "llama4",
  "deci",
  "qwen2",
  "qwen2moe",
  "qwen2vl",
  "qwen3",
  "qwen3moe",
  "mistral3",
  "gemma",
  "gemma2",
  "gemma3",
  "phi3",
  "granite",
  "granitemoe",
  "smollm3",
  "olmo2",
  "internlm2",
  "minicpm",
  "deepseek",
  "exaone",
]);

const TOKENIZER_MODELS = new Set(["llama", "gpt2", "bert", "t5", "rwkv", "plamo2", "no_vocab", "none"]);

/** LLAMA_MAX_LAYERS in llama.cpp: more blocks than this abort the process. */
const MAX_LAYERS = 512;

let knownArchitectures: ReadonlySet<string> | undefined;
/** The architectures this node-llama-cpp build knows (its `GgufArchitectureType` enum mirrors llama.cpp's list). */
export function supportedArchitectures(): ReadonlySet<string> {
  if (knownArchitectures === undefined) {
    const enumObject = (nodeLlamaCpp as unknown as Record<string, unknown>)["GgufArchitectureType"];
    const values =
      enumObject !== null && typeof enumObject === "object"
        ? Object.values(enumObject as Record<string, unknown>).filter((v): v is string => typeof v === "string")
        : [];
    knownArchitectures = new Set(values.length > 0 ? values : ["llama"]);
  }
  return knownArchitectures;
}

function describeType(t: number): string {
  return (
    { [GgufType.String]: "a string", [GgufType.Array]: "an array", [GgufType.Bool]: "a boolean", [GgufType.Float32]: "a float" }[t] ??
    "a number"
  );
}

const INTEGER_TYPES = new Set<number>([GgufType.Uint8, GgufType.Int8, GgufType.Uint16, GgufType.Int16, GgufType.Uint32, GgufType.Int32, GgufType.Uint64, GgufType.Int64]);
const FLOAT_TYPES = new Set<number>([GgufType.Float32, GgufType.Float64]);

function toNumber(v: MetaValue): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

/**
 * Checks `filePath`: magic and version, a bounded read of the whole header, supported architecture, the metadata
 * keys llama.cpp requires for that architecture (and values that would make it abort), tokenizer keys, and that all
 * tensor data lies inside the file (not truncated). Never loads the model and never throws for a bad file: the
 * problems are returned. Throws only on unexpected I/O errors.
 */
export async function checkGguf(filePath: string): Promise<GgufCheckResult> {
  const fail = (...problems: string[]): GgufCheckResult => ({ ok: false, path: filePath, problems });
  let fileSize: number;
  try {
    const st = await stat(filePath);
    if (!st.isFile()) return fail("it is not a regular file");
    fileSize = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? "the file does not exist" : `it cannot be read (${code ?? String(err)})`);
  }
  if (fileSize < 24) return fail(`it is only ${fileSize} bytes long, too short for a GGUF header`);

  const fh = await open(filePath, "r");
  const magic = Buffer.alloc(8);
  try {
    await fh.read(magic, 0, 8, 0);
  } finally {
    await fh.close();
  }
  if (magic.toString("latin1", 0, 4) !== "GGUF") {
    const shown = [...magic.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return fail(`it is not a GGUF file (the first bytes are ${shown}, not "GGUF")`);
  }
  const rawVersion = magic.readUInt32LE(4);
  if (rawVersion === 1) return fail("it is GGUF version 1, which llama.cpp no longer loads: convert it again");
  if (rawVersion !== 2 && rawVersion !== 3) {
    const swapped = magic.readUInt32BE(4) === 2 || magic.readUInt32BE(4) === 3;
    return fail(
      swapped
        ? "it is a big-endian GGUF; llama.cpp on this machine needs a little-endian file"
        : `it has GGUF version ${rawVersion}; only versions 2 and 3 are supported`,
    );
  }

  let header: ParsedHeader;
  try {
    header = await readHeader(filePath, fileSize);
  } catch (err) {
    if (err instanceof Truncated) return fail(`the header is cut short or corrupt: ${err.message} (truncated download?)`);
    if (err instanceof Corrupt) return fail(`the header is corrupt: ${err.message}`);
    throw err;
  }

  const problems: string[] = [];
  const meta = header.metadata;
  const get = (key: string): MetaEntry | undefined => meta.get(key);
  const requireString = (key: string): string | undefined => {
    const e = get(key);
    if (e === undefined) {
      problems.push(`the required key "${key}" is missing`);
      return undefined;
    }
    if (e.type !== GgufType.String || typeof e.value !== "string") {
      problems.push(`"${key}" must be a string, it is ${describeType(e.type)}`);
      return undefined;
    }
    return e.value;
  };
  /** Integer key (or per-layer integer array); returns the scalar or the array's maximum. */
  const requireCount = (key: string, opts: { min: number; max?: number; allowArray?: boolean }): number | undefined => {
    const e = get(key);
    if (e === undefined) {
      problems.push(`the required key "${key}" is missing`);
      return undefined;
    }
    if (e.type === GgufType.Array && opts.allowArray === true && e.elementType !== undefined && INTEGER_TYPES.has(e.elementType)) {
      const values = (e.value as MetaValue[]).map((v) => toNumber(v) ?? Number.NaN);
      if (values.length === 0 || Math.max(...values) < opts.min) {
        problems.push(`"${key}" is an array without any value >= ${opts.min}`);
        return undefined;
      }
      return Math.max(...values);
    }
    if (!INTEGER_TYPES.has(e.type)) {
      problems.push(`"${key}" must be an integer, it is ${describeType(e.type)}`);
      return undefined;
    }
    const n = toNumber(e.value as MetaValue) ?? Number.NaN;
    if (!(n >= opts.min) || (opts.max !== undefined && n > opts.max)) {
      problems.push(
        `"${key}" is ${n}; it must be ${opts.max === undefined ? `at least ${opts.min}` : `between ${opts.min} and ${opts.max}`}`,
      );
      return undefined;
    }
    return n;
  };

  // Architecture.
  const arch = requireString("general.architecture");
  if (arch !== undefined) {
    if (!supportedArchitectures().has(arch))
      problems.push(`the architecture "${arch}" is not supported by the bundled llama.cpp`);
    else if (NON_CHAT_ARCHITECTURES.has(arch))
      problems.push(`the architecture "${arch}" is an embedding/encoder model, not a chat model`);
  }

  let contextLength: number | undefined;
  let embeddingLength: number | undefined;
  let blockCount: number | undefined;
  // The keys an unknown architecture needs are unknown too: report only the architecture then.
  if (arch !== undefined && supportedArchitectures().has(arch)) {
    // llama.cpp accepts 0 here (the context size is then whatever the caller asks for).
    contextLength = requireCount(`${arch}.context_length`, { min: 0 });
    embeddingLength = requireCount(`${arch}.embedding_length`, { min: 1 });
    blockCount = requireCount(`${arch}.block_count`, { min: 1, max: MAX_LAYERS });
    if (!RECURRENT_ARCHITECTURES.has(arch)) {
      requireCount(`${arch}.feed_forward_length`, { min: 1, allowArray: true });
      const heads = requireCount(`${arch}.attention.head_count`, { min: 1, allowArray: true });
      const headEntry = get(`${arch}.attention.head_count`);
      const keyLength = get(`${arch}.attention.key_length`);
      if (
        heads !== undefined &&
        embeddingLength !== undefined &&
        headEntry !== undefined &&
        headEntry.type !== GgufType.Array &&
        keyLength === undefined &&
        embeddingLength % heads !== 0
      )
        problems.push(
          `"${arch}.embedding_length" (${embeddingLength}) is not divisible by "${arch}.attention.head_count" (${heads})`,
        );
      const rmsKey = `${arch}.attention.layer_norm_rms_epsilon`;
      const lnKey = `${arch}.attention.layer_norm_epsilon`;
      const rms = get(rmsKey);
      const ln = get(lnKey);
      if (RMS_NORM_ARCHITECTURES.has(arch)) {
        if (rms === undefined) problems.push(`the required key "${rmsKey}" is missing`);
      } else if (rms === undefined && ln === undefined) {
        problems.push(`neither "${rmsKey}" nor "${lnKey}" is present (the normalisation epsilon)`);
      }
      for (const [key, e] of [
        [rmsKey, rms],
        [lnKey, ln],
      ] as const)
        if (e !== undefined && !FLOAT_TYPES.has(e.type)) problems.push(`"${key}" must be a float, it is ${describeType(e.type)}`);
    }
  }

  // Tokenizer.
  let vocabSize = 0;
  const tokenizerModel = requireString("tokenizer.ggml.model");
  if (tokenizerModel !== undefined) {
    if (!TOKENIZER_MODELS.has(tokenizerModel))
      problems.push(`"tokenizer.ggml.model" is "${tokenizerModel}", which llama.cpp does not know`);
    else if (tokenizerModel !== "no_vocab" && tokenizerModel !== "none") {
      const tokens = get("tokenizer.ggml.tokens");
      if (tokens === undefined) problems.push(`the required key "tokenizer.ggml.tokens" is missing`);
      else if (tokens.type !== GgufType.Array || tokens.elementType !== GgufType.String)
        problems.push(`"tokenizer.ggml.tokens" must be an array of strings`);
      else if ((tokens.value as MetaValue[]).length === 0) problems.push(`"tokenizer.ggml.tokens" is empty`);
      else vocabSize = (tokens.value as MetaValue[]).length;
      if (tokenizerModel === "gpt2") {
        const merges = get("tokenizer.ggml.merges");
        if (merges === undefined)
          problems.push(`the required key "tokenizer.ggml.merges" is missing (a "gpt2" BPE tokenizer needs it)`);
        else if (merges.type !== GgufType.Array || (merges.elementType !== GgufType.String && (merges.value as MetaValue[]).length > 0))
          problems.push(`"tokenizer.ggml.merges" must be an array of strings`);
      }
      for (const key of ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"]) {
        const e = get(key);
        if (e !== undefined && vocabSize > 0 && e.type === GgufType.Array && (e.value as MetaValue[]).length !== vocabSize)
          problems.push(`"${key}" has ${(e.value as MetaValue[]).length} entries but there are ${vocabSize} tokens`);
      }
    }
  }

  // Tensors: present and entirely inside the file. A split model (`split.count` > 1) has only some tensors in each
  // part, so the whole-model checks below are skipped for it; the bounds check still applies to this part.
  const splitCount = toNumber(get("split.count")?.value ?? 1) ?? 1;
  const wholeModel = splitCount <= 1;
  if (header.tensors.length === 0 && wholeModel) problems.push("it contains no tensors");
  const dataStart = BigInt(header.dataStart);
  const size = BigInt(fileSize);
  let truncatedAt: { name: string; end: bigint } | undefined;
  for (const t of header.tensors) {
    const start = dataStart + t.offset;
    const traits = GGML_TYPE_SIZES[t.type];
    let end = start + 1n;
    if (traits !== undefined) {
      const elements = t.dims.reduce((a, b) => a * b, 1n);
      const ne0 = t.dims[0] ?? 1n;
      if (ne0 % BigInt(traits.blockSize) !== 0n) {
        problems.push(`tensor "${t.name}" (${traits.name}) has a first dimension ${ne0} not divisible by ${traits.blockSize}`);
        continue;
      }
      end = start + (elements / BigInt(traits.blockSize)) * BigInt(traits.typeSize);
    }
    if (end > size && (truncatedAt === undefined || end > truncatedAt.end)) truncatedAt = { name: t.name, end };
  }
  if (truncatedAt !== undefined)
    problems.push(
      `it is truncated: it is ${fileSize} bytes long but tensor "${truncatedAt.name}" needs ${truncatedAt.end} bytes ` +
        `(incomplete download? download it again)`,
    );
  if (
    arch !== undefined &&
    wholeModel &&
    !RECURRENT_ARCHITECTURES.has(arch) &&
    header.tensors.length > 0 &&
    !header.tensors.some((t) => t.name === "token_embd.weight")
  )
    problems.push(`the tensor "token_embd.weight" is missing`);

  // Shapes for llama-like architectures, where llama.cpp's loader would otherwise only say "Failed to load model".
  if (arch !== undefined && wholeModel && RMS_NORM_ARCHITECTURES.has(arch) && problems.length === 0) {
    const embd = header.tensors.find((t) => t.name === "token_embd.weight");
    const shape = embd?.dims.map(Number) ?? [];
    if (embd !== undefined && embeddingLength !== undefined && shape[0] !== embeddingLength)
      problems.push(
        `tensor "token_embd.weight" has width ${shape[0]} but "${arch}.embedding_length" is ${embeddingLength}`,
      );
    if (embd !== undefined && vocabSize > 0 && shape[1] !== vocabSize)
      problems.push(`tensor "token_embd.weight" has ${shape[1]} rows but the tokenizer has ${vocabSize} tokens`);
    const blocks = new Set<number>();
    for (const t of header.tensors) {
      const m = /^blk\.(\d+)\./.exec(t.name);
      if (m?.[1] !== undefined) blocks.add(Number(m[1]));
    }
    if (blockCount !== undefined && blocks.size !== blockCount)
      problems.push(`"${arch}.block_count" is ${blockCount} but the file has tensors for ${blocks.size} blocks`);
  }

  if (problems.length > 0) return { ok: false, path: filePath, problems };
  const nameEntry = get("general.name");
  return {
    ok: true,
    path: filePath,
    summary: {
      version: header.version,
      architecture: arch ?? "",
      name: typeof nameEntry?.value === "string" ? nameEntry.value : undefined,
      fileSize,
      tensorCount: header.tensors.length,
      contextLength: contextLength ?? 0,
      embeddingLength: embeddingLength ?? 0,
      blockCount: blockCount ?? 0,
      vocabSize,
      tokenizerModel: tokenizerModel ?? "",
      hasChatTemplate: typeof get("tokenizer.chat_template")?.value === "string",
    },
  };
}

/** The message of the error `assertLoadableGguf` throws. */
export function formatGgufProblems(filePath: string, problems: readonly string[]): string {
  return problems.length === 1
    ? `Cannot load the local model ${filePath}: ${problems[0]}.`
    : `Cannot load the local model ${filePath}:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}

/** Runs `checkGguf` and throws a `LocalModelError` (code "invalid-gguf" or "not-found") if the file is not loadable. */
export async function assertLoadableGguf(filePath: string): Promise<GgufSummary> {
  const result = await checkGguf(filePath);
  if (result.ok) return result.summary;
  const notFound = result.problems.length === 1 && result.problems[0] === "the file does not exist";
  throw new LocalModelError(formatGgufProblems(filePath, result.problems), {
    code: notFound ? "not-found" : "invalid-gguf",
    file: filePath,
  });
}

/**
 * Checks a GGUF file before node-llama-cpp loads it.
 *
 * llama.cpp aborts the whole process (GGML_ASSERT, exit 134) on some broken files instead of throwing: measured with
 * node-llama-cpp 3.22 on a llama GGUF, a missing or zero `<arch>.attention.head_count` or `<arch>.feed_forward_length`
 * and a zero `<arch>.block_count` abort. Other problems (missing context length, width, block count, rms epsilon,
 * tokenizer model/tokens/merges, unknown architecture, truncated data) only give "Failed to load model", which does
 * not say what is wrong. node-llama-cpp's `readGgufFileInfo` reads the header; since its reader zero-fills reads past
 * the end of a file (a corrupt length makes it read on and on), a bounded walk over the header's lengths
 * (gguf-walk.ts) runs first. Every problem found is reported by name.
 */
import { open, stat } from "node:fs/promises";
import * as nodeLlamaCpp from "node-llama-cpp";
import { type GgufFileInfo, type GgufTensorInfo, readGgufFileInfo } from "node-llama-cpp";
import { GgufType } from "./gguf-types.js";
import { type KeyTypes, walkGgufHeader } from "./gguf-walk.js";
import { LocalModelError, type LocalModelErrorCode } from "./errors.js";

export { LocalModelError, type LocalModelErrorCode };

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
  { ok: true; path: string; summary: GgufSummary } | { ok: false; path: string; problems: string[] };

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
    {
      [GgufType.String]: "a string",
      [GgufType.Array]: "an array",
      [GgufType.Bool]: "a boolean",
      [GgufType.Float32]: "a float",
    }[t] ?? "a number"
  );
}

const INTEGER_TYPES = new Set<number>([
  GgufType.Uint8,
  GgufType.Int8,
  GgufType.Uint16,
  GgufType.Int16,
  GgufType.Uint32,
  GgufType.Int32,
  GgufType.Uint64,
  GgufType.Int64,
]);
const FLOAT_TYPES = new Set<number>([GgufType.Float32, GgufType.Float64]);

type MetaValue = string | number | bigint | boolean | MetaValue[];
/** A metadata entry: its stored type (from the walk) and its value (from node-llama-cpp). */
interface MetaEntry {
  type: number;
  elementType?: number;
  value: MetaValue;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

/**
 * The value of a dotted GGUF key in node-llama-cpp's nested metadata. A key that collides with a longer one is kept
 * there with its dots (`a.b` beside `a.b.c`), so every split of the key is tried.
 */
function nestedValue(node: unknown, parts: readonly string[]): unknown {
  if (parts.length === 0) return node;
  if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
  for (let i = parts.length; i >= 1; i--) {
    const head = parts.slice(0, i).join(".");
    if (!Object.hasOwn(node, head)) continue;
    const found = nestedValue((node as Record<string, unknown>)[head], parts.slice(i));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The checks' view of a file: its size, the stored key types and node-llama-cpp's reading of it. */
class GgufView {
  readonly problems: string[] = [];
  constructor(
    readonly fileSize: number,
    readonly keyTypes: KeyTypes,
    readonly info: GgufFileInfo,
  ) {}

  get tensors(): readonly GgufTensorInfo[] {
    return this.info.tensorInfo ?? [];
  }

  get(key: string): MetaEntry | undefined {
    const stored = this.keyTypes.get(key);
    if (stored === undefined) return undefined;
    return { ...stored, value: nestedValue(this.info.metadata, key.split(".")) as MetaValue };
  }

  requireString(key: string): string | undefined {
    const e = this.get(key);
    if (e === undefined) return this.missing(key);
    if (e.type !== GgufType.String || typeof e.value !== "string") {
      this.problems.push(`"${key}" must be a string, it is ${describeType(e.type)}`);
      return undefined;
    }
    return e.value;
  }

  /** Integer key (or per-layer integer array); returns the scalar or the array's maximum. */
  requireCount(key: string, opts: { min: number; max?: number; allowArray?: boolean }): number | undefined {
    const e = this.get(key);
    if (e === undefined) return this.missing(key);
    if (
      e.type === GgufType.Array &&
      opts.allowArray === true &&
      e.elementType !== undefined &&
      INTEGER_TYPES.has(e.elementType)
    ) {
      const values = (e.value as MetaValue[]).map((v) => toNumber(v) ?? Number.NaN);
      if (values.length > 0 && Math.max(...values) >= opts.min) return Math.max(...values);
      this.problems.push(`"${key}" is an array without any value >= ${opts.min}`);
      return undefined;
    }
    if (!INTEGER_TYPES.has(e.type)) {
      this.problems.push(`"${key}" must be an integer, it is ${describeType(e.type)}`);
      return undefined;
    }
    const n = toNumber(e.value) ?? Number.NaN;
    if (n >= opts.min && (opts.max === undefined || n <= opts.max)) return n;
    const range = opts.max === undefined ? `at least ${opts.min}` : `between ${opts.min} and ${opts.max}`;
    this.problems.push(`"${key}" is ${n}; it must be ${range}`);
    return undefined;
  }

  private missing(key: string): undefined {
    this.problems.push(`the required key "${key}" is missing`);
    return undefined;
  }
}

/** The architecture's name when the bundled llama.cpp knows it and it can chat. */
function checkArchitecture(view: GgufView): string | undefined {
  const arch = view.requireString("general.architecture");
  if (arch === undefined) return undefined;
  if (!supportedArchitectures().has(arch)) {
    view.problems.push(`the architecture "${arch}" is not supported by the bundled llama.cpp`);
    return undefined;
  }
  if (NON_CHAT_ARCHITECTURES.has(arch))
    view.problems.push(`the architecture "${arch}" is an embedding/encoder model, not a chat model`);
  return arch;
}

/** The normalisation epsilon llama.cpp reads for `arch` (rms for llama-like models, either for the others). */
function checkNormEpsilon(view: GgufView, arch: string): void {
  const rmsKey = `${arch}.attention.layer_norm_rms_epsilon`;
  const lnKey = `${arch}.attention.layer_norm_epsilon`;
  const rms = view.get(rmsKey);
  const ln = view.get(lnKey);
  if (RMS_NORM_ARCHITECTURES.has(arch)) {
    if (rms === undefined) view.problems.push(`the required key "${rmsKey}" is missing`);
  } else if (rms === undefined && ln === undefined) {
    view.problems.push(`neither "${rmsKey}" nor "${lnKey}" is present (the normalisation epsilon)`);
  }
  for (const [key, e] of [
    [rmsKey, rms],
    [lnKey, ln],
  ] as const)
    if (e !== undefined && !FLOAT_TYPES.has(e.type))
      view.problems.push(`"${key}" must be a float, it is ${describeType(e.type)}`);
}

/** The attention keys whose absence or zero value aborts llama.cpp (GGML_ASSERT), and the width they must divide. */
function checkAttention(view: GgufView, arch: string, embeddingLength: number | undefined): void {
  view.requireCount(`${arch}.feed_forward_length`, { min: 1, allowArray: true });
  const headKey = `${arch}.attention.head_count`;
  const heads = view.requireCount(headKey, { min: 1, allowArray: true });
  const perLayer = view.get(headKey)?.type === GgufType.Array;
  const keyLength = view.get(`${arch}.attention.key_length`);
  if (
    heads !== undefined &&
    embeddingLength !== undefined &&
    !perLayer &&
    keyLength === undefined &&
    embeddingLength % heads !== 0
  )
    view.problems.push(`"${arch}.embedding_length" (${embeddingLength}) is not divisible by "${headKey}" (${heads})`);
}

interface ArchitectureSizes {
  contextLength: number | undefined;
  embeddingLength: number | undefined;
  blockCount: number | undefined;
}

/** The keys llama.cpp requires for `arch`, and the values that would make it abort. */
function checkArchitectureKeys(view: GgufView, arch: string): ArchitectureSizes {
  const sizes = {
    // llama.cpp accepts 0 here (the context size is then whatever the caller asks for).
    contextLength: view.requireCount(`${arch}.context_length`, { min: 0 }),
    embeddingLength: view.requireCount(`${arch}.embedding_length`, { min: 1 }),
    blockCount: view.requireCount(`${arch}.block_count`, { min: 1, max: MAX_LAYERS }),
  };
  if (!RECURRENT_ARCHITECTURES.has(arch)) {
    checkAttention(view, arch, sizes.embeddingLength);
    checkNormEpsilon(view, arch);
  }
  return sizes;
}

/** The tokenizer's keys; returns the vocabulary size (0 when unknown). */
function checkTokenizer(view: GgufView, tokenizerModel: string): number {
  if (!TOKENIZER_MODELS.has(tokenizerModel)) {
    view.problems.push(`"tokenizer.ggml.model" is "${tokenizerModel}", which llama.cpp does not know`);
    return 0;
  }
  if (tokenizerModel === "no_vocab" || tokenizerModel === "none") return 0;
  let vocabSize = 0;
  const tokens = view.get("tokenizer.ggml.tokens");
  if (tokens === undefined) view.problems.push(`the required key "tokenizer.ggml.tokens" is missing`);
  else if (tokens.type !== GgufType.Array || tokens.elementType !== GgufType.String)
    view.problems.push(`"tokenizer.ggml.tokens" must be an array of strings`);
  else if ((tokens.value as MetaValue[]).length === 0) view.problems.push(`"tokenizer.ggml.tokens" is empty`);
  else vocabSize = (tokens.value as MetaValue[]).length;
  if (tokenizerModel === "gpt2") {
    const merges = view.get("tokenizer.ggml.merges");
    if (merges === undefined)
      view.problems.push(`the required key "tokenizer.ggml.merges" is missing (a "gpt2" BPE tokenizer needs it)`);
    else if (
      merges.type !== GgufType.Array ||
      (merges.elementType !== GgufType.String && (merges.value as MetaValue[]).length > 0)
    )
      view.problems.push(`"tokenizer.ggml.merges" must be an array of strings`);
  }
  for (const key of ["tokenizer.ggml.scores", "tokenizer.ggml.token_type"]) {
    const e = view.get(key);
    if (e !== undefined && vocabSize > 0 && e.type === GgufType.Array && (e.value as MetaValue[]).length !== vocabSize)
      view.problems.push(`"${key}" has ${(e.value as MetaValue[]).length} entries but there are ${vocabSize} tokens`);
  }
  return vocabSize;
}

/** Where a tensor's data ends, or undefined (with a problem) when its shape does not fit its type's blocks. */
function tensorEnd(view: GgufView, t: GgufTensorInfo): bigint | undefined {
  const start = BigInt(t.fileOffset);
  const traits = GGML_TYPE_SIZES[t.ggmlType];
  if (traits === undefined) return start + 1n; // unknown types: only the start is checked
  const dims = t.dimensions.map((d) => BigInt(d));
  const ne0 = dims[0] ?? 1n;
  if (ne0 % BigInt(traits.blockSize) !== 0n) {
    view.problems.push(
      `tensor "${t.name}" (${traits.name}) has a first dimension ${ne0} not divisible by ${traits.blockSize}`,
    );
    return undefined;
  }
  const elements = dims.reduce((a, b) => a * b, 1n);
  return start + (elements / BigInt(traits.blockSize)) * BigInt(traits.typeSize);
}

/** Tensors present and entirely inside the file (a part of a split model holds only some of them). */
function checkTensors(view: GgufView, arch: string | undefined, wholeModel: boolean): void {
  if (view.tensors.length === 0 && wholeModel) view.problems.push("it contains no tensors");
  let truncatedAt: { name: string; end: bigint } | undefined;
  for (const t of view.tensors) {
    const end = tensorEnd(view, t);
    if (end !== undefined && end > BigInt(view.fileSize) && (truncatedAt === undefined || end > truncatedAt.end))
      truncatedAt = { name: t.name, end };
  }
  if (truncatedAt !== undefined)
    view.problems.push(
      `it is truncated: it is ${view.fileSize} bytes long but tensor "${truncatedAt.name}" needs ${truncatedAt.end} bytes ` +
        `(incomplete download? download it again)`,
    );
  const needsEmbeddings =
    arch !== undefined && wholeModel && !RECURRENT_ARCHITECTURES.has(arch) && view.tensors.length > 0;
  if (needsEmbeddings && !view.tensors.some((t) => t.name === "token_embd.weight"))
    view.problems.push(`the tensor "token_embd.weight" is missing`);
}

/** Shapes for llama-like architectures, where llama.cpp's loader would otherwise only say "Failed to load model". */
function checkShapes(view: GgufView, arch: string, sizes: ArchitectureSizes, vocabSize: number): void {
  const embd = view.tensors.find((t) => t.name === "token_embd.weight");
  const shape = embd?.dimensions.map(Number) ?? [];
  if (embd !== undefined && sizes.embeddingLength !== undefined && shape[0] !== sizes.embeddingLength)
    view.problems.push(
      `tensor "token_embd.weight" has width ${shape[0]} but "${arch}.embedding_length" is ${sizes.embeddingLength}`,
    );
  if (embd !== undefined && vocabSize > 0 && shape[1] !== vocabSize)
    view.problems.push(`tensor "token_embd.weight" has ${shape[1]} rows but the tokenizer has ${vocabSize} tokens`);
  const blocks = new Set<number>();
  for (const t of view.tensors) {
    const m = /^blk\.(\d+)\./.exec(t.name);
    if (m?.[1] !== undefined) blocks.add(Number(m[1]));
  }
  if (sizes.blockCount !== undefined && blocks.size !== sizes.blockCount)
    view.problems.push(
      `"${arch}.block_count" is ${sizes.blockCount} but the file has tensors for ${blocks.size} blocks`,
    );
}

/** The file's size, or why it is not a GGUF file node-llama-cpp could read (missing, too short, wrong magic/version). */
async function checkFileStart(filePath: string): Promise<{ fileSize: number } | { problem: string }> {
  let fileSize: number;
  try {
    const st = await stat(filePath);
    if (!st.isFile()) return { problem: "it is not a regular file" };
    fileSize = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { problem: code === "ENOENT" ? "the file does not exist" : `it cannot be read (${code ?? String(err)})` };
  }
  if (fileSize < 24) return { problem: `it is only ${fileSize} bytes long, too short for a GGUF header` };
  const magic = Buffer.alloc(8);
  const fh = await open(filePath, "r");
  try {
    await fh.read(magic, 0, 8, 0);
  } finally {
    await fh.close();
  }
  if (magic.toString("latin1", 0, 4) !== "GGUF") {
    const shown = [...magic.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    return { problem: `it is not a GGUF file (the first bytes are ${shown}, not "GGUF")` };
  }
  const version = magic.readUInt32LE(4);
  if (version === 1) return { problem: "it is GGUF version 1, which llama.cpp no longer loads: convert it again" };
  if (version === 2 || version === 3) return { fileSize };
  const swapped = magic.readUInt32BE(4) === 2 || magic.readUInt32BE(4) === 3;
  return {
    problem: swapped
      ? "it is a big-endian GGUF; llama.cpp on this machine needs a little-endian file"
      : `it has GGUF version ${version}; only versions 2 and 3 are supported`,
  };
}

/** The header read by node-llama-cpp after the bounded walk, or the problem that stopped either. */
async function readView(filePath: string, fileSize: number): Promise<GgufView | string> {
  const walked = await walkGgufHeader(filePath, fileSize);
  if (!walked.ok) return walked.problem;
  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(filePath, { sourceType: "filesystem", logWarnings: false, spliceSplitFiles: false });
  } catch (err) {
    return `the header is corrupt: ${err instanceof Error ? err.message : String(err)}`;
  }
  const alignment = toNumber(nestedValue(info.metadata, ["general", "alignment"])) ?? 32;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0)
    return `the header is corrupt: general.alignment is ${alignment}, not a power of two`;
  return new GgufView(fileSize, walked.keyTypes, info);
}

/** Runs every check on a readable header; returns the summary when nothing is wrong. */
function checkHeader(view: GgufView, version: number): GgufSummary | undefined {
  const arch = checkArchitecture(view);
  const sizes: ArchitectureSizes =
    arch === undefined
      ? { contextLength: undefined, embeddingLength: undefined, blockCount: undefined }
      : checkArchitectureKeys(view, arch);
  const tokenizerModel = view.requireString("tokenizer.ggml.model");
  const vocabSize = tokenizerModel === undefined ? 0 : checkTokenizer(view, tokenizerModel);
  const wholeModel = (toNumber(view.get("split.count")?.value) ?? 1) <= 1;
  checkTensors(view, arch, wholeModel);
  if (arch !== undefined && wholeModel && RMS_NORM_ARCHITECTURES.has(arch) && view.problems.length === 0)
    checkShapes(view, arch, sizes, vocabSize);
  if (view.problems.length > 0) return undefined;
  const name = view.get("general.name")?.value;
  return {
    version,
    architecture: arch ?? "",
    name: typeof name === "string" ? name : undefined,
    fileSize: view.fileSize,
    tensorCount: view.tensors.length,
    contextLength: sizes.contextLength ?? 0,
    embeddingLength: sizes.embeddingLength ?? 0,
    blockCount: sizes.blockCount ?? 0,
    vocabSize,
    tokenizerModel: tokenizerModel ?? "",
    hasChatTemplate: typeof view.get("tokenizer.chat_template")?.value === "string",
  };
}

/**
 * Checks `filePath`: magic and version, a bounded walk of the whole header, then node-llama-cpp's reading of it:
 * supported architecture, the metadata keys llama.cpp requires for that architecture (and values that would make
 * it abort), tokenizer keys, and that all tensor data lies inside the file (not truncated). Never loads the model and
 * never throws for a bad file: the problems are returned. Throws only on unexpected I/O errors.
 */
export async function checkGguf(filePath: string): Promise<GgufCheckResult> {
  const fail = (...problems: string[]): GgufCheckResult => ({ ok: false, path: filePath, problems });
  const start = await checkFileStart(filePath);
  if ("problem" in start) return fail(start.problem);
  const view = await readView(filePath, start.fileSize);
  if (typeof view === "string") return fail(view);
  const summary = checkHeader(view, view.info.version);
  return summary === undefined ? fail(...view.problems) : { ok: true, path: filePath, summary };
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

/**
 * A writer for a tiny llama-architecture GGUF file (test-fixture tooling).
 *
 * The file it writes is a real, loadable llama.cpp model with random F32 weights: 2 layers, width 64, 4 heads,
 * feed-forward 128, and a byte-level GPT-2 style tokenizer (256 byte tokens, no merges) plus three ChatML control
 * tokens (`<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, eos = `<|im_end|>`). About 0.45 MB with the defaults.
 *
 * Random weights produce random text. To make grammar-constrained JSON reliably pass zod validation, the writer can
 * bias the output layer (`biasOutput`, on by default): one residual dimension of every token embedding is a large
 * constant, so after the final RMS norm it is a near-constant feature, and the matching column of `output.weight`
 * then acts as a per-token logit bias (printable ASCII up, control tokens and non-ASCII bytes down).
 *
 * GGUF v3 layout (little-endian): magic "GGUF", version, tensor count, key/value count, key/values, tensor infos,
 * padding to `general.alignment` (32), tensor data (each tensor aligned to 32 bytes).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { mulberry32 } from "../../lib/rng.js";
import { GgufType } from "../../models/local/gguf-types.js";

/** A metadata value with an explicit GGUF type, so integers can be written as u32/i32/u64 as llama.cpp expects. */
export type GgufValue =
  | { type: "u32"; value: number }
  | { type: "i32"; value: number }
  | { type: "u64"; value: bigint | number }
  | { type: "f32"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "string[]"; value: readonly string[] }
  | { type: "i32[]"; value: readonly number[] }
  | { type: "f32[]"; value: readonly number[] };

export interface TinyLlamaGgufOptions {
  /** Metadata keys to leave out (to produce broken files for tests), e.g. `["llama.attention.head_count"]`. */
  omitKeys?: readonly string[];
  /** Extra or replacement metadata entries (applied after the defaults, before `omitKeys`). */
  overrideKeys?: Readonly<Record<string, GgufValue>>;
  /** Seed of the weight PRNG (default 1). The same options always give the same bytes. */
  seed?: number;
  /** Number of transformer blocks (default 2). */
  layers?: number;
  /** Residual width (default 64). Must be divisible by `heads`. */
  embeddingLength?: number;
  /** Attention heads (default 4). */
  heads?: number;
  /** Feed-forward width (default 128). */
  feedForwardLength?: number;
  /** Trained context length written to the metadata (default 2048). */
  contextLength?: number;
  /** Bias the output layer toward printable ASCII and away from control tokens (default true). */
  biasOutput?: boolean;
  /** Logit bias of `<|im_end|>` (the eos token) when `biasOutput` is on (default -4: answers run a while). */
  eosBias?: number;
  /** The chat template written to `tokenizer.chat_template` (default ChatML). `null` writes none. */
  chatTemplate?: string | null;
  /** `general.name` (default "codeclm-tiny-llama"). */
  name?: string;
  /**
   * Storage type of the 2-D weight matrices (default "f32"). "q8_0" writes llama.cpp's 8-bit block format, which
   * makes a larger synthetic model (for thread/throughput measurements) closer to a real quantised one.
   */
  weightType?: "f32" | "q8_0";
}

export interface TinyLlamaGgufInfo {
  path: string;
  /** File size in bytes. */
  bytes: number;
  vocabSize: number;
  /** Token ids of the special tokens. */
  specialTokens: { endOfText: number; imStart: number; imEnd: number };
  /** Metadata keys written (after `omitKeys`). */
  keys: string[];
}

const ALIGNMENT = 32;

/** ChatML as a jinja template (the format Qwen and many instruct models use). */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * The GPT-2 byte-to-unicode table: printable bytes map to themselves, the rest to code points from U+0100 upwards.
 * Token id `b` of the tiny vocabulary is the byte `b`.
 */
export function gpt2ByteTokens(): string[] {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const directSet = new Set(direct);
  const tokens = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (directSet.has(b)) tokens[b] = String.fromCodePoint(b);
    else tokens[b] = String.fromCodePoint(256 + next++);
  }
  return tokens;
}

interface TensorSpec {
  name: string;
  /** GGUF dimension order: ne[0] is the contiguous (innermost) dimension. */
  dims: number[];
  data: Float32Array;
}

/** IEEE 754 half precision bits of a float (round to nearest even). */
function toHalfBits(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry into the exponent is correct rounding
  return sign | half;
}

/** Encodes F32 values as GGML Q8_0 blocks: per 32 values, an f16 scale then 32 signed bytes. */
function quantizeQ8_0(data: Float32Array): Buffer {
  const blocks = data.length / 32;
  const out = Buffer.alloc(blocks * 34);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(data[b * 32 + i] ?? 0));
    const d = amax / 127;
    const inv = d === 0 ? 0 : 1 / d;
    out.writeUInt16LE(toHalfBits(d), b * 34);
    for (let i = 0; i < 32; i++) out.writeInt8(Math.round((data[b * 32 + i] ?? 0) * inv), b * 34 + 2 + i);
  }
  return out;
}

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  i32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v | 0);
    this.push(b);
  }
  u64(v: bigint | number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  f32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
  }
  u8(v: number): void {
    this.push(Buffer.from([v & 0xff]));
  }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem !== 0) this.push(Buffer.alloc(alignment - rem));
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

type Scalar = "u32" | "i32" | "u64" | "f32" | "bool" | "string";

/** How each scalar is tagged and written (array elements are written the same way, after the array's header). */
const SCALARS: Record<Scalar, { type: GgufType; write: (sink: ByteSink, value: never) => void }> = {
  u32: { type: GgufType.Uint32, write: (sink, v: number) => sink.u32(v) },
  i32: { type: GgufType.Int32, write: (sink, v: number) => sink.i32(v) },
  u64: { type: GgufType.Uint64, write: (sink, v: bigint | number) => sink.u64(v) },
  f32: { type: GgufType.Float32, write: (sink, v: number) => sink.f32(v) },
  bool: { type: GgufType.Bool, write: (sink, v: boolean) => sink.u8(v ? 1 : 0) },
  string: { type: GgufType.String, write: (sink, v: string) => sink.str(v) },
};

function writeValue(sink: ByteSink, v: GgufValue): void {
  if (!v.type.endsWith("[]")) {
    const scalar = SCALARS[v.type as Scalar];
    sink.u32(scalar.type);
    scalar.write(sink, v.value as never);
    return;
  }
  const items = v.value as readonly (number | string)[];
  const element = SCALARS[v.type.slice(0, -2) as Scalar];
  sink.u32(GgufType.Array);
  sink.u32(element.type);
  sink.u64(items.length);
  for (const item of items) element.write(sink, item as never);
}

/** The model's sizes and special token ids, derived once from the options. */
interface TinyShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nFf: number;
  nCtx: number;
  headDim: number;
  tokens: string[];
  special: { endOfText: number; imStart: number; imEnd: number };
}

function tinyShape(options: TinyLlamaGgufOptions): TinyShape {
  const nEmbd = options.embeddingLength ?? 64;
  const nHead = options.heads ?? 4;
  if (nEmbd % nHead !== 0) throw new Error(`embeddingLength ${nEmbd} is not divisible by heads ${nHead}`);
  return {
    nLayer: options.layers ?? 2,
    nEmbd,
    nHead,
    nFf: options.feedForwardLength ?? 128,
    nCtx: options.contextLength ?? 2048,
    headDim: nEmbd / nHead,
    tokens: [...gpt2ByteTokens(), "<|endoftext|>", "<|im_start|>", "<|im_end|>"],
    special: { endOfText: 256, imStart: 257, imEnd: 258 },
  };
}

/** The metadata llama.cpp needs for a llama model with a byte-level gpt2 tokenizer, after overrides and omissions. */
function tinyMetadata(options: TinyLlamaGgufOptions, shape: TinyShape): Map<string, GgufValue> {
  const { nCtx, nEmbd, nLayer, nFf, nHead, headDim, tokens, special } = shape;
  const tokenTypes = tokens.map((_, i) => (i >= 256 ? 3 /* control */ : 1 /* normal */));
  const meta = new Map<string, GgufValue>();
  meta.set("general.architecture", { type: "string", value: "llama" });
  meta.set("general.name", { type: "string", value: options.name ?? "codeclm-tiny-llama" });
  meta.set("general.alignment", { type: "u32", value: ALIGNMENT });
  meta.set("general.file_type", {
    type: "u32",
    value: options.weightType === "q8_0" ? 7 /* MOSTLY_Q8_0 */ : 0 /* ALL_F32 */,
  });
  meta.set("llama.context_length", { type: "u32", value: nCtx });
  meta.set("llama.embedding_length", { type: "u32", value: nEmbd });
  meta.set("llama.block_count", { type: "u32", value: nLayer });
  meta.set("llama.feed_forward_length", { type: "u32", value: nFf });
  meta.set("llama.attention.head_count", { type: "u32", value: nHead });
  meta.set("llama.attention.head_count_kv", { type: "u32", value: nHead });
  meta.set("llama.rope.dimension_count", { type: "u32", value: headDim });
  meta.set("llama.rope.freq_base", { type: "f32", value: 10000 });
  meta.set("llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 });
  meta.set("llama.vocab_size", { type: "u32", value: tokens.length });
  meta.set("tokenizer.ggml.model", { type: "string", value: "gpt2" });
  meta.set("tokenizer.ggml.pre", { type: "string", value: "default" });
  meta.set("tokenizer.ggml.tokens", { type: "string[]", value: tokens });
  meta.set("tokenizer.ggml.token_type", { type: "i32[]", value: tokenTypes });
  meta.set("tokenizer.ggml.merges", { type: "string[]", value: [] });
  meta.set("tokenizer.ggml.bos_token_id", { type: "u32", value: special.endOfText });
  meta.set("tokenizer.ggml.eos_token_id", { type: "u32", value: special.imEnd });
  meta.set("tokenizer.ggml.padding_token_id", { type: "u32", value: special.endOfText });
  meta.set("tokenizer.ggml.add_bos_token", { type: "bool", value: false });
  const template = options.chatTemplate === undefined ? CHATML_TEMPLATE : options.chatTemplate;
  if (template !== null) meta.set("tokenizer.chat_template", { type: "string", value: template });
  for (const [k, v] of Object.entries(options.overrideKeys ?? {})) meta.set(k, v);
  for (const k of options.omitKeys ?? []) meta.delete(k);
  return meta;
}

/**
 * The output layer's per-token bias (in units of the normalised bias dimension): printable ASCII likely, `<|im_end|>`
 * at `eosBias`, every other control token and non-ASCII byte never.
 */
function outputBias(token: number, imEnd: number, eosBias: number): number {
  if (token === imEnd) return eosBias;
  if (token >= 256) return -30;
  if (token >= 0x20 && token <= 0x7e) return token === 0x5c ? -2 : 3; // backslash less likely
  return -30;
}

/** Random weights for every tensor llama.cpp's llama loader expects, seeded, with the output bias applied. */
function tinyWeights(options: TinyLlamaGgufOptions, shape: TinyShape): TensorSpec[] {
  const { nEmbd, nFf, nLayer } = shape;
  const nVocab = shape.tokens.length;
  const biasOutput = options.biasOutput ?? true;
  const rand = mulberry32(options.seed ?? 1);
  const uniform = (n: number, scale: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
  const tensors: TensorSpec[] = [];

  // Token embeddings: small random values; with biasOutput, dimension 0 is a large constant for every token.
  const embd = uniform(nVocab * nEmbd, 0.02);
  if (biasOutput) for (let t = 0; t < nVocab; t++) embd[t * nEmbd] = 1;
  tensors.push({ name: "token_embd.weight", dims: [nEmbd, nVocab], data: embd });
  tensors.push({ name: "output_norm.weight", dims: [nEmbd], data: ones(nEmbd) });

  const output = uniform(nVocab * nEmbd, 0.05);
  // After RMS norm, dimension 0 is about sqrt(nEmbd) (≈ 8 at width 64): its weight sets the per-token bias.
  const scale = 1 / Math.sqrt(nEmbd);
  if (biasOutput)
    for (let t = 0; t < nVocab; t++)
      output[t * nEmbd] = outputBias(t, shape.special.imEnd, options.eosBias ?? -4) * scale;
  tensors.push({ name: "output.weight", dims: [nEmbd, nVocab], data: output });

  // Blocks: keep the residual contributions small so the bias dimension dominates the final norm.
  const w = 0.5 / Math.sqrt(nEmbd);
  for (let i = 0; i < nLayer; i++) {
    const p = `blk.${i}.`;
    tensors.push({ name: `${p}attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) });
    tensors.push({ name: `${p}attn_q.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, w) });
    tensors.push({ name: `${p}attn_k.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, w) });
    tensors.push({ name: `${p}attn_v.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, w * 0.1) });
    tensors.push({ name: `${p}attn_output.weight`, dims: [nEmbd, nEmbd], data: uniform(nEmbd * nEmbd, w * 0.1) });
    tensors.push({ name: `${p}ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) });
    tensors.push({ name: `${p}ffn_gate.weight`, dims: [nEmbd, nFf], data: uniform(nEmbd * nFf, w) });
    tensors.push({ name: `${p}ffn_down.weight`, dims: [nFf, nEmbd], data: uniform(nFf * nEmbd, w * 0.1) });
    tensors.push({ name: `${p}ffn_up.weight`, dims: [nEmbd, nFf], data: uniform(nEmbd * nFf, w) });
  }
  return tensors;
}

/** GGUF v3 bytes: header, key/values, tensor infos, then the aligned tensor data (2-D weights in Q8_0 if asked). */
function encodeGguf(meta: Map<string, GgufValue>, tensors: TensorSpec[], weightType: "f32" | "q8_0"): Buffer {
  const head = new ByteSink();
  head.push(Buffer.from("GGUF", "ascii"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(meta.size);
  for (const [k, v] of meta) {
    head.str(k);
    writeValue(head, v);
  }
  // Encode tensor data, then write tensor infos with offsets relative to the start of the data section.
  const GGML_TYPE_F32 = 0;
  const GGML_TYPE_Q8_0 = 8;
  const encoded = tensors.map((t) => {
    const quantize = weightType === "q8_0" && t.dims.length === 2 && (t.dims[0] ?? 0) % 32 === 0;
    return quantize
      ? { type: GGML_TYPE_Q8_0, bytes: quantizeQ8_0(t.data) }
      : { type: GGML_TYPE_F32, bytes: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    const enc = encoded[i];
    if (enc === undefined) throw new Error("unreachable");
    head.str(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(enc.type);
    head.u64(offset);
    offset += Math.ceil(enc.bytes.length / ALIGNMENT) * ALIGNMENT;
  });
  head.pad(ALIGNMENT);

  const data = new ByteSink();
  for (const enc of encoded) {
    data.push(enc.bytes);
    data.pad(ALIGNMENT);
  }
  return Buffer.concat([head.concat(), data.concat()]);
}

/** Builds the GGUF bytes of the tiny model in memory. */
export function buildTinyLlamaGguf(options: TinyLlamaGgufOptions = {}): {
  buffer: Buffer;
  info: Omit<TinyLlamaGgufInfo, "path" | "bytes">;
} {
  const shape = tinyShape(options);
  const meta = tinyMetadata(options, shape);
  const buffer = encodeGguf(meta, tinyWeights(options, shape), options.weightType ?? "f32");
  return { buffer, info: { vocabSize: shape.tokens.length, specialTokens: shape.special, keys: [...meta.keys()] } };
}

/** Writes the tiny llama GGUF to `filePath` (creating its directory) and returns what was written. */
export async function writeTinyLlamaGguf(
  filePath: string,
  options: TinyLlamaGgufOptions = {},
): Promise<TinyLlamaGgufInfo> {
  const { buffer, info } = buildTinyLlamaGguf(options);
  await mkdir(path.dirname(filePath), { recursive: true });
  await writeFile(filePath, buffer);
  return { ...info, path: filePath, bytes: buffer.length };
}

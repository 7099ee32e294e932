/**
 * `LocalChatModel`: a LangChain chat model over node-llama-cpp 3, running a GGUF model in-process.
 *
 * - Chat goes through the model's own chat template: node-llama-cpp picks a specialised wrapper when it recognises
 *   the GGUF's `tokenizer.chat_template` (ChatML/Qwen, Llama 3, Gemma, Mistral...) and otherwise renders the jinja
 *   template itself.
 * - Construction is synchronous and cheap: nothing is resolved, downloaded or loaded until the first call (or
 *   `load()`). Loaded state is shared by every instance in the process: one `Llama` per GPU setting, one `LlamaModel`
 *   per (file, GPU setting), one context per (file, threads, context size, sequences). The app creates one instance
 *   per role × temperature; they all share the weights and the context.
 * - Concurrency: each context has `sequences` context sequences (default 2) and calls beyond that wait in a FIFO
 *   queue for a free sequence. Several sequences, rather than only a queue, because node-llama-cpp evaluates the
 *   active sequences of a context together in one batch: on a memory-bandwidth-bound CPU or a GPU two sequences
 *   cost much less than two serial calls, and a short call is not stuck behind a long one. Each extra sequence costs
 *   one more KV cache of `contextSize` tokens, so the count stays small. Measured on this 2-core test machine with a
 *   400 M-parameter Q8_0 model and 1 thread, 4 concurrent 48-token calls took 4.73 s with 1 sequence (pure queue)
 *   and 4.78 s with 2: no gain there (compute-bound) and no loss; with 4 sequences 5.86 s. Hence 2.
 * - Threads: default `defaultLocalThreads()` (see there for the measurement); `maxThreads: 0` on the Llama instance
 *   makes the configured count exact.
 * - Usage: `usage_metadata.input_tokens` is the full prompt length in tokens (as hosted APIs count it; the part
 *   reused from the sequence's KV cache is in `input_token_details.cache_read`), `output_tokens` the tokens
 *   generated.
 * - `withStructuredOutput(schema)`: the JSON schema (from zod v4/v3, a Standard Schema, or a plain JSON schema) is
 *   turned into node-llama-cpp's JSON-schema grammar (strings and arrays get length bounds so a weak model cannot
 *   run on to maxTokens inside one string; small integer ranges become enums), the model is constrained by it, and
 *   the text is checked with JSON.parse + the schema's own validation. An invalid answer is retried with the
 *   problem fed back (default 2 retries); after that a `MalformedOutputError` (a `LocalModelError`, code
 *   "malformed-output") is thrown.
 * - Abort: `signal` (and LangChain's `timeout`) stop the generation and free the sequence; a call waiting for a
 *   sequence leaves the queue.
 */
import os from "node:os";
import path from "node:path";
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type { BaseLanguageModelInput, StructuredOutputMethodOptions } from "@langchain/core/language_models/base";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BaseChatModelParams,
  type LangSmithParams,
} from "@langchain/core/language_models/chat_models";
import {
  AIMessage,
  AIMessageChunk,
  HumanMessage,
  SystemMessage,
  type BaseMessage,
  type UsageMetadata,
} from "@langchain/core/messages";
import { ChatGenerationChunk, type ChatResult } from "@langchain/core/outputs";
import { RunnableLambda, type Runnable, type RunnableConfig } from "@langchain/core/runnables";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import { isSerializableSchema, isStandardSchema, type SerializableSchema } from "@langchain/core/utils/standard_schema";
import { interopSafeParseAsync, isInteropZodSchema, type InteropZodType } from "@langchain/core/utils/types";
import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
} from "node-llama-cpp";
import { LocalModelError, type GgufSummary } from "./gguf-check.js";
import { resolveLocalModel, type DownloadProgress } from "./resolve.js";

// ---------------------------------------------------------------------------------------------------------------
// Defaults

/**
 * Default thread count: `CODECLM_LOCAL_THREADS` if set, else half the logical CPUs (about the physical cores),
 * between 1 and 8.
 *
 * Measured on this 2-vCPU machine (node-llama-cpp 3.22, CPU build), generation tokens/s with 1 vs 2 threads:
 * tiny 0.5 MB model 2,150 vs 52; 29 MB Q8_0 model 232 vs 27–255 (erratic); 416 MB Q8_0 model (Qwen2.5-0.5B shape)
 * 21.3 vs 8.7–16.8. One thread is never slower here and two are often many times slower: llama.cpp's threads
 * spin-wait on each other, which collapses when they share the cores with Node and other processes. llama.cpp's
 * usual advice is one thread per physical core, and half the logical CPUs approximates that on SMT laptops.
 */
export function defaultLocalThreads(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number(env["CODECLM_LOCAL_THREADS"]);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  const cpus = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(8, Math.floor(cpus / 2)));
}

export const DEFAULT_CONTEXT_SIZE = 4096;
export const DEFAULT_SEQUENCES = 2;
export const DEFAULT_MAX_TOKENS = 1024;
export const DEFAULT_TEMPERATURE = 0.7;
export const DEFAULT_STRUCTURED_RETRIES = 2;
/** Default grammar bounds for strings/arrays whose schema sets none. */
export const DEFAULT_GRAMMAR_BOUNDS: Readonly<GrammarBounds> = {
  maxStringLength: 2000,
  maxItems: 20,
  maxEnumRange: 100,
};

export interface GrammarBounds {
  /** `maxLength` given to strings without one. */
  maxStringLength: number;
  /** `maxItems` given to arrays (and `maxProperties` to open objects) without one. */
  maxItems: number;
  /** Integers with `minimum`/`maximum` at most this far apart become an enum (the grammar cannot bound numbers). */
  maxEnumRange: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Options

export interface LocalChatModelOptions extends BaseChatModelParams {
  /** A GGUF path or a model URI (`hf:OWNER/REPO/FILE.gguf`, `https://...`); an optional `local:` prefix is ignored. */
  model: string;
  /** Sampling temperature; 0 is greedy (default 0.7). */
  temperature?: number;
  /** Maximum tokens generated per call (default 1024). */
  maxTokens?: number;
  /** CPU threads for evaluation (default `defaultLocalThreads()`). */
  threads?: number;
  /** Context size per sequence in tokens (default 4096, or the model's training context if smaller). */
  contextSize?: number;
  /** Context sequences = calls evaluated concurrently; further calls queue (default 2). */
  sequences?: number;
  /** Sampling seed (only matters with temperature > 0). */
  seed?: number;
  /** Download cache directory for URIs (default: see `defaultCacheDir`). */
  cacheDir?: string;
  /** "auto" uses Metal/CUDA/Vulkan when available; false forces CPU (default: `CODECLM_LOCAL_GPU`, else "auto"). */
  gpu?: "auto" | false;
  /** Retries of a structured-output call whose answer fails JSON.parse or the schema (default 2). */
  structuredOutputRetries?: number;
  /** Bounds the grammar puts on unbounded strings/arrays (defaults: `DEFAULT_GRAMMAR_BOUNDS`). */
  grammarBounds?: Partial<GrammarBounds>;
  /** Also state the JSON schema in the system prompt of structured calls (default true). */
  schemaInPrompt?: boolean;
  /** Called while a URI model downloads (the CLI draws a progress bar). */
  onDownloadProgress?: (progress: DownloadProgress) => void;
  /** Connect timeout for downloads in ms (default 15 000). */
  connectTimeoutMs?: number;
}

export interface LocalChatModelCallOptions extends BaseChatModelCallOptions {
  /** Constrain the output with node-llama-cpp's JSON-schema grammar (set by `withStructuredOutput`). */
  jsonSchema?: Record<string, unknown>;
  temperature?: number;
  maxTokens?: number;
  seed?: number;
}

/**
 * Structured output that stayed malformed after the retries. `attempts` holds each raw answer and its problem;
 * `usage` the tokens all attempts spent (so a caller can still meter the failed call).
 */
export class MalformedOutputError extends LocalModelError {
  override readonly name: string = "MalformedOutputError";
  readonly attempts: ReadonlyArray<{ text: string; problem: string }>;
  readonly usage: UsageMetadata;
  constructor(
    message: string,
    file: string | undefined,
    attempts: ReadonlyArray<{ text: string; problem: string }>,
    usage: UsageMetadata,
  ) {
    super(message, { code: "malformed-output", ...(file !== undefined ? { file } : {}) });
    this.attempts = attempts;
    this.usage = usage;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shared runtime: Llama instances, models, contexts, grammars

interface Slot {
  sequence: LlamaContextSequence;
  chat: LlamaChat;
}

/** A fixed set of context sequences handed out FIFO; waiters leave the queue when their signal aborts. */
class SequencePool {
  private readonly free: Slot[];
  private readonly waiters: Array<{
    resolve: (slot: Slot) => void;
    reject: (err: unknown) => void;
    signal: AbortSignal | undefined;
    onAbort: () => void;
  }> = [];
  constructor(
    readonly context: LlamaContext,
    slots: Slot[],
  ) {
    this.free = slots;
  }
  get size(): number {
    return this.context.totalSequences;
  }
  acquire(signal: AbortSignal | undefined): Promise<Slot> {
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise<Slot>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }
  release(slot: Slot): void {
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      this.free.push(slot);
      return;
    }
    waiter.signal?.removeEventListener("abort", waiter.onAbort);
    waiter.resolve(slot);
  }
}

interface Runtime {
  llama: Llama;
  model: LlamaModel;
  pool: SequencePool;
  path: string;
  summary: GgufSummary;
}

const llamas = new Map<string, Promise<Llama>>();
const models = new Map<string, Promise<LlamaModel>>();
const pools = new Map<string, Promise<SequencePool>>();
const grammars = new WeakMap<Llama, Map<string, Promise<LlamaGrammar>>>();

/** Caches a promise under `key`, forgetting it if it rejects so a later call can try again. */
function memo<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (p === undefined) {
    p = make();
    map.set(key, p);
    p.catch(() => {
      if (map.get(key) === p) map.delete(key);
    });
  }
  return p;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function getSharedLlama(gpu: "auto" | false): Promise<Llama> {
  return memo(llamas, String(gpu), async () => {
    try {
      return await getLlama({
        gpu,
        build: "never", // never try to compile llama.cpp (slow, needs a toolchain and network)
        maxThreads: 0, // the context's `threads` is then the exact count used
        logLevel: LlamaLogLevel.error,
        progressLogs: false,
      });
    } catch (err) {
      throw new LocalModelError(`Cannot start llama.cpp (node-llama-cpp): ${errorText(err)}`, {
        code: "load-failed",
        cause: err,
      });
    }
  });
}

function getSharedModel(llama: Llama, gpu: "auto" | false, modelPath: string): Promise<LlamaModel> {
  return memo(models, `${gpu}\u0000${modelPath}`, async () => {
    try {
      return await llama.loadModel({ modelPath });
    } catch (err) {
      throw new LocalModelError(`Cannot load the local model ${modelPath}: ${errorText(err)}`, {
        code: "load-failed",
        file: modelPath,
        cause: err,
      });
    }
  });
}

function getSharedPool(
  model: LlamaModel,
  key: string,
  opts: { contextSize: number; sequences: number; threads: number; file: string },
): Promise<SequencePool> {
  return memo(pools, key, async () => {
    let context: LlamaContext;
    try {
      context = await model.createContext({
        contextSize: opts.contextSize,
        sequences: opts.sequences,
        threads: opts.threads,
        failedCreationRemedy: false,
      });
    } catch (err) {
      throw new LocalModelError(
        `Cannot create a ${opts.contextSize}-token context (${opts.sequences} sequences) for ${opts.file}: ${errorText(err)} ` +
          `(try a smaller contextSize or fewer sequences)`,
        { code: "load-failed", file: opts.file, cause: err },
      );
    }
    const slots: Slot[] = [];
    let wrapper: ChatWrapper | undefined;
    for (let i = 0; i < opts.sequences; i++) {
      const sequence = context.getSequence();
      // The first chat resolves the model's chat wrapper ("auto"); the others reuse it.
      const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: wrapper ?? "auto" });
      wrapper = chat.chatWrapper;
      slots.push({ sequence, chat });
    }
    return new SequencePool(context, slots);
  });
}

function getGrammar(llama: Llama, schema: Record<string, unknown>): Promise<LlamaGrammar> {
  let cache = grammars.get(llama);
  if (cache === undefined) {
    cache = new Map();
    grammars.set(llama, cache);
  }
  return memo(cache, JSON.stringify(schema), async () => {
    try {
      return await llama.createGrammarForJsonSchema(
        schema as unknown as Parameters<Llama["createGrammarForJsonSchema"]>[0],
      );
    } catch (err) {
      throw new LocalModelError(`The JSON schema cannot be turned into a grammar: ${errorText(err)}`, {
        code: "load-failed",
        cause: err,
      });
    }
  });
}

/** Frees every shared context, model and llama.cpp instance (tests, end of a CLI run). */
export async function disposeLocalModels(): Promise<void> {
  const settled = async <T>(m: Map<string, Promise<T>>): Promise<T[]> => {
    const all = await Promise.allSettled([...m.values()]);
    m.clear();
    return all.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  };
  for (const pool of await settled(pools)) await pool.context.dispose().catch(() => undefined);
  for (const model of await settled(models)) await model.dispose().catch(() => undefined);
  for (const llama of await settled(llamas)) await llama.dispose().catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

function messageText(message: BaseMessage): string {
  const content = message.content;
  if (typeof content === "string") return content;
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === "string") parts.push(part);
    else if (part.type === "text" && typeof (part as { text?: unknown }).text === "string")
      parts.push((part as { text: string }).text);
    else throw new TypeError(`Local models take text only; got a "${String(part.type)}" content block`);
  }
  return parts.join("");
}

/** LangChain messages → node-llama-cpp chat history ending with the model turn to generate (or continue). */
export function toChatHistory(messages: readonly BaseMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  for (const message of messages) {
    const type = message.getType();
    const text = messageText(message);
    const last = history[history.length - 1];
    if (type === "system" || type === "developer") {
      if (last?.type === "system") last.text += `\n\n${text}`;
      else history.push({ type: "system", text });
    } else if (type === "ai") {
      if (last?.type === "model") last.response.push(text);
      else history.push({ type: "model", response: [text] });
    } else {
      // human, tool, function, generic: the model sees them as user turns
      const prefix = type === "tool" || type === "function" ? "Tool result:\n" : "";
      if (last?.type === "user") last.text += `\n\n${prefix}${text}`;
      else history.push({ type: "user", text: `${prefix}${text}` });
    }
  }
  // A trailing AI message is a prefix for the answer to continue; otherwise open a new model turn.
  if (history[history.length - 1]?.type !== "model") history.push({ type: "model", response: [] });
  return history;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON schema → node-llama-cpp grammar schema

const ANY_VALUE: Record<string, unknown> = { type: ["string", "number", "boolean", "null"] };
const GRAMMAR_FORMATS = new Set(["date-time", "date", "time"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function finiteNumber(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

type Node = Record<string, unknown>;
type Convert = (node: unknown) => Node;

function grammarString(node: Node, out: Node, bounds: GrammarBounds): Node {
  const format = node["format"];
  if (typeof format === "string" && GRAMMAR_FORMATS.has(format)) return { ...out, type: "string", format };
  const minLength = finiteNumber(node["minLength"]);
  const maxLength = finiteNumber(node["maxLength"]) ?? Math.max(bounds.maxStringLength, minLength ?? 0);
  return { ...out, type: "string", ...(minLength !== undefined ? { minLength } : {}), maxLength };
}

/** Small integer ranges become enums (the grammar has no numeric bounds). */
function grammarInteger(node: Node, out: Node, bounds: GrammarBounds): Node {
  const exMin = finiteNumber(node["exclusiveMinimum"]);
  const exMax = finiteNumber(node["exclusiveMaximum"]);
  const lo = finiteNumber(node["minimum"]) ?? (exMin !== undefined ? Math.floor(exMin) + 1 : undefined);
  const hi = finiteNumber(node["maximum"]) ?? (exMax !== undefined ? Math.ceil(exMax) - 1 : undefined);
  if (lo !== undefined && hi !== undefined && hi >= lo && hi - lo <= bounds.maxEnumRange) {
    const values: number[] = [];
    for (let v = Math.ceil(lo); v <= hi; v++) values.push(v);
    return { ...out, enum: values };
  }
  return { ...out, type: "integer" };
}

function grammarArray(node: Node, out: Node, bounds: GrammarBounds, convert: Convert): Node {
  const res: Node = { ...out, type: "array" };
  const items = node["items"];
  const prefix = Array.isArray(node["prefixItems"]) ? node["prefixItems"] : Array.isArray(items) ? items : undefined;
  if (prefix !== undefined) res["prefixItems"] = prefix.map(convert);
  if (isRecord(items)) res["items"] = convert(items);
  else if (prefix === undefined) res["items"] = ANY_VALUE;
  const minItems = finiteNumber(node["minItems"]);
  if (minItems !== undefined) res["minItems"] = minItems;
  res["maxItems"] = finiteNumber(node["maxItems"]) ?? Math.max(bounds.maxItems, minItems ?? 0, prefix?.length ?? 0);
  return res;
}

function grammarObject(node: Node, out: Node, bounds: GrammarBounds, convert: Convert): Node {
  const res: Node = { ...out, type: "object" };
  const props = isRecord(node["properties"]) ? node["properties"] : {};
  res["properties"] = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, convert(v)]));
  const extra = node["additionalProperties"];
  // Extra keys only where the schema asks for them: a record's value schema, `true`/`{}`, or an object without
  // any declared property. An omitted `additionalProperties` next to declared properties generates none.
  if (isRecord(extra) && Object.keys(extra).length > 0) res["additionalProperties"] = convert(extra);
  else if (extra === true || isRecord(extra)) res["additionalProperties"] = true;
  else res["additionalProperties"] = extra === undefined && Object.keys(props).length === 0;
  if (res["additionalProperties"] !== false) {
    const minProperties = finiteNumber(node["minProperties"]);
    if (minProperties !== undefined) res["minProperties"] = minProperties;
    res["maxProperties"] = finiteNumber(node["maxProperties"]) ?? Math.max(bounds.maxItems, Object.keys(props).length);
  }
  return res;
}

/**
 * Converts a JSON schema (draft 7 / 2020-12 as zod and LangChain emit it) to the subset node-llama-cpp's grammar
 * understands: `anyOf` → `oneOf`, `definitions` → `$defs`, unsupported keywords dropped (zod still checks them),
 * bounds added to strings/arrays without any, small integer ranges as enums.
 */
export function toGrammarSchema(
  schema: unknown,
  bounds: GrammarBounds = DEFAULT_GRAMMAR_BOUNDS,
): Record<string, unknown> {
  const convert = (node: unknown): Record<string, unknown> => {
    if (!isRecord(node) || Object.keys(node).length === 0) return ANY_VALUE;
    const out: Record<string, unknown> = {};
    if (typeof node["description"] === "string") out["description"] = node["description"];
    const defs = isRecord(node["$defs"])
      ? node["$defs"]
      : isRecord(node["definitions"])
        ? node["definitions"]
        : undefined;
    const withDefs = (o: Record<string, unknown>): Record<string, unknown> => {
      if (defs !== undefined) o["$defs"] = Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, convert(v)]));
      return o;
    };
    if (typeof node["$ref"] === "string")
      return withDefs({ ...out, $ref: node["$ref"].replace("#/definitions/", "#/$defs/") });
    if ("const" in node) return { ...out, const: node["const"] };
    if (Array.isArray(node["enum"])) return { ...out, enum: node["enum"] };
    const union = Array.isArray(node["anyOf"])
      ? node["anyOf"]
      : Array.isArray(node["oneOf"])
        ? node["oneOf"]
        : undefined;
    if (union !== undefined) return withDefs({ ...out, oneOf: union.map(convert) });
    if (Array.isArray(node["allOf"])) {
      const parts = node["allOf"].map(convert);
      if (parts.length === 1 && parts[0] !== undefined) return withDefs({ ...parts[0], ...out });
      const props: Record<string, unknown> = {};
      for (const p of parts) if (isRecord(p["properties"])) Object.assign(props, p["properties"]);
      return withDefs({ ...out, type: "object", properties: props, additionalProperties: false });
    }
    let type = node["type"];
    if (Array.isArray(type)) {
      const types = type.filter((t): t is string => typeof t === "string");
      if (types.length === 1) type = types[0];
      else return withDefs({ ...out, oneOf: types.map((t) => convert({ ...node, type: t })) });
    }
    if (type === undefined)
      type = isRecord(node["properties"]) ? "object" : node["items"] !== undefined ? "array" : undefined;
    switch (type) {
      case "string":
        return grammarString(node, out, bounds);
      case "integer":
        return grammarInteger(node, out, bounds);
      case "number":
      case "boolean":
      case "null":
        return { ...out, type };
      case "array":
        return withDefs(grammarArray(node, out, bounds, convert));
      case "object":
        return withDefs(grammarObject(node, out, bounds, convert));
      default:
        return withDefs({ ...out, ...ANY_VALUE });
    }
  };
  return convert(schema);
}

// ---------------------------------------------------------------------------------------------------------------
// Validation of structured output

type Validation<T> = { ok: true; value: T } | { ok: false; problem: string };

function formatIssues(
  issues: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>; message: string }>,
): string {
  return issues
    .slice(0, 8)
    .map((i) => {
      const p = (i.path ?? []).map((k) => (typeof k === "object" && k !== null ? String(k.key) : String(k))).join(".");
      return `${p === "" ? "(root)" : p}: ${i.message}`;
    })
    .join("; ");
}

async function validateStructured<T>(schema: unknown, text: string): Promise<Validation<T>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const shown = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    return { ok: false, problem: `the answer is not valid JSON (${errorText(err)}): ${JSON.stringify(shown)}` };
  }
  if (isInteropZodSchema(schema)) {
    const r = await interopSafeParseAsync(schema as InteropZodType<T>, value);
    if (r.success) return { ok: true, value: r.data };
    const issues = (r.error as { issues?: Array<{ path?: PropertyKey[]; message: string }> }).issues ?? [];
    return { ok: false, problem: issues.length > 0 ? formatIssues(issues) : errorText(r.error) };
  }
  if (isStandardSchema(schema)) {
    const r = await schema["~standard"].validate(value);
    if (r.issues === undefined) return { ok: true, value: r.value as T };
    return { ok: false, problem: formatIssues(r.issues) };
  }
  return { ok: true, value: value as T }; // a plain JSON schema: the grammar is the check
}

function addUsage(a: UsageMetadata, b: UsageMetadata | undefined): UsageMetadata {
  if (b === undefined) return a;
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
    input_token_details: {
      cache_read: (a.input_token_details?.cache_read ?? 0) + (b.input_token_details?.cache_read ?? 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The chat model

interface GenerationResult {
  text: string;
  usage: UsageMetadata;
  finishReason: "stop" | "length" | "abort";
  stopReason: string;
}

export class LocalChatModel extends BaseChatModel<LocalChatModelCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "LocalChatModel";
  }

  readonly model: string;
  readonly temperature: number;
  readonly maxTokens: number;
  readonly threads: number;
  readonly contextSize: number | undefined;
  readonly sequences: number;
  readonly seed: number | undefined;
  readonly cacheDir: string | undefined;
  readonly gpu: "auto" | false;
  readonly structuredOutputRetries: number;
  readonly grammarBounds: GrammarBounds;
  readonly schemaInPrompt: boolean;
  private readonly onDownloadProgress: ((p: DownloadProgress) => void) | undefined;
  private readonly connectTimeoutMs: number | undefined;
  private runtimePromise: Promise<Runtime> | undefined;

  constructor(options: LocalChatModelOptions) {
    super(options);
    if (typeof options.model !== "string" || options.model.trim() === "")
      throw new LocalModelError("LocalChatModel needs a model: a GGUF path or a URI such as hf:OWNER/REPO/FILE.gguf", {
        code: "not-found",
      });
    const positiveInt = (name: string, v: number | undefined, fallback: number): number => {
      if (v === undefined) return fallback;
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`LocalChatModel: ${name} must be a positive integer, got ${v}`);
      return v;
    };
    this.model = options.model.trim();
    this.temperature = options.temperature ?? DEFAULT_TEMPERATURE;
    if (!(this.temperature >= 0))
      throw new RangeError(`LocalChatModel: temperature must be >= 0, got ${this.temperature}`);
    this.maxTokens = positiveInt("maxTokens", options.maxTokens, DEFAULT_MAX_TOKENS);
    this.threads = positiveInt("threads", options.threads, defaultLocalThreads());
    this.contextSize =
      options.contextSize === undefined
        ? undefined
        : positiveInt("contextSize", options.contextSize, DEFAULT_CONTEXT_SIZE);
    this.sequences = positiveInt("sequences", options.sequences, DEFAULT_SEQUENCES);
    this.seed = options.seed;
    this.cacheDir = options.cacheDir;
    const envGpu = process.env["CODECLM_LOCAL_GPU"]?.toLowerCase();
    this.gpu =
      options.gpu ?? (envGpu === "false" || envGpu === "0" || envGpu === "off" || envGpu === "cpu" ? false : "auto");
    this.structuredOutputRetries = options.structuredOutputRetries ?? DEFAULT_STRUCTURED_RETRIES;
    if (!Number.isInteger(this.structuredOutputRetries) || this.structuredOutputRetries < 0)
      throw new RangeError(`LocalChatModel: structuredOutputRetries must be an integer >= 0`);
    this.grammarBounds = { ...DEFAULT_GRAMMAR_BOUNDS, ...(options.grammarBounds ?? {}) };
    this.schemaInPrompt = options.schemaInPrompt ?? true;
    this.onDownloadProgress = options.onDownloadProgress;
    this.connectTimeoutMs = options.connectTimeoutMs;
  }

  _llmType(): string {
    return "local-llama-cpp";
  }

  /** A short model name for metadata: the file name without `.gguf`. */
  get modelName(): string {
    const base = path.basename(this.model.replace(/#.*$/, ""));
    return base.toLowerCase().endsWith(".gguf") ? base.slice(0, -5) : base;
  }

  override getLsParams(options: this["ParsedCallOptions"]): LangSmithParams {
    return {
      ls_provider: "local",
      ls_model_name: this.modelName,
      ls_model_type: "chat",
      ls_temperature: options.temperature ?? this.temperature,
      ls_max_tokens: options.maxTokens ?? this.maxTokens,
      ...(options.stop !== undefined ? { ls_stop: options.stop } : {}),
    };
  }

  override invocationParams(options?: this["ParsedCallOptions"]): Record<string, unknown> {
    return {
      model: this.model,
      temperature: options?.temperature ?? this.temperature,
      max_tokens: options?.maxTokens ?? this.maxTokens,
      threads: this.threads,
      context_size: this.contextSize ?? DEFAULT_CONTEXT_SIZE,
      sequences: this.sequences,
      ...((options?.seed ?? this.seed) !== undefined ? { seed: options?.seed ?? this.seed } : {}),
    };
  }

  /**
   * Resolves (downloading if needed), checks and loads the model and its context now instead of on the first call.
   * Rejects with a `LocalModelError` (see `resolveLocalModel` for the codes).
   */
  async load(): Promise<{
    path: string;
    summary: GgufSummary;
    contextSize: number;
    threads: number;
    sequences: number;
  }> {
    const rt = await this.runtime();
    return {
      path: rt.path,
      summary: rt.summary,
      contextSize: rt.pool.context.contextSize,
      threads: this.threads,
      sequences: rt.pool.size,
    };
  }

  /** The shared node-llama-cpp objects behind this instance (for benchmarks and diagnostics; do not dispose them). */
  async loadedModel(): Promise<{ llama: Llama; model: LlamaModel; path: string }> {
    const rt = await this.runtime();
    return { llama: rt.llama, model: rt.model, path: rt.path };
  }

  private runtime(): Promise<Runtime> {
    if (this.runtimePromise === undefined) {
      const p = this.makeRuntime();
      this.runtimePromise = p;
      p.catch(() => {
        if (this.runtimePromise === p) this.runtimePromise = undefined; // let a later call try again
      });
    }
    return this.runtimePromise;
  }

  private async makeRuntime(): Promise<Runtime> {
    const resolved = await resolveLocalModel(this.model, {
      ...(this.cacheDir !== undefined ? { cacheDir: this.cacheDir } : {}),
      ...(this.onDownloadProgress !== undefined ? { onProgress: this.onDownloadProgress } : {}),
      ...(this.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.connectTimeoutMs } : {}),
    });
    const llama = await getSharedLlama(this.gpu);
    const model = await getSharedModel(llama, this.gpu, resolved.path);
    const trained = resolved.summary.contextLength;
    const contextSize =
      this.contextSize ?? (trained > 0 ? Math.min(DEFAULT_CONTEXT_SIZE, trained) : DEFAULT_CONTEXT_SIZE);
    const key = [this.gpu, resolved.path, `t${this.threads}`, `c${contextSize}`, `s${this.sequences}`].join("\u0000");
    const pool = await getSharedPool(model, key, {
      contextSize,
      sequences: this.sequences,
      threads: this.threads,
      file: resolved.path,
    });
    return { llama, model, pool, path: resolved.path, summary: resolved.summary };
  }

  private async generateText(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    onTextChunk?: (text: string) => void,
  ): Promise<GenerationResult> {
    const signal = options.signal;
    signal?.throwIfAborted();
    const history = toChatHistory(messages);
    const rt = await this.runtime();
    const grammar = options.jsonSchema !== undefined ? await getGrammar(rt.llama, options.jsonSchema) : undefined;
    signal?.throwIfAborted();
    const slot = await rt.pool.acquire(signal);
    try {
      const promptTokens = slot.chat.chatWrapper
        .generateContextState({ chatHistory: history })
        .contextText.tokenize(rt.model.tokenizer).length;
      const before = slot.sequence.tokenMeter.getState();
      const temperature = options.temperature ?? this.temperature;
      const seed = options.seed ?? this.seed;
      const response = await slot.chat.generateResponse(history, {
        maxTokens: options.maxTokens ?? this.maxTokens,
        temperature,
        ...(seed !== undefined ? { seed } : {}),
        ...(signal !== undefined ? { signal } : {}),
        ...(grammar !== undefined ? { grammar } : {}),
        ...(onTextChunk !== undefined ? { onTextChunk } : {}),
        ...(options.stop !== undefined && options.stop.length > 0 ? { customStopTriggers: options.stop } : {}),
      });
      const after = slot.sequence.tokenMeter.getState();
      const outputTokens = after.usedOutputTokens - before.usedOutputTokens;
      const evaluated = after.usedInputTokens - before.usedInputTokens;
      const stopReason = response.metadata.stopReason;
      return {
        text: response.response,
        usage: {
          input_tokens: promptTokens,
          output_tokens: outputTokens,
          total_tokens: promptTokens + outputTokens,
          input_token_details: { cache_read: Math.max(0, promptTokens - evaluated) },
        },
        finishReason: stopReason === "maxTokens" ? "length" : stopReason === "abort" ? "abort" : "stop",
        stopReason,
      };
    } finally {
      rt.pool.release(slot);
    }
  }

  private responseMetadata(r: GenerationResult): Record<string, unknown> {
    return {
      model_provider: "local",
      model_name: this.modelName,
      finish_reason: r.finishReason,
      stop_reason: r.stopReason,
    };
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const r = await this.generateText(messages, options);
    const message = new AIMessage({
      content: r.text,
      usage_metadata: r.usage,
      response_metadata: this.responseMetadata(r),
    });
    return {
      generations: [{ text: r.text, message, generationInfo: { finish_reason: r.finishReason } }],
      llmOutput: {
        tokenUsage: {
          promptTokens: r.usage.input_tokens,
          completionTokens: r.usage.output_tokens,
          totalTokens: r.usage.total_tokens,
        },
      },
    };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    // Stop the generation if the consumer stops reading early.
    const stop = new AbortController();
    const signal = options.signal !== undefined ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: { error: unknown } | undefined;
    let result: GenerationResult | undefined;
    void this.generateText(messages, { ...options, signal }, (t) => {
      queue.push(t);
      wake?.();
    })
      .then(
        (r) => {
          result = r;
        },
        (error: unknown) => {
          failure = { error };
        },
      )
      .finally(() => {
        done = true;
        wake?.();
      });
    try {
      for (;;) {
        const text = queue.shift();
        if (text !== undefined) {
          yield new ChatGenerationChunk({ text, message: new AIMessageChunk({ content: text }) });
          await runManager?.handleLLMNewToken(text);
          continue;
        }
        if (done) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (queue.length > 0 || done) resolve();
        });
        wake = undefined;
      }
      if (failure !== undefined) throw failure.error;
      if (result !== undefined)
        yield new ChatGenerationChunk({
          text: "",
          message: new AIMessageChunk({
            content: "",
            usage_metadata: result.usage,
            response_metadata: this.responseMetadata(result),
          }),
          generationInfo: { finish_reason: result.finishReason },
        });
    } finally {
      if (!done) stop.abort(new Error("stream closed by the consumer"));
    }
  }

  /* eslint-disable @typescript-eslint/no-explicit-any -- the overloads repeat BaseChatModel.withStructuredOutput's */
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: SerializableSchema<RunOutput> | InteropZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<false>,
  ): Runnable<BaseLanguageModelInput, RunOutput>;
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: SerializableSchema<RunOutput> | InteropZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<true>,
  ): Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  /**
   * Structured output through node-llama-cpp's JSON-schema grammar (`method` is ignored: it is always the grammar).
   * Each attempt is a traced chat-model call; an invalid answer is retried `structuredOutputRetries` times with the
   * problem fed back, then a `MalformedOutputError` is thrown (also with `includeRaw`). With `includeRaw`, `raw` is
   * the accepted answer and its `usage_metadata` is the sum over all attempts (what the call really cost);
   * `response_metadata.structured_output_attempts` says how many there were.
   */
  override withStructuredOutput<RunOutput extends Record<string, any> = Record<string, any>>(
    outputSchema: SerializableSchema<RunOutput> | InteropZodType<RunOutput> | Record<string, any>,
    config?: StructuredOutputMethodOptions<boolean>,
  ):
    | Runnable<BaseLanguageModelInput, RunOutput>
    | Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }> {
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const jsonSchema =
      isInteropZodSchema(outputSchema) || isSerializableSchema(outputSchema)
        ? (toJsonSchema(outputSchema) as Record<string, unknown>)
        : (outputSchema as Record<string, unknown>);
    const promptSchema = { ...jsonSchema };
    delete promptSchema["$schema"];
    const grammarSchema = toGrammarSchema(promptSchema, this.grammarBounds);
    const includeRaw = config?.includeRaw === true;
    const retries = this.structuredOutputRetries;

    const run = async (
      input: BaseLanguageModelInput,
      runConfig?: RunnableConfig,
    ): Promise<RunOutput | { raw: BaseMessage; parsed: RunOutput }> => {
      const base = LocalChatModel._convertInputToPromptValue(input).toChatMessages();
      let messages = this.schemaInPrompt ? withSchemaInstruction(base, promptSchema) : base;
      const attempts: Array<{ text: string; problem: string }> = [];
      let usage: UsageMetadata = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
      for (let attempt = 0; attempt <= retries; attempt++) {
        const callOptions: Partial<LocalChatModelCallOptions> = { ...(runConfig ?? {}), jsonSchema: grammarSchema };
        if (attempt > 0 && (this.seed !== undefined || this.temperature > 0))
          callOptions.seed = (this.seed ?? 0) + attempt * 7919;
        const raw = await this.invoke(messages, callOptions);
        usage = addUsage(usage, raw.usage_metadata);
        const text = typeof raw.content === "string" ? raw.content : raw.text;
        const checked = await validateStructured<RunOutput>(outputSchema, text);
        if (checked.ok) {
          if (!includeRaw) return checked.value;
          raw.usage_metadata = usage;
          raw.response_metadata = { ...raw.response_metadata, structured_output_attempts: attempt + 1 };
          return { raw, parsed: checked.value };
        }
        attempts.push({ text, problem: checked.problem });
        messages = [
          ...messages,
          new AIMessage(text),
          new HumanMessage(`That answer is not valid: ${checked.problem}. Answer again with only the corrected JSON.`),
        ];
      }
      const last = attempts[attempts.length - 1];
      throw new MalformedOutputError(
        `The local model ${this.modelName} returned malformed structured output ${attempts.length} time(s) ` +
          `(1 attempt + ${retries} retries): ${last?.problem ?? "unknown problem"}`,
        this.runtimePromise !== undefined
          ? await this.runtimePromise.then(
              (r) => r.path,
              () => undefined,
            )
          : undefined,
        attempts,
        usage,
      );
    };
    const name = config?.name ?? (includeRaw ? "LocalStructuredOutputRunnable" : "LocalStructuredOutput");
    return RunnableLambda.from(run).withConfig({ runName: name }) as Runnable<BaseLanguageModelInput, RunOutput> &
      Runnable<BaseLanguageModelInput, { raw: BaseMessage; parsed: RunOutput }>;
  }
}

/** Adds "answer with JSON matching this schema" to the (first) system message. */
function withSchemaInstruction(messages: BaseMessage[], schema: Record<string, unknown>): BaseMessage[] {
  const instruction = `Answer with only a JSON value that follows this JSON schema:\n${JSON.stringify(schema)}`;
  const first = messages[0];
  if (first !== undefined && first.getType() === "system")
    return [new SystemMessage(`${messageText(first)}\n\n${instruction}`), ...messages.slice(1)];
  return [new SystemMessage(instruction), ...messages];
}

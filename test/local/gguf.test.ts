import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getLlama, LlamaLogLevel, readGgufFileInfo } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertLoadableGguf, checkGguf, LocalModelError } from "../../models/local/gguf-check.js";
import { buildTinyLlamaGguf, gpt2ByteTokens, writeTinyLlamaGguf } from "../support/gguf-writer.js";
import { disposeLocalModels, LocalChatModel } from "../../models/local/chat-model.js";

let dir: string;
let good: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "codeclm-gguf-"));
  good = path.join(dir, "tiny.gguf");
  await writeTinyLlamaGguf(good);
});

afterAll(async () => {
  await disposeLocalModels();
  await rm(dir, { recursive: true, force: true });
});

/** Keys whose absence llama.cpp either rejects or (head_count, feed_forward_length) aborts the process on. */
const REQUIRED_KEYS = [
  "general.architecture",
  "llama.context_length",
  "llama.embedding_length",
  "llama.block_count",
  "llama.feed_forward_length",
  "llama.attention.head_count",
  "llama.attention.layer_norm_rms_epsilon",
  "tokenizer.ggml.model",
  "tokenizer.ggml.tokens",
  "tokenizer.ggml.merges",
];

describe("tiny GGUF writer", () => {
  it("writes a small, deterministic llama GGUF that node-llama-cpp parses", async () => {
    const info = await writeTinyLlamaGguf(path.join(dir, "again.gguf"));
    expect(info.bytes).toBeGreaterThan(300_000);
    expect(info.bytes).toBeLessThan(600_000);
    expect(info.vocabSize).toBe(259);
    expect((await readFile(info.path)).equals(await readFile(good))).toBe(true);
    const parsed = await readGgufFileInfo(good, { logWarnings: false });
    expect(parsed.version).toBe(3);
    expect(parsed.metadata.general.architecture).toBe("llama");
    expect(parsed.tensorInfo).toHaveLength(2 + 1 + 2 * 9);
    expect(buildTinyLlamaGguf({ seed: 2 }).buffer.equals(buildTinyLlamaGguf({ seed: 1 }).buffer)).toBe(false);
  });

  it("uses the GPT-2 byte-to-unicode table for its 256 byte tokens", () => {
    const tokens = gpt2ByteTokens();
    expect(new Set(tokens).size).toBe(256);
    expect(tokens[0x41]).toBe("A");
    expect(tokens[0x20]).toBe("Ġ");
    expect(tokens[0x0a]).toBe("Ċ");
  });

  it("loads in llama.cpp, tokenizes bytes and ChatML control tokens, and generates", async () => {
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath: good });
      expect(model.tokenize("Hi!")).toEqual([0x48, 0x69, 0x21]);
      expect(model.tokenize("<|im_end|>", true)).toEqual([258]);
      expect(model.tokens.eos).toBe(258);
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const sequence = context.getSequence();
      let n = 0;
      for await (const token of sequence.evaluate(model.tokenize("hello"), { temperature: 0 })) {
        expect(token).toBeLessThan(259);
        if (++n >= 5) break;
      }
      expect(n).toBe(5);
      await context.dispose();
      await model.dispose();
    } finally {
      await llama.dispose();
    }
  });

  it("can write Q8_0 weights (for larger synthetic models) that pass the check", async () => {
    const p = path.join(dir, "q8.gguf");
    await writeTinyLlamaGguf(p, { weightType: "q8_0" });
    const r = await checkGguf(p);
    expect(r.ok).toBe(true);
  });
});

describe("checkGguf", () => {
  it("accepts the good file and summarises it", async () => {
    const r = await checkGguf(good);
    expect(r).toMatchObject({
      ok: true,
      summary: {
        version: 3,
        architecture: "llama",
        contextLength: 2048,
        embeddingLength: 64,
        blockCount: 2,
        vocabSize: 259,
        tokenizerModel: "gpt2",
        hasChatTemplate: true,
        tensorCount: 21,
      },
    });
    await expect(assertLoadableGguf(good)).resolves.toMatchObject({ architecture: "llama" });
  });

  it.each(REQUIRED_KEYS)("refuses a file without %s and names the key", async (key) => {
    const p = path.join(dir, `missing-${key}.gguf`);
    await writeTinyLlamaGguf(p, { omitKeys: [key] });
    const r = await checkGguf(p);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.join("\n")).toContain(`"${key}" is missing`);
    const err = await assertLoadableGguf(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("invalid-gguf");
    expect((err as LocalModelError).file).toBe(p);
    expect((err as Error).message).toContain(p);
    expect((err as Error).message).toContain(key);
  });

  it("accepts files without optional keys", async () => {
    for (const key of [
      "llama.rope.dimension_count",
      "llama.attention.head_count_kv",
      "tokenizer.chat_template",
      "tokenizer.ggml.pre",
    ]) {
      const p = path.join(dir, `optional-${key}.gguf`);
      await writeTinyLlamaGguf(p, { omitKeys: [key] });
      expect((await checkGguf(p)).ok, key).toBe(true);
    }
  });

  it.each([
    ["a zero head count", { "llama.attention.head_count": { type: "u32", value: 0 } }, 'head_count" is 0'],
    [
      "a zero feed-forward length",
      { "llama.feed_forward_length": { type: "u32", value: 0 } },
      'feed_forward_length" is 0',
    ],
    ["a zero block count", { "llama.block_count": { type: "u32", value: 0 } }, 'block_count" is 0'],
    [
      "a width not divisible by the heads",
      { "llama.attention.head_count": { type: "u32", value: 3 } },
      "not divisible",
    ],
    [
      "a head count stored as a string",
      { "llama.attention.head_count": { type: "string", value: "4" } },
      "must be an integer",
    ],
    [
      "an unknown architecture",
      { "general.architecture": { type: "string", value: "nosucharch" } },
      '"nosucharch" is not supported',
    ],
    ["an unknown tokenizer", { "tokenizer.ggml.model": { type: "string", value: "weird" } }, "does not know"],
    [
      "a block count that does not match the tensors",
      { "llama.block_count": { type: "u32", value: 3 } },
      "tensors for 2 blocks",
    ],
  ] as const)("refuses %s", async (_name, overrideKeys, expected) => {
    const p = path.join(dir, `bad-${_name.replace(/\W+/g, "-")}.gguf`);
    await writeTinyLlamaGguf(p, { overrideKeys });
    const r = await checkGguf(p);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.join("\n")).toContain(expected);
  });

  it("refuses a file truncated in the tensor data and says so", async () => {
    const bytes = await readFile(good);
    const p = path.join(dir, "truncated-data.gguf");
    await writeFile(p, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const r = await checkGguf(p);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.problems.join("\n")).toMatch(/truncated: it is \d+ bytes long but tensor "[^"]+" needs \d+ bytes/);
  });

  it("refuses a file truncated in the header (where node-llama-cpp's reader sees zeros)", async () => {
    const bytes = await readFile(good);
    for (const cut of [30, 200, 2_500, 6_000]) {
      const p = path.join(dir, `truncated-${cut}.gguf`);
      await writeFile(p, bytes.subarray(0, cut));
      const r = await checkGguf(p);
      expect(r.ok, `cut at ${cut}`).toBe(false);
      if (!r.ok) expect(r.problems.join("\n")).toMatch(/cut short|truncated/);
    }
  });

  it("refuses non-GGUF, empty, old-version and missing files", async () => {
    const notGguf = path.join(dir, "notes.txt");
    await writeFile(notGguf, "this is a text file, not a model at all".repeat(10));
    const r1 = await checkGguf(notGguf);
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.problems[0]).toContain("not a GGUF file");

    const empty = path.join(dir, "empty.gguf");
    await writeFile(empty, "");
    const r2 = await checkGguf(empty);
    expect(r2.ok).toBe(false);

    const v1 = path.join(dir, "v1.gguf");
    const bytes = Buffer.from(await readFile(good));
    bytes.writeUInt32LE(1, 4);
    await writeFile(v1, bytes);
    const r3 = await checkGguf(v1);
    expect(r3.ok).toBe(false);
    if (!r3.ok) expect(r3.problems[0]).toContain("version 1");

    const missing = path.join(dir, "nope.gguf");
    const err = await assertLoadableGguf(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("not-found");
    expect((err as Error).message).toContain("does not exist");
  });

  it("refuses a corrupt array length without reading past the end", async () => {
    const bytes = Buffer.from(await readFile(good));
    // The token list's length field follows its key and type ids; overwrite it with a huge count.
    const key = Buffer.from("tokenizer.ggml.tokens");
    const at = bytes.indexOf(key) + key.length + 4 /* value type */ + 4; /* element type */
    bytes.writeBigUInt64LE(1n << 40n, at);
    const p = path.join(dir, "corrupt-length.gguf");
    await writeFile(p, bytes);
    const r = await checkGguf(p);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems[0]).toContain("tokenizer.ggml.tokens");
  });

  it("makes LocalChatModel refuse a broken file with a LocalModelError instead of aborting the process", async () => {
    // Without the check, llama.cpp hits GGML_ASSERT on this file and kills the process (exit 134).
    const p = path.join(dir, "no-heads.gguf");
    await writeTinyLlamaGguf(p, { omitKeys: ["llama.attention.head_count"] });
    const model = new LocalChatModel({ model: p, gpu: false, threads: 1 });
    const err = await model.invoke("hello").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("invalid-gguf");
    expect((err as Error).message).toContain("llama.attention.head_count");
    expect((err as Error).message).toContain(p);
  });
});

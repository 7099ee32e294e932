/**
 * Local provider benchmark: tokens/s of raw node-llama-cpp generation (LlamaChatSession on its own context) versus
 * `LocalChatModel.invoke` on the same model file, prompt, thread count, context size and token budget.
 *
 *   npx tsx bench/local.ts [--model PATH.gguf] [--threads N] [--tokens N] [--runs N] [--context N]
 *
 * Without --model it writes the tiny llama GGUF of the tests (with the end-of-sequence token suppressed so every run
 * generates exactly --tokens tokens). Each run is timed end to end (prompt evaluation + generation); the table shows
 * the median over --runs runs after warm-up runs of each. The raw side is LlamaChatSession.prompt on its own context
 * (same model object, threads, context size), and LlamaCompletion fed the same chat-template-rendered prompt; all
 * sides keep their sequence between runs, so all reuse the evaluated prompt prefix. Runs alternate raw/provider order to spread machine noise over both.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { LlamaChat, LlamaChatSession, LlamaCompletion } from "node-llama-cpp";
import { defaultLocalThreads, disposeLocalModels, LocalChatModel } from "../models/local/chat-model.js";
import { writeTinyLlamaGguf } from "../test/support/gguf-writer.js";

export interface LocalBenchOptions {
  /** A GGUF path; default: a freshly written tiny llama GGUF. */
  model?: string;
  /** Threads for both sides (default `defaultLocalThreads()`). */
  threads?: number;
  /** Tokens to generate per run (default 256). */
  tokens?: number;
  /** Timed runs per side (default 7). */
  runs?: number;
  /** Untimed warm-up runs per side (default 3). */
  warmupRuns?: number;
  /** Context size for both sides (default 1024). */
  contextSize?: number;
  prompt?: string;
  /** Print the table (default true when run from the command line). */
  print?: boolean;
}

export interface LocalBenchSide {
  /** Median tokens/s over the runs (generated tokens / wall time of the call). */
  tokensPerSecond: number;
  /** Median seconds per call. */
  secondsPerRun: number;
  /** Tokens generated per run (median). */
  tokensPerRun: number;
  runs: number[];
}

export interface LocalBenchResult {
  model: string;
  threads: number;
  contextSize: number;
  tokens: number;
  /** node-llama-cpp's chat API: LlamaChatSession.prompt. */
  raw: LocalBenchSide;
  /** node-llama-cpp's plain completion API on the same rendered chat prompt: LlamaCompletion.generateCompletion. */
  rawCompletion: LocalBenchSide;
  /** LocalChatModel.invoke. */
  provider: LocalBenchSide;
  /** provider tokens/s ÷ LlamaChatSession tokens/s. */
  ratio: number;
  /** provider tokens/s ÷ LlamaCompletion tokens/s. */
  ratioToCompletion: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function side(samples: Array<{ tokens: number; seconds: number }>): LocalBenchSide {
  const tps = samples.map((s) => s.tokens / s.seconds);
  return {
    tokensPerSecond: median(tps),
    secondsPerRun: median(samples.map((s) => s.seconds)),
    tokensPerRun: median(samples.map((s) => s.tokens)),
    runs: tps,
  };
}

export async function runLocalBench(options: LocalBenchOptions = {}): Promise<LocalBenchResult> {
  const threads = options.threads ?? defaultLocalThreads();
  const tokens = options.tokens ?? 256;
  const runs = options.runs ?? 7;
  const contextSize = options.contextSize ?? 1024;
  const prompt = options.prompt ?? "Write a short story about a lighthouse keeper who finds a message in a bottle.";
  let tmpDir: string | undefined;
  let modelPath = options.model;
  if (modelPath === undefined) {
    tmpDir = await mkdtemp(path.join(os.tmpdir(), "codeclm-bench-"));
    modelPath = path.join(tmpDir, "tiny-llama.gguf");
    await writeTinyLlamaGguf(modelPath, { eosBias: -30 });
  }
  try {
    const provider = new LocalChatModel({
      model: modelPath,
      threads,
      contextSize,
      sequences: 1,
      temperature: 0,
      maxTokens: tokens,
      gpu: false,
    });
    // Same Llama instance and weights for both sides; the raw side gets its own context with the same settings.
    const { model } = await provider.loadedModel();
    // Like the provider, the raw side keeps one sequence across runs, so both reuse the evaluated prompt prefix.
    const context = await model.createContext({ contextSize, threads, sequences: 2 });
    const sequence = context.getSequence();
    const session = new LlamaChatSession({ contextSequence: sequence });
    const rawRun = async (): Promise<{ tokens: number; seconds: number }> => {
      session.resetChatHistory();
      const before = sequence.tokenMeter.getState().usedOutputTokens;
      const t0 = performance.now();
      await session.prompt(prompt, { maxTokens: tokens, temperature: 0 });
      const seconds = (performance.now() - t0) / 1000;
      return { tokens: sequence.tokenMeter.getState().usedOutputTokens - before, seconds };
    };
    // The lowest-level text API: LlamaCompletion fed the same chat-template-rendered prompt.
    const completionSequence = context.getSequence();
    const renderer = new LlamaChat({ contextSequence: completionSequence });
    const renderedPrompt = renderer.chatWrapper.generateContextState({
      chatHistory: [
        { type: "user", text: prompt },
        { type: "model", response: [] },
      ],
    }).contextText;
    renderer.dispose({ disposeSequence: false });
    const completion = new LlamaCompletion({ contextSequence: completionSequence });
    const completionRun = async (): Promise<{ tokens: number; seconds: number }> => {
      const before = completionSequence.tokenMeter.getState().usedOutputTokens;
      const t0 = performance.now();
      await completion.generateCompletion(renderedPrompt, { maxTokens: tokens, temperature: 0 });
      const seconds = (performance.now() - t0) / 1000;
      return { tokens: completionSequence.tokenMeter.getState().usedOutputTokens - before, seconds };
    };
    const providerRun = async (): Promise<{ tokens: number; seconds: number }> => {
      const t0 = performance.now();
      const msg = await provider.invoke(prompt);
      const seconds = (performance.now() - t0) / 1000;
      return { tokens: msg.usage_metadata?.output_tokens ?? 0, seconds };
    };
    // Warm-up (JIT, CPU clocks, page cache), then pairs in alternating order so drift hits both sides alike.
    for (let i = 0; i < (options.warmupRuns ?? 3); i++) {
      await rawRun();
      await completionRun();
      await providerRun();
    }
    const raw: Array<{ tokens: number; seconds: number }> = [];
    const comp: Array<{ tokens: number; seconds: number }> = [];
    const prov: Array<{ tokens: number; seconds: number }> = [];
    const order = [
      async () => raw.push(await rawRun()),
      async () => comp.push(await completionRun()),
      async () => prov.push(await providerRun()),
    ];
    for (let i = 0; i < runs; i++) for (let j = 0; j < order.length; j++) await order[(i + j) % order.length]?.();
    session.dispose();
    completion.dispose();
    await context.dispose();
    const result: LocalBenchResult = {
      model: modelPath,
      threads,
      contextSize,
      tokens,
      raw: side(raw),
      rawCompletion: side(comp),
      provider: side(prov),
      ratio: 0,
      ratioToCompletion: 0,
    };
    result.ratio = result.provider.tokensPerSecond / result.raw.tokensPerSecond;
    result.ratioToCompletion = result.provider.tokensPerSecond / result.rawCompletion.tokensPerSecond;
    if (options.print === true) printTable(result, options.model === undefined);
    return result;
  } finally {
    await disposeLocalModels();
    if (tmpDir !== undefined) await rm(tmpDir, { recursive: true, force: true });
  }
}

function printTable(r: LocalBenchResult, tiny: boolean): void {
  const fmt = (n: number, d = 1): string => n.toFixed(d);
  const rows: Array<[string, string, string, string]> = [
    ["", "tokens/s (median)", "s/run", "tokens/run"],
    ["raw: LlamaChatSession", fmt(r.raw.tokensPerSecond), fmt(r.raw.secondsPerRun, 3), fmt(r.raw.tokensPerRun, 0)],
    [
      "raw: LlamaCompletion",
      fmt(r.rawCompletion.tokensPerSecond),
      fmt(r.rawCompletion.secondsPerRun, 3),
      fmt(r.rawCompletion.tokensPerRun, 0),
    ],
    [
      "LocalChatModel",
      fmt(r.provider.tokensPerSecond),
      fmt(r.provider.secondsPerRun, 3),
      fmt(r.provider.tokensPerRun, 0),
    ],
  ];
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((row) => row[c as 0 | 1 | 2 | 3].length)));
  console.log(
    `model: ${tiny ? "tiny llama GGUF (generated)" : r.model}  threads: ${r.threads}  context: ${r.contextSize}  ` +
      `tokens/run: ${r.tokens}  runs: ${r.raw.runs.length}`,
  );
  for (const row of rows)
    console.log(
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("   "),
    );
  console.log(
    `LocalChatModel / LlamaChatSession: ${fmt(r.ratio * 100)} %   LocalChatModel / LlamaCompletion: ${fmt(r.ratioToCompletion * 100)} %`,
  );
}

function parseArgs(argv: string[]): LocalBenchOptions {
  const o: LocalBenchOptions = { print: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const num = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${value}`);
      i++;
      return n;
    };
    if (flag === "--model" && value !== undefined) {
      o.model = value;
      i++;
    } else if (flag === "--threads") o.threads = num();
    else if (flag === "--tokens") o.tokens = num();
    else if (flag === "--runs") o.runs = num();
    else if (flag === "--context") o.contextSize = num();
    else
      throw new Error(`unknown argument ${flag ?? ""} (use --model PATH --threads N --tokens N --runs N --context N)`);
  }
  return o;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  runLocalBench(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}

import type { ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnCli } from "../support/cli.js";
import { type ScriptedRole, codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "../support/openai-server.js";

export const root = fileURLToPath(new URL("../..", import.meta.url));

/** An OpenAI-protocol server answering every CodecLM prompt deterministically; "target-model" is the target. */
export function startCodecServer(options: Partial<OpenAIServerOptions> = {}): Promise<FakeOpenAIServer> {
  return startOpenAIServer({
    respond: (request) => {
      const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
      const reply = codecReply(role, request.messages.map((message) => message.content).join("\n"));
      return typeof reply === "string" ? { text: reply } : { json: reply };
    },
    ...options,
  });
}

export async function writeSeeds(dir: string, count = 20): Promise<string> {
  const path = join(dir, "seeds.jsonl");
  const topics = [
    "a limerick about cats",
    "moving averages in pandas",
    "compound interest",
    "the French Revolution",
    "binary search",
    "a haiku about rain",
    "sourdough bread",
  ];
  await writeFile(
    path,
    Array.from({ length: count }, (_, i) =>
      JSON.stringify({ id: `s${i}`, instruction: `Seed ${i}: explain ${topics[i % topics.length]} (${i})` }),
    ).join("\n"),
  );
  return path;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Each started CLI process still running, with what it was asked and has written to stderr so far. */
const running = new Map<ChildProcess, { args: string[]; stderr: () => string }>();

/**
 * Kills (SIGKILL) every CLI process a test started that is still running: a test that failed or timed out
 * half-way must not leave a run calling the shared test server while the next test counts its calls.
 * With `tell` (the test failed), each one's command and the end of its stderr are printed first: a run
 * that hung says where.
 */
export async function killStartedClis(options: { tell?: boolean } = {}): Promise<void> {
  const alive = [...running.keys()].filter((child) => child.exitCode === null && child.signalCode === null);
  if (options.tell)
    for (const child of alive) {
      const { args, stderr } = running.get(child)!;
      console.error(
        `still running: codeclm ${args.join(" ")}\n--- its stderr (last 4000 chars) ---\n${stderr().slice(-4000)}`,
      );
    }
  await Promise.all(
    alive.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once("close", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  running.clear();
}

/** The CLI as one node process (no tsx wrapper), so signals reach it directly. */
export function startCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawnCli(args, env);
  let stdout = "";
  let stderr = "";
  running.set(child, { args, stderr: () => stderr });
  child.once("close", () => running.delete(child));
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

export const runCli = (args: string[], env: Record<string, string>) => startCli(args, env).done;

export async function readJsonl(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Fields that differ between two runs of the same data: run ids and timings. */
const VOLATILE = new Set(["runId", "startedAt", "finishedAt", "wallTimeMs", "elapsedMs", "durationMs", "latencyMs"]);

function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([key]) => !VOLATILE.has(key))
      .map(([key, inner]) => [key, withoutVolatile(inner)]),
  );
}

/**
 * The records of a JSONL output in file order, every field but run ids and timings: what "the same output"
 * means for resume, fault and determinism tests (ids are positional, so equal id sets prove little).
 */
export const readRecords = async (path: string) => (await readJsonl(path)).map(withoutVolatile);

/** How many complete (newline-terminated) lines a file has now; 0 when it does not exist. Never parses. */
export async function completeLines(path: string): Promise<number> {
  try {
    return (await readFile(path, "utf8")).split("\n").length - 1;
  } catch {
    return 0;
  }
}

export const keptIds = async (path: string) => (await readJsonl(path)).map((record) => String(record.id));
export const droppedKeys = async (path: string) =>
  (await readJsonl(path)).map((record) => `${record.kind}|${record.id}|${record.reason}`);
export const readJson = async (path: string) => JSON.parse(await readFile(path, "utf8")) as Record<string, any>;

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const sorted = (items: readonly string[]) => [...items].sort();

import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * `codeclm ARGS` from source as one node process with tsx's loader (not the tsx wrapper, which starts a second
 * node process: slower, and signals would reach the wrapper), with only the given environment (plus PATH and HOME).
 */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", join(root, "cli/main.ts"), ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
  });
}

/** Runs `codeclm ARGS` to the end: its exit code and what it printed. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (chunk) => (stdout += chunk));
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The environment that points the OpenAI provider at a test server. */
export const serverEnv = (server: { url: string }, apiKey: string): Record<string, string> => ({
  OPENAI_BASE_URL: server.url,
  OPENAI_API_KEY: apiKey,
});

export interface GenerateArgs {
  seeds: string;
  out: string;
  size: number;
  pool?: number;
  seed?: number;
  concurrency?: number;
  /** Default: the test servers' `openai:strong-model`. */
  strong?: string;
  /** Default: the test servers' `openai:target-model`. */
  target?: string;
}

/** `generate --seeds SEEDS --out OUT --size N [--pool --seed --concurrency] --strong --target`, then `more`. */
export function generateArgs(run: GenerateArgs, ...more: string[]): string[] {
  const optional = (flag: string, value: number | undefined) => (value === undefined ? [] : [flag, String(value)]);
  return [
    "generate",
    ...["--seeds", run.seeds, "--out", run.out, "--size", String(run.size)],
    ...optional("--pool", run.pool),
    ...optional("--seed", run.seed),
    ...optional("--concurrency", run.concurrency),
    ...["--strong", run.strong ?? "openai:strong-model", "--target", run.target ?? "openai:target-model"],
    ...more,
  ];
}

export const readJsonl = async (path: string): Promise<unknown[]> =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as unknown);

/** The evaluation sets shipped with the project (`data/benchmarks/`). */
export const benchmarkFile = (name: string) => join(root, "data", "benchmarks", name);

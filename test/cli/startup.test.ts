/**
 * Start at once: `--help`, a command's help and usage errors load no provider, LangGraph, checkpointer,
 * LangSmith or plotting module (the modules the process resolves are logged by a loader hook written here).
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

const HEAVY = [
  "@langchain/langgraph",
  "@langchain/core",
  "@langchain/openai",
  "@langchain/google-genai",
  "@langchain/anthropic",
  "@langchain/langgraph-checkpoint-sqlite",
  "@langchain/langgraph-checkpoint-postgres",
  "@dbos-inc/dbos-sdk",
  "langchain",
  "langsmith",
  "openai",
  "node-llama-cpp",
  "better-sqlite3",
  "pg",
  "vega",
  "vega-lite",
  "log-update",
];

let dir: string;
let register: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "codeclm-startup-"));
  const hooks = join(dir, "hooks.mjs");
  await writeFile(
    hooks,
    `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(process.env.IMPORT_LOG, result.url + "\\n");
  return result;
}
`,
  );
  register = join(dir, "register.mjs");
  await writeFile(
    register,
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
});

/** The packages under node_modules that `codeclm ARGS` resolved. */
async function packagesLoaded(args: string[], log: string): Promise<{ code: number; packages: Set<string> }> {
  const path = join(dir, log);
  const result = await runCli(args, { NODE_OPTIONS: `--import ${pathToFileURL(register).href}`, IMPORT_LOG: path });
  const urls = (await readFile(path, "utf8")).split("\n");
  const packages = new Set(
    urls.flatMap((url) => url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)?.map((m) => m.slice(13, -1)) ?? []),
  );
  return { code: result.code, packages };
}

describe("start-up loads only what the command uses", () => {
  it.each([
    ["--help", ["--help"], 0],
    ["a command's --help", ["generate", "--help"], 0],
    ["an unknown command", ["generat"], 2],
    ["an unknown flag", ["generate", "--seeds", "x.jsonl", "--sizee", "3"], 2],
    ["a usage error found in generate's action", ["generate", "--size", "3"], 2],
    ["a usage error found in eval's action", ["eval", "--benchmark", "b.jsonl"], 2],
    ["a usage error found in report's action", ["report", "x.jsonl", "--price", "nonsense"], 2],
  ])("%s: exit as usual, no provider, LangGraph, checkpointer or plotting module", async (label, args, code) => {
    const result = await packagesLoaded(args, `${label.replace(/\W+/g, "-")}.log`);
    expect(result.code).toBe(code);
    expect(result.packages.has("commander")).toBe(true); // the hook saw the CLI's own imports
    expect(HEAVY.filter((name) => result.packages.has(name))).toEqual([]);
  });
});

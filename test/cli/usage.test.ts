/**
 * How the CLI is called: usage errors are one short message with a hint and exit 2, every --help says
 * the defaults, one name per meaning across commands, and every output goes into a folder that is
 * created when it does not exist.
 */
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, serverEnv } from "../support/cli.js";
import { type FakeOpenAIServer } from "../support/openai-server.js";
import { startCodecServer, writeSeeds } from "../scale/support.js";

describe("usage errors", () => {
  it.each([
    ["--size 0", ["generate", "--seeds", "x.jsonl", "--size", "0"], "--size"],
    ["an unknown flag", ["generate", "--seeds", "x.jsonl", "--sizee", "3"], "unknown option '--sizee'"],
    [
      "--val-split 1.5",
      ["export", "x.jsonl", "--format", "alpaca", "--out", "y.jsonl", "--val-split", "1.5"],
      "--val-split",
    ],
    ["an unknown command", ["generat"], "unknown command"],
    ["a bad choice", ["eval", "--benchmark", "b.jsonl", "--format", "xml"], "Allowed choices"],
  ])("%s: exit 2, at most a few lines, a hint and not the whole help", async (_label, args, expected) => {
    const result = await runCli(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const lines = result.stderr.trim().split("\n");
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(lines[0]).toMatch(/^codeclm: /);
    expect(result.stderr).toContain(expected);
    expect(result.stderr).toMatch(/--help lists/);
    expect(result.stderr).not.toContain("Options:");
  });

  it("a bad CODECLM_HEAP_GROWTH: exit 2 before anything runs, naming the variable", async () => {
    const result = await runCli(["generate", "--seeds", "x.jsonl", "--size", "3"], { CODECLM_HEAP_GROWTH: "lots" });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^codeclm: CODECLM_HEAP_GROWTH="lots": expected a whole percent/);
  });

  it("--help and --version still exit 0", async () => {
    expect((await runCli(["generate", "--help"])).code).toBe(0);
    expect((await runCli(["--version"])).code).toBe(0);
  });
});

describe("--help", () => {
  const optionLine = (help: string, flag: string) => {
    const start = help.indexOf(`${flag} `);
    expect(start, `${flag} in the help`).toBeGreaterThanOrEqual(0);
    // An option's description may wrap onto the next lines, up to the next option.
    return help.slice(start, help.indexOf("\n  -", start) >>> 0);
  };

  it("generate says the defaults of --size, --theta, --pool, --seed and the other settings", async () => {
    const { stdout } = await runCli(["generate", "--help"]);
    for (const [flag, value] of [
      ["--size", "100"],
      ["--theta", "3"],
      ["--seed", "42"],
      ["--max-iterations", "4"],
      ["--rubrics", "4"],
      ["--max-output-tokens", "2048"],
    ]) {
      expect(optionLine(stdout, flag!).replace(/\s+/g, " ")).toMatch(new RegExp(`\\(default:? ${value}\\)`));
    }
    // The pool has no fixed default: it is sized to the run, and the help says the rule.
    expect(optionLine(stdout, "--pool").replace(/\s+/g, " ")).toContain("ceil(size / 2.5) between 10 and 200");
  });

  it("ablate and eval say theirs; the per-call token limit is --max-output-tokens everywhere", async () => {
    const ablate = (await runCli(["ablate", "--help"])).stdout;
    expect(optionLine(ablate, "--pool").replace(/\s+/g, " ")).toContain("ceil(size / 2.5) between 10 and 200");
    for (const [flag, value] of [
      ["--theta", "3"],
      ["--seed", "42"],
      ["--max-output-tokens", "2048"],
      ["--size", "100"],
    ]) {
      expect(optionLine(ablate, flag!).replace(/\s+/g, " ")).toMatch(new RegExp(`\\(default:? ${value}\\)`));
    }
    const evalHelp = (await runCli(["eval", "--help"])).stdout;
    expect(evalHelp).toContain("--max-output-tokens");
    for (const help of [ablate, evalHelp]) expect(help).not.toContain("--max-tokens");
    // In generate --max-tokens is a budget, and says so.
    expect(optionLine((await runCli(["generate", "--help"])).stdout, "--max-tokens")).toContain("budget");
  });

  it("every setting of the schemas is a flag with its default, new ones included (derived, issue 11)", async () => {
    const generate = (await runCli(["generate", "--help"])).stdout;
    for (const [flag, value] of [
      ["--top-up-max-per-metadata", "20"],
      ["--structured-retries", "2"],
      ["--wave-limit", "null"],
      ["--temperature-decode", "0.7"],
      ["--plausibility-batch-size", "10"],
      ["--keep-seed-metadata", "true"],
    ]) {
      expect(optionLine(generate, flag!).replace(/\s+/g, " ")).toMatch(new RegExp(`\\(default:? ${value}\\)`));
    }
    const evalHelp = (await runCli(["eval", "--help"])).stdout;
    for (const [flag, value] of [
      ["--answer-retries", "2"],
      ["--answer-temperature", "0.7"],
      ["--judge-temperature", "0"],
      ["--concurrency", "16"],
    ]) {
      expect(optionLine(evalHelp, flag!).replace(/\s+/g, " ")).toMatch(new RegExp(`\\(default:? ${value}\\)`));
    }
    // Role flags come from RoleSettingsSchema, in every command that takes the role.
    const ablate = (await runCli(["ablate", "--help"])).stdout;
    for (const help of [generate, ablate])
      for (const flag of ["--strong-concurrency", "--strong-structured-output", "--target-api-key-env"])
        expect(help).toContain(flag);
    expect(evalHelp).toContain("--judge-structured-output");
  });

  it("one output flag: --out in every command that writes", async () => {
    for (const command of ["generate", "eval", "ablate", "report", "export"]) {
      const help = (await runCli([command, "--help"])).stdout;
      expect(help, command).toContain("--out ");
      expect(help, command).not.toMatch(/--output |--html /);
    }
  });
});

describe("outputs into folders that do not exist", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;

  beforeAll(async () => {
    server = await startCodecServer();
    dir = await mkdtemp(join(tmpdir(), "codeclm-usage-"));
    seeds = await writeSeeds(dir, 8);
  });
  afterAll(async () => server?.close());

  it("generate --out new/dir/data.jsonl, then export --out and report --out into new folders", async () => {
    const env = serverEnv(server, "sk-test");
    const out = join(dir, "new", "dir", "data.jsonl");
    const common = [
      "--size",
      "4",
      "--pool",
      "4",
      "--strong",
      "openai:strong-model",
      "--target",
      "openai:target-model",
      "--quiet",
    ];
    const generated = await runCli(["generate", "--seeds", seeds, "--out", out, ...common], env);
    expect(generated.stderr).toBe("");
    expect(generated.code).toBe(0);
    expect((await readFile(out, "utf8")).trim().split("\n")).toHaveLength(4);
    // The lock is gone once the run has ended.
    expect((await readdir(join(dir, "new", "dir"))).filter((name) => name.endsWith(".lock"))).toEqual([]);

    const train = join(dir, "export", "a", "train.jsonl");
    const exported = await runCli([
      "export",
      out,
      "--format",
      "alpaca",
      "--out",
      train,
      "--val-split",
      "0.25",
      "--val-out",
      join(dir, "export", "b", "val.jsonl"),
    ]);
    expect(exported.stderr).toBe("");
    expect(exported.code).toBe(0);
    expect((await readFile(train, "utf8")).trim().split("\n")).toHaveLength(3);
    expect((await readFile(join(dir, "export", "b", "val.jsonl"), "utf8")).trim().split("\n")).toHaveLength(1);

    // The old flag still works, with a warning.
    const old = await runCli(["export", out, "--format", "jsonl", "--output", join(dir, "old", "x", "data.jsonl")]);
    expect(old.code).toBe(0);
    expect(old.stderr).toContain("--output is deprecated: use --out");
    expect((await readFile(join(dir, "old", "x", "data.jsonl"), "utf8")).trim().split("\n")).toHaveLength(4);

    const page = join(dir, "reports", "deep", "run.html");
    const report = await runCli(["report", out, "--out", page]);
    expect(report.code).toBe(0);
    expect(await readFile(page, "utf8")).toMatch(/^<!doctype html>/);
  }, 60_000);

  it("export with no --out is a usage error", async () => {
    const kept = join(dir, "k.jsonl");
    await writeFile(kept, `${JSON.stringify({ id: "1", instruction: "a", response: "b" })}\n`);
    const result = await runCli(["export", kept, "--format", "jsonl"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--out FILE is required");
  });
});

/**
 * CLI flags derived from the zod settings schemas (issue 11): a setting's flag, description, default and
 * value check come from its one line in the schema; renamed flags are an explicit table.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ABLATE_SETTINGS, EVAL_SETTINGS, GENERATE_SETTINGS } from "../../cli/flag-names.js";
import { type GenerateFlags, buildGenerateConfig } from "../../cli/generate.js";
import { addRoleOptions, roleFromFlags, withoutRole } from "../../cli/role-flags.js";
import { addSettingOptions, overlay, settingFlags, settingsFromFlags } from "../../cli/schema-flags.js";
import { CodecConfigSchema } from "../../lib/config.js";
import { EvalConfigSchema } from "../../eval/config.js";

/** A command with the given settings' flags that parses ARGS and returns its options (or throws). */
function parse(register: (command: Command) => void, args: string[]): Record<string, unknown> {
  const command = new Command("test").exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(command);
  command.parse(args, { from: "user" });
  return command.opts();
}

const helpOf = (register: (command: Command) => void) => {
  const command = new Command("test");
  register(command);
  command.configureHelp({ helpWidth: 10_000 });
  return command.helpInformation();
};

/** Every dotted leaf path of a zod object (records and objects inside are walked, records count as one leaf). */
function leaves(schema: z.ZodObject, prefix = ""): string[] {
  return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([key, field]) => {
    let inner: z.ZodType = field;
    while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodNullable)
      inner = inner.unwrap() as z.ZodType;
    return inner instanceof z.ZodObject ? leaves(inner, `${prefix}${key}.`) : [`${prefix}${key}`];
  });
}

describe("settingFlags: a setting added to a schema is a flag", () => {
  const schema = z.object({
    fooBar: z.number().int().min(1).default(3).describe("Foo bars per baz"),
    mode: z.enum(["fast", "slow"]).default("fast").describe("How to go"),
    loud: z.boolean().default(true).describe("Say it loudly"),
    limits: z
      .object({
        maxThings: z.number().positive().nullable().default(null).describe("Most things"),
      })
      .default({ maxThings: null }),
  });
  const flags = settingFlags(schema, { renamed: { limits: "" } });
  const register = (command: Command) => addSettingOptions(command, flags);

  it("names, describes, defaults and checks each one from the schema", () => {
    expect(flags.map((flag) => flag.name)).toEqual(["foo-bar", "mode", "loud", "max-things"]);
    const help = helpOf(register);
    expect(help).toMatch(/--foo-bar <n>\s+Foo bars per baz \(default: 3\)/);
    expect(help).toMatch(/--mode <choice>\s+How to go \(default: fast\) \(choices: "fast", "slow"\)/);
    expect(help).toMatch(/--no-loud\s+turn off --loud/);
    expect(help).toMatch(/--max-things <x>\s+Most things/);
    const opts = parse(register, ["--foo-bar", "5", "--mode", "slow", "--no-loud", "--max-things", "2.5"]);
    expect(settingsFromFlags(opts, flags)).toEqual({
      fooBar: 5,
      mode: "slow",
      loud: false,
      limits: { maxThings: 2.5 },
    });
  });

  it("a value the schema refuses is a commander usage error with the schema's message", () => {
    expect(() => parse(register, ["--foo-bar", "0"])).toThrow(CommanderError);
    expect(() => parse(register, ["--foo-bar", "0"])).toThrow(
      /--foo-bar <n>.*'0' is invalid.*expected number to be >=1/,
    );
    expect(() => parse(register, ["--foo-bar", "1.5"])).toThrow(/expected int/i);
    expect(() => parse(register, ["--mode", "medium"])).toThrow(/Allowed choices are fast, slow/);
  });

  it("flags not given are left out: the config file's values stay", () => {
    expect(settingsFromFlags(parse(register, []), flags)).toEqual({});
    expect(settingsFromFlags(parse(register, ["--loud"]), flags)).toEqual({
      loud: true,
    });
  });

  it("overlay merges nested objects key by key", () => {
    expect(overlay({ a: 1, budget: { maxCalls: 5, maxTokens: 9 } }, { budget: { maxTokens: 10 }, b: 2 })).toEqual({
      a: 1,
      b: 2,
      budget: { maxCalls: 5, maxTokens: 10 },
    });
  });
});

describe("the commands' flags cover their schemas", () => {
  it("generate: every setting of CodecConfigSchema but the roles, prompts and prices (their own flags)", () => {
    const covered = GENERATE_SETTINGS.map((flag) => flag.path.join("."));
    const own = ["strong", "target", "judge", "prompts", "prices"];
    expect(covered.sort()).toEqual(
      leaves(CodecConfigSchema)
        .filter((path) => !own.some((name) => path.startsWith(name)))
        .sort(),
    );
  });

  it("eval: every evaluation setting but the roles and the judge prompt", () => {
    expect(EVAL_SETTINGS.map((flag) => flag.path.join(".")).sort()).toEqual(
      leaves(EvalConfigSchema)
        .filter((path) => !["model", "reference", "judge", "judgePrompt"].includes(path.split(".")[0]!))
        .sort(),
    );
  });

  it("the renamed flags keep their documented names", () => {
    const byPath = Object.fromEntries(GENERATE_SETTINGS.map((flag) => [flag.path.join("."), flag.name]));
    expect(byPath).toMatchObject({
      rubricCount: "rubrics",
      poolSize: "pool",
      instructionsPerMetadata: "per-metadata",
      maxTokens: "max-output-tokens",
      adaptiveConcurrency: "adaptive",
      timeoutSeconds: "timeout",
      giveUpAfterSeconds: "give-up-after",
      "budget.maxCalls": "max-calls",
      "budget.maxTokens": "max-tokens",
      "budget.maxCostUsd": "max-cost",
      "temperatures.decode": "temperature-decode",
      topUpRounds: "top-up-rounds",
    });
    expect(ABLATE_SETTINGS.map((flag) => flag.name)).not.toContain("max-tokens");
  });

  it("no two flags of a command share a name or a value key", () => {
    for (const settings of [GENERATE_SETTINGS, ABLATE_SETTINGS, EVAL_SETTINGS]) {
      expect(new Set(settings.map((flag) => flag.attribute)).size).toBe(settings.length);
    }
  });
});

describe("roleFromFlags: one reading of role flags", () => {
  const register = (command: Command) => addRoleOptions(command, "judge", "the judge");

  it("every RoleSettings field has a flag, checked by the schema", () => {
    const opts = parse(register, [
      "--judge",
      "openai:j",
      "--judge-base-url",
      "http://x/v1",
      "--judge-structured-output",
      "jsonMode",
      "--judge-concurrency",
      "3",
    ]);
    expect(roleFromFlags(opts, "judge")).toEqual({
      model: "openai:j",
      baseUrl: "http://x/v1",
      structuredOutput: "jsonMode",
      concurrency: 3,
    });
    expect(() => parse(register, ["--judge-concurrency", "0"])).toThrow(/expected number to be >=1/);
  });

  it("flags over the config file's role; none without a model", () => {
    const base = {
      model: "openai:file",
      apiKeyEnv: "FILE_KEY",
      concurrency: 2,
    };
    expect(roleFromFlags({ judgeConcurrency: 5 }, "judge", base)).toEqual({
      ...base,
      concurrency: 5,
    });
    expect(roleFromFlags({ judgeBaseUrl: "http://x" }, "judge")).toBeUndefined();
    expect(withoutRole({ judge: "openai:j", judgeConcurrency: 2, size: 3 }, "judge")).toEqual({ size: 3 });
  });
});

describe("buildGenerateConfig: flags over the config file over the schema's defaults", () => {
  const register = (command: Command) => {
    addSettingOptions(command, GENERATE_SETTINGS);
    command.option("--config <file>").option("--out <file>", "", "x.jsonl");
    for (const role of ["strong", "target", "judge"]) addRoleOptions(command, role, role);
  };

  it("nested settings merge; a boolean flag overrides the file either way; flags without a setting of their own reach it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-flags-"));
    const file = join(dir, "config.json");
    await writeFile(
      file,
      JSON.stringify({
        budget: { maxCalls: 50 },
        temperatures: { encode: 0.1 },
        plausibilityCheck: false,
        strong: { model: "openai:s", apiKeyEnv: "S_KEY" },
      }),
    );
    const args = [
      "--config",
      file,
      "--max-tokens",
      "900",
      "--temperature-decode",
      "0.2",
      "--plausibility-check",
      "--top-up-max-per-metadata",
      "7",
      "--strong-concurrency",
      "4",
    ];
    const config = await buildGenerateConfig(parse(register, args) as GenerateFlags, { OPENAI_API_KEY: "sk-x" });
    expect(config.budget).toEqual({
      maxCalls: 50,
      maxTokens: 900,
      maxCostUsd: null,
    });
    expect(config.temperatures).toMatchObject({
      encode: 0.1,
      decode: 0.2,
      judge: 0,
    });
    expect(config.plausibilityCheck).toBe(true);
    expect(config.topUpMaxPerMetadata).toBe(7);
    expect(config.strong).toEqual({
      model: "openai:s",
      apiKeyEnv: "S_KEY",
      concurrency: 4,
    });
    const off = await buildGenerateConfig(parse(register, ["--config", file]) as GenerateFlags, {
      OPENAI_API_KEY: "sk-x",
    });
    expect(off.plausibilityCheck).toBe(false);
  });

  it("a setting problem is a usage error with the settings message", async () => {
    await expect(
      buildGenerateConfig(parse(register, ["--theta", "11"]) as GenerateFlags, {
        OPENAI_API_KEY: "sk-x",
      }),
    ).rejects.toThrow(/theta 11 can never be exceeded/);
  });
});

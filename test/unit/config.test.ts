import { describe, expect, it } from "vitest";
import {
  CodecConfigSchema,
  SettingsError,
  decodeCapacity,
  editDistance,
  inputProblems,
  judgeSettings,
  nearestName,
  resolveConfig,
  unknownSettings,
} from "../../lib/config.js";
import { promptOverrideProblems, renderPrompt } from "../../prompts/index.js";
import { fillTemplate, missingPlaceholders } from "../../prompts/template.js";

describe("resolveConfig defaults", () => {
  it("sizes the pool to the run when it is not set: the paper's 200 from 500 pairs up, at least 10", () => {
    expect([1, 20, 25, 100, 300, 499, 500, 8000].map((size) => resolveConfig({ size }).poolSize)).toEqual([
      10, 10, 10, 40, 120, 200, 200, 200,
    ]);
    expect(resolveConfig({ size: 20, poolSize: 200 }).poolSize).toBe(200);
    expect(resolveConfig({ size: 20, poolSize: null }).poolSize).toBe(10);
  });

  it("applies the paper's defaults to an empty or absent context", () => {
    for (const raw of [undefined, null, {}]) {
      const config = resolveConfig(raw);
      expect(config).toMatchObject({
        theta: 3,
        maxIterations: 4,
        rubricCount: 4,
        poolSize: 40, // sized to the run: ceil(100 / 2.5)
        expectedKeepRate: 0.5,
        skillsMax: 3,
        size: 100,
        actionSampling: "without-replacement",
        maxTokens: 2048,
        keepSeedMetadata: true,
        plausibilityCheck: true,
        structuredRetries: 2,
        seed: 42,
        prompts: {},
      });
      expect(config.temperatures).toEqual({
        encode: 0.7,
        poolCheck: 0,
        decode: 0.7,
        rubricGenerate: 0.7,
        actionApply: 0.7,
        answer: 0.7,
        judge: 0,
      });
      expect(config.strong.model).toMatch(/^openai:/);
      expect(config.target.model).toMatch(/^openai:/);
      expect(config.judge ?? undefined).toBeUndefined();
      expect(judgeSettings(config)).toEqual(config.strong);
      expect(config.concurrency).toBeGreaterThanOrEqual(2);
    }
  });

  it("keeps given values and fills the rest, nested temperatures included", () => {
    const config = resolveConfig({
      size: 7,
      theta: 2.5,
      temperatures: { judge: 0.2 },
      judge: { model: "openai:judge-x" },
    });
    expect(config).toMatchObject({ size: 7, theta: 2.5, maxIterations: 4 });
    expect(config.temperatures).toMatchObject({ judge: 0.2, encode: 0.7, decode: 0.7 });
    expect(judgeSettings(config)).toEqual({ model: "openai:judge-x" });
  });

  it("does not mutate the raw context", () => {
    const raw = { size: 3 };
    resolveConfig(raw);
    expect(raw).toEqual({ size: 3 });
  });
});

describe("resolveConfig rejects invalid values", () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["size 0", { size: 0 }, /size/],
    ["fractional size", { size: 2.5 }, /size/],
    ["negative theta", { theta: -1 }, /theta/],
    ["maxIterations 0", { maxIterations: 0 }, /maxIterations/],
    ["concurrency 1 (LangGraph runs nothing)", { concurrency: 1 }, /concurrency/],
    ["temperature above 2", { temperatures: { judge: 3 } }, /temperatures\.judge/],
    ["unknown action sampling", { actionSampling: "sometimes" }, /actionSampling/],
    [
      "unknown structured output",
      { strong: { model: "openai:x", structuredOutput: "xml" } },
      /strong\.structuredOutput/,
    ],
    ["non-string model", { target: { model: 5 } }, /target\.model/],
    ["string size", { size: "10" }, /size/],
    ["maxTokens below 16", { maxTokens: 8 }, /maxTokens/],
  ];
  for (const [name, raw, pattern] of cases) {
    it(name, () => {
      expect(() => resolveConfig(raw)).toThrow(/Invalid codeclm configuration/);
      expect(() => resolveConfig(raw)).toThrow(pattern);
    });
  }
});

describe("prompt overrides", () => {
  it("rejects an override that drops a placeholder its step fills, naming it", () => {
    expect(() => resolveConfig({ prompts: { decode: "Write {count} instructions for {useCase}." } })).toThrow(
      /prompts\.decode lacks \{skills\}/,
    );
    expect(() => resolveConfig({ prompts: { judge: "Score {answer1} and {answer2}." } })).toThrow(
      /prompts\.judge lacks \{instruction\}/,
    );
  });

  it("lists every missing placeholder of every bad override", () => {
    const problems = promptOverrideProblems({ encode: "nothing here", answer: "{instruction}" });
    expect(problems).toEqual(["prompts.encode lacks {instruction}, {skillsMax}"]);
  });

  it("accepts a complete override (optional {avoid} may be left out) and treats blank as built-in", () => {
    const config = resolveConfig({ prompts: { decode: "{count} for {useCase} / {skills}", answer: "  " } });
    expect(config.prompts.decode).toBe("{count} for {useCase} / {skills}");
    expect(renderPrompt("decode", config.prompts, { count: 2, useCase: "qa", skills: "x, y", avoid: "" })).toBe(
      "2 for qa / x, y",
    );
    expect(renderPrompt("answer", config.prompts, { instruction: "Hi {count}" })).toBe("Hi {count}");
  });

  it("fills placeholders once and leaves JSON braces and unknown names alone", () => {
    expect(fillTemplate('{a} {"k": 1} {b} {a}', { a: "{b}" })).toBe('{b} {"k": 1} {b} {b}');
    expect(missingPlaceholders("{x} {y}", ["x", "y", "z"])).toEqual(["z"]);
  });
});

describe("CodecConfigSchema", () => {
  it("exposes every setting with a description (Studio shows them)", () => {
    for (const [key, schema] of Object.entries(CodecConfigSchema.shape)) {
      expect((schema as { description?: string }).description, key).toBeTruthy();
    }
  });
});

describe("settings validated by meaning (issue 9)", () => {
  it("refuses a theta no gap on the 1-10 scale can exceed", () => {
    expect(() => resolveConfig({ theta: 11 })).toThrow(
      /theta 11 can never be exceeded: scores are 1-10, so no gap is larger than 9/,
    );
    expect(() => resolveConfig({ theta: 9 })).toThrow(SettingsError);
    expect(resolveConfig({ theta: 8.5 }).theta).toBe(8.5);
  });

  it("refuses dedupeThreshold 0 and accepts 1 (filter off)", () => {
    expect(() => resolveConfig({ dedupeThreshold: 0 })).toThrow(/dedupeThreshold 0 drops every instruction/);
    expect(resolveConfig({ dedupeThreshold: 1 }).dedupeThreshold).toBe(1);
  });

  it("names an unknown key and the nearest known one, at every level", () => {
    expect(() => resolveConfig({ sise: 5 })).toThrow(/unknown setting "sise" \(did you mean "size"\?\)/);
    expect(() => resolveConfig({ strong: { model: "openai:x", modle: "y" } })).toThrow(
      /unknown setting "strong\.modle" \(did you mean "strong\.model"\?\)/,
    );
    expect(() => resolveConfig({ temperatures: { juge: 0 } })).toThrow(
      /"temperatures\.juge" \(did you mean "temperatures\.judge"\?\)/,
    );
    expect(() => resolveConfig({ budget: { maxCall: 3 } })).toThrow(
      /"budget\.maxCall" \(did you mean "budget\.maxCalls"\?\)/,
    );
    expect(() => resolveConfig({ prompts: { decod: "x" } })).toThrow(
      /"prompts\.decod" \(did you mean "prompts\.decode"\?\)/,
    );
    // prices are keyed by model: any key is allowed there, but not inside a price
    expect(resolveConfig({ prices: { "openai:mine": { input: 1, output: 2 } } }).prices["openai:mine"]).toEqual({
      input: 1,
      output: 2,
    });
    expect(unknownSettings({ prices: { "openai:mine": { input: 1, output: 2, cache: 3 } } })).toEqual([]);
    expect(unknownSettings({ judge: null, size: 3 })).toEqual([]);
  });

  it("edit distance and nearest name", () => {
    expect(editDistance("sise", "size")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(nearestName("poolsize", ["size", "poolSize", "seed"])).toBe("poolSize");
  });

  it("refuses a fixed per-metadata count that can never reach size, by input", () => {
    const config = resolveConfig({
      size: 100,
      poolSize: 10,
      instructionsPerMetadata: 2,
      topUpRounds: 1,
      topUpMaxPerMetadata: 5,
    });
    expect(decodeCapacity(config, 10)).toBe(70);
    expect(inputProblems(config, { seeds: 24 })).toEqual([
      expect.stringMatching(/size 100 cannot be reached: .* decodes at most 70 instructions/),
    ]);
    expect(inputProblems(config, { metadata: 15 })).toEqual([]);
    expect(inputProblems(resolveConfig({ size: 100, poolSize: 10 }), { seeds: 3 })).toEqual([]); // ceil(size / pool) per metadata
    expect(inputProblems({ ...config, ablation: "no-metadata" }, { seeds: 3 })).toEqual([]);
  });

  it("lists every problem in one message", () => {
    expect(() => resolveConfig({ theta: 10, dedupeThreshold: 0 })).toThrow(/theta 10 .*; dedupeThreshold 0/);
  });
});

describe("evaluation settings", () => {
  it("name an unknown key and the nearest known one", async () => {
    const { resolveEvalConfig } = await import("../../eval/config.js");
    expect(() => resolveEvalConfig({ judge: { model: "openai:j" }, judgeTemprature: 0 })).toThrow(
      /Invalid evaluation configuration: unknown setting "judgeTemprature" \(did you mean "judgeTemperature"\?\)/,
    );
    expect(resolveEvalConfig({ judge: { model: "openai:j" } }).judgeTemperature).toBe(0);
  });
});

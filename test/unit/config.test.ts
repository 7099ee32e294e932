import { describe, expect, it } from "vitest";
import { CodecConfigSchema, judgeSettings, resolveConfig } from "../../lib/config.js";
import { promptOverrideProblems, renderPrompt } from "../../prompts/index.js";
import { fillTemplate, missingPlaceholders } from "../../prompts/template.js";

describe("resolveConfig defaults", () => {
  it("applies the paper's defaults to an empty or absent context", () => {
    for (const raw of [undefined, null, {}]) {
      const config = resolveConfig(raw);
      expect(config).toMatchObject({
        theta: 3,
        maxIterations: 4,
        rubricCount: 4,
        poolSize: 200,
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
    const config = resolveConfig({ size: 7, theta: 2.5, temperatures: { judge: 0.2 }, judge: { model: "openai:judge-x" } });
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
    ["unknown structured output", { strong: { model: "openai:x", structuredOutput: "xml" } }, /strong\.structuredOutput/],
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
    expect(() => resolveConfig({ prompts: { judge: "Score {answer1} and {answer2}." } })).toThrow(/prompts\.judge lacks \{instruction\}/);
  });

  it("lists every missing placeholder of every bad override", () => {
    const problems = promptOverrideProblems({ encode: "nothing here", answer: "{instruction}" });
    expect(problems).toEqual(["prompts.encode lacks {instruction}, {skillsMax}"]);
  });

  it("accepts a complete override (optional {avoid} may be left out) and treats blank as built-in", () => {
    const config = resolveConfig({ prompts: { decode: "{count} for {useCase} / {skills}", answer: "  " } });
    expect(config.prompts.decode).toBe("{count} for {useCase} / {skills}");
    expect(renderPrompt("decode", config.prompts, { count: 2, useCase: "qa", skills: "x, y", avoid: "" })).toBe("2 for qa / x, y");
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

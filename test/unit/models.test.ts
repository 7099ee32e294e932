import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type CodecConfigInput, type RoleSettings, resolveConfig } from "../../lib/config.js";
import { UsageMeter } from "../../lib/usage.js";
import { type CallContext, ModelCallError, callStructured, callText } from "../../models/call.js";
import { type Env, ModelConfigError, ModelFactory } from "../../models/factory.js";
import { buildServices } from "../../nodes/runtime.js";
import { parseModelSpec } from "../../models/spec.js";
import { ScriptedChatModel } from "../support/scripted-model.js";

describe("parseModelSpec", () => {
  it("splits provider and model", () => {
    expect(parseModelSpec("openai:gpt-4o-mini")).toEqual({ provider: "openai", model: "gpt-4o-mini" });
    expect(parseModelSpec("google-genai:gemini-2.5-flash")).toEqual({
      provider: "google-genai",
      model: "gemini-2.5-flash",
    });
    expect(parseModelSpec("local:/models/tiny.gguf")).toEqual({ provider: "local", model: "/models/tiny.gguf" });
  });

  it("keeps colons inside the model part", () => {
    expect(parseModelSpec("local:hf:owner/repo/file.gguf")).toEqual({
      provider: "local",
      model: "hf:owner/repo/file.gguf",
    });
    expect(parseModelSpec("openai:ft:gpt-4o-mini:org:custom:id")).toEqual({
      provider: "openai",
      model: "ft:gpt-4o-mini:org:custom:id",
    });
  });

  it("trims the model part", () => {
    expect(parseModelSpec("openai: gpt-4o ")).toEqual({ provider: "openai", model: "gpt-4o" });
  });

  it("rejects specs without a known provider or a model", () => {
    for (const spec of ["gpt-4o", "openai:", "openai:   ", "OpenAI:gpt-4o", "", ":gpt-4o", "gemini-2.5-flash"]) {
      expect(() => parseModelSpec(spec), spec).toThrow(/provider:model/);
    }
  });
});

function factoryFor(config: CodecConfigInput, env: Env, extra: { local?: boolean } = {}): ModelFactory {
  return ModelFactory.fromConfig(resolveConfig(config), {
    env,
    ...(extra.local ? { local: () => new ScriptedChatModel(() => "x") } : {}),
  });
}

const LOCAL_URL = "http://127.0.0.1:9/v1";

describe("ModelFactory.validate", () => {
  it("needs OPENAI_API_KEY for OpenAI roles without a base URL, and says how to fix it", () => {
    const factory = factoryFor({ strong: { model: "openai:gpt-4o" }, target: { model: "openai:gpt-4o-mini" } }, {});
    expect(() => factory.validate()).toThrow(ModelConfigError);
    expect(() => factory.validate()).toThrow(/strong model openai:gpt-4o needs an OpenAI API key: set OPENAI_API_KEY/);
  });

  it("accepts OPENAI_API_KEY from the given env (not the process env)", () => {
    const factory = factoryFor({}, { OPENAI_API_KEY: "sk-from-env-123456" });
    expect(() => factory.validate()).not.toThrow();
  });

  it("ignores a blank key", () => {
    expect(() => factoryFor({}, { OPENAI_API_KEY: "   " }).validate()).toThrow(ModelConfigError);
  });

  it("needs no key when each role has a base URL (setting or env)", () => {
    expect(() =>
      factoryFor(
        { strong: { model: "openai:a", baseUrl: LOCAL_URL }, target: { model: "openai:b", baseUrl: LOCAL_URL } },
        {},
      ).validate(),
    ).not.toThrow();
    expect(() => factoryFor({}, { OPENAI_BASE_URL: LOCAL_URL }).validate()).not.toThrow();
    expect(() =>
      factoryFor(
        {},
        { CODECLM_STRONG_BASE_URL: LOCAL_URL, CODECLM_TARGET_BASE_URL: LOCAL_URL, CODECLM_JUDGE_BASE_URL: LOCAL_URL },
      ).validate(),
    ).not.toThrow();
  });

  it("names the role whose key is missing", () => {
    const factory = factoryFor(
      { strong: { model: "openai:a", baseUrl: LOCAL_URL }, target: { model: "openai:b" } },
      {},
    );
    expect(() => factory.validate()).toThrow(
      /The target model openai:b needs an OpenAI API key.*CODECLM_TARGET_API_KEY/,
    );
  });

  it("reads a per-role key from apiKeyEnv, then CODECLM_<ROLE>_API_KEY", () => {
    const config: CodecConfigInput = {
      strong: { model: "openai:a", apiKeyEnv: "MY_STRONG_KEY" },
      target: { model: "openai:b" },
    };
    expect(() => factoryFor(config, { MY_STRONG_KEY: "k1", CODECLM_TARGET_API_KEY: "k2" }).validate()).not.toThrow();
    expect(() => factoryFor(config, { CODECLM_TARGET_API_KEY: "k2" }).validate()).toThrow(/strong model/);
    expect(() => factoryFor(config, { MY_STRONG_KEY: "k1" }).validate()).toThrow(/target model/);
  });

  it("the judge falls back to the strong role's settings, apiKeyEnv included", () => {
    const config: CodecConfigInput = {
      strong: { model: "openai:strong-x", apiKeyEnv: "MY_STRONG_KEY", structuredOutput: "functionCalling" },
      target: { model: "openai:b", baseUrl: LOCAL_URL },
    };
    const factory = factoryFor(config, { MY_STRONG_KEY: "k1" });
    expect(() => factory.validate()).not.toThrow();
    expect(factory.settings("judge")).toEqual(factory.settings("strong"));
    expect(factory.describe("judge")).toBe("openai:strong-x");
    expect(factory.structuredMethod("judge")).toBe("functionCalling");
  });

  it("an explicit judge is validated on its own", () => {
    const config: CodecConfigInput = {
      strong: { model: "openai:a", baseUrl: LOCAL_URL },
      target: { model: "openai:b", baseUrl: LOCAL_URL },
      judge: { model: "openai:judge-x" },
    };
    expect(() => factoryFor(config, {}).validate()).toThrow(/The judge model openai:judge-x needs an OpenAI API key/);
    expect(() => factoryFor(config, { CODECLM_JUDGE_API_KEY: "k" }).validate()).not.toThrow();
  });

  // Regression: with no judge configured the judge "is the strong model", so it must read the strong
  // role's CODECLM_STRONG_API_KEY / CODECLM_STRONG_BASE_URL (it used to look under CODECLM_JUDGE_*).
  it("the judge that defaults to the strong model also uses CODECLM_STRONG_API_KEY", () => {
    const factory = factoryFor(
      { strong: { model: "openai:strong-x" }, target: { model: "openai:b", baseUrl: LOCAL_URL } },
      { CODECLM_STRONG_API_KEY: "sk-strong-only-123456" },
    );
    expect(() => factory.validate()).not.toThrow();
  });

  it("the judge that defaults to the strong model also uses CODECLM_STRONG_BASE_URL", async () => {
    const factory = factoryFor(
      { strong: { model: "openai:strong-x" }, target: { model: "openai:b", baseUrl: LOCAL_URL } },
      { CODECLM_STRONG_BASE_URL: "http://127.0.0.1:8/v1", OPENAI_API_KEY: "sk-public-123456" },
    );
    await factory.load();
    const strong = factory.get("strong", { temperature: 0, maxTokens: 64 }) as ChatOpenAI;
    const judge = factory.get("judge", { temperature: 0, maxTokens: 64 }) as ChatOpenAI;
    expect(strong.clientConfig.baseURL).toBe("http://127.0.0.1:8/v1");
    expect(judge.clientConfig.baseURL).toBe("http://127.0.0.1:8/v1");
  });

  it("needs a Gemini key for google-genai roles", () => {
    const config: CodecConfigInput = {
      strong: { model: "google-genai:gemini-2.5-flash" },
      target: { model: "openai:b", baseUrl: LOCAL_URL },
    };
    expect(() => factoryFor(config, {}).validate()).toThrow(/needs a Gemini API key: set GOOGLE_API_KEY/);
    expect(() => factoryFor(config, { GOOGLE_API_KEY: "g" }).validate()).not.toThrow();
    expect(() => factoryFor(config, { GEMINI_API_KEY: "g" }).validate()).not.toThrow();
  });

  it("rejects jsonMode for Gemini", () => {
    const config: CodecConfigInput = {
      strong: { model: "google-genai:gemini-2.5-flash", structuredOutput: "jsonMode" },
      target: { model: "openai:b", baseUrl: LOCAL_URL },
    };
    expect(() => factoryFor(config, { GOOGLE_API_KEY: "g" }).validate()).toThrow(
      /Gemini supports jsonSchema or functionCalling, not jsonMode/,
    );
    const ok = {
      ...config,
      strong: { model: "google-genai:gemini-2.5-flash", structuredOutput: "functionCalling" as const },
    };
    expect(() => factoryFor(ok, { GOOGLE_API_KEY: "g" }).validate()).not.toThrow();
  });

  it("rejects a bad spec; a local model needs no key and no builder (the built-in one is used)", () => {
    expect(() => factoryFor({ strong: { model: "gpt-4o" } }, { OPENAI_API_KEY: "k" }).validate()).toThrow(
      /The strong model: .*provider:model/,
    );
    const local: CodecConfigInput = {
      strong: { model: "local:hf:owner/repo/file.gguf" },
      target: { model: "openai:b", baseUrl: LOCAL_URL },
    };
    expect(() => factoryFor(local, {}).validate()).not.toThrow();
    expect(() => factoryFor(local, {}, { local: true }).validate()).not.toThrow();
  });

  it("skips roles replaced by ready-made models", () => {
    const scripted = new ScriptedChatModel(() => "x");
    const factory = ModelFactory.fromConfig(resolveConfig({}), {
      env: {},
      overrides: { strong: scripted, target: scripted },
    });
    expect(() => factory.validate()).not.toThrow();
    expect(factory.get("judge", { temperature: 0, maxTokens: 16 })).toBe(scripted);
    expect(factory.describe("judge")).toBe("custom:scripted");
  });
});

describe("ModelFactory.get", () => {
  const roles = (strong: RoleSettings, target: RoleSettings) => ({ strong, target, judge: strong });

  it("builds ChatOpenAI with the env key and base URL, one cached client per settings", async () => {
    const factory = new ModelFactory(roles({ model: "openai:s", baseUrl: LOCAL_URL }, { model: "openai:t" }), {
      env: { OPENAI_API_KEY: "sk-env-key-1234567" },
    });
    await factory.load();
    const a = factory.get("strong", { temperature: 0.7, maxTokens: 100 }) as ChatOpenAI;
    expect(a).toBeInstanceOf(ChatOpenAI);
    expect(a.model).toBe("s");
    expect(a.temperature).toBe(0.7);
    expect(a.maxTokens).toBe(100);
    expect(a.apiKey).toBe("sk-env-key-1234567");
    expect(a.clientConfig.baseURL).toBe(LOCAL_URL);
    expect(factory.get("strong", { temperature: 0.7, maxTokens: 100 })).toBe(a);
    expect(factory.get("strong", { temperature: 0, maxTokens: 100 })).not.toBe(a);
  });

  it("gives a keyless local OpenAI-compatible server a placeholder key", async () => {
    const factory = new ModelFactory(
      roles({ model: "openai:s", baseUrl: LOCAL_URL }, { model: "openai:t", baseUrl: LOCAL_URL }),
      { env: {} },
    );
    await factory.load();
    const model = factory.get("target", { temperature: 0, maxTokens: 16 }) as ChatOpenAI;
    expect(model.apiKey).toBeTruthy();
  });

  it("refuses to build an OpenAI client with neither key nor base URL", async () => {
    const factory = new ModelFactory(roles({ model: "openai:s" }, { model: "openai:t" }), { env: {} });
    await factory.load();
    expect(() => factory.get("strong", { temperature: 0, maxTokens: 16 })).toThrow(ModelConfigError);
  });

  it("builds ChatGoogleGenerativeAI with the env key and base URL", async () => {
    const factory = new ModelFactory(
      roles({ model: "google-genai:gemini-2.5-flash", baseUrl: "http://127.0.0.1:9" }, { model: "openai:t" }),
      {
        env: { GOOGLE_API_KEY: "gkey-123456" },
      },
    );
    await factory.load(["strong"]);
    const model = factory.get("strong", { temperature: 0.2, maxTokens: 50 }) as ChatGoogleGenerativeAI;
    expect(model).toBeInstanceOf(ChatGoogleGenerativeAI);
    expect(model.apiKey).toBe("gkey-123456");
    expect(model.baseUrl).toBe("http://127.0.0.1:9");
  });

  it("builds local models through the given builder", () => {
    const seen: Array<[string, number]> = [];
    const factory = new ModelFactory(roles({ model: "local:hf:o/r/f.gguf" }, { model: "openai:t" }), {
      env: {},
      local: (model, settings) => {
        seen.push([model, settings.maxTokens]);
        return new ScriptedChatModel(() => "x");
      },
    });
    factory.get("strong", { temperature: 0, maxTokens: 32 });
    expect(seen).toEqual([["hf:o/r/f.gguf", 32]]);
  });
});

describe("callStructured / callText", () => {
  const Schema = z.object({ value: z.number() });

  function context(model: ScriptedChatModel, config: CodecConfigInput = {}): CallContext {
    const factory = ModelFactory.fromConfig(resolveConfig(config), {
      env: {},
      overrides: { strong: model, target: model },
    });
    return {
      factory,
      services: buildServices(resolveConfig(config), factory),
      config: resolveConfig(config),
      meter: new UsageMeter(),
    };
  }
  const request = (check?: (v: { value: number }) => string | undefined) => ({
    role: "strong" as const,
    step: "encode" as const,
    messages: [["human", "give a value"] as [string, string]],
    temperature: 0,
    schema: Schema,
    schemaName: "value",
    ...(check ? { check } : {}),
  });

  it("retries malformed output and returns the first valid value", async () => {
    const model = new ScriptedChatModel((_p, i) => (i < 2 ? "not json {" : '```json\n{"value": 4}\n```'));
    const ctx = context(model);
    await expect(callStructured(ctx, request())).resolves.toEqual({ value: 4 });
    expect(model.calls).toHaveLength(3);
    expect(ctx.meter.totals.byStep.encode).toMatchObject({ calls: 3, failedCalls: 2 });
    expect(ctx.meter.totals.byRole.strong!.inputTokens).toBeGreaterThan(0);
  });

  it("gives up after structuredRetries + 1 attempts with a ModelCallError", async () => {
    const model = new ScriptedChatModel(() => ({ value: "seven" }));
    const ctx = context(model, { structuredRetries: 1 });
    const error = await callStructured(ctx, request()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ step: "encode", role: "strong", attempts: 2 });
    expect((error as Error).message).toMatch(
      /encode \(strong model\) failed after 2 attempts: malformed output: value/,
    );
    expect(model.calls).toHaveLength(2);
  });

  it("retries when the check rejects the value", async () => {
    const model = new ScriptedChatModel((_p, i) => ({ value: i }));
    const ctx = context(model);
    const out = await callStructured(
      ctx,
      request((v) => (v.value < 2 ? "too small" : undefined)),
    );
    expect(out).toEqual({ value: 2 });
  });

  it("does not retry an error that is neither a transport fault nor malformed output", async () => {
    const model = new ScriptedChatModel(() => new Error("connect ECONNREFUSED 127.0.0.1:9"));
    const ctx = context(model);
    const error = await callStructured(ctx, request()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "ModelCallError", attempts: 1 });
    expect(model.calls).toHaveLength(1);
    // `calls` counts answered calls; a call that never got an answer is a failed call only.
    expect(ctx.meter.totals.byStep.encode).toMatchObject({ calls: 0, failedCalls: 1 });
  });

  it("redacts keys from the recorded error", async () => {
    const model = new ScriptedChatModel(() => new Error("401 Incorrect API key provided: sk-live-abcdefghijkl1234"));
    const error = (await callStructured(context(model), request()).catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain("abcdefghijkl1234");
    expect(error.message).toContain("[redacted]");
  });

  it("callText returns the text, retries empty answers, and meters tokens", async () => {
    const model = new ScriptedChatModel((_p, i) => (i === 0 ? "   " : "an answer"));
    const ctx = context(model);
    await expect(
      callText(ctx, { role: "target", step: "answer-target", messages: [["human", "q"]], temperature: 0.7 }),
    ).resolves.toBe("an answer");
    expect(ctx.meter.totals.byRole.target).toMatchObject({ calls: 2, failedCalls: 1 });
    expect(ctx.meter.totals.byRole.target!.outputTokens).toBeGreaterThan(0);
  });

  it("asks the scheduler for a slot at the call's depth in its instruction (deeper calls wait behind)", async () => {
    const ctx = context(new ScriptedChatModel(() => "an answer"));
    const asked: number[] = [];
    const acquire = ctx.services.scheduler.acquire.bind(ctx.services.scheduler);
    ctx.services.scheduler.acquire = (key, signal, priority) => {
      asked.push(priority ?? -1);
      return acquire(key, signal, priority);
    };
    const ask = (step: "answer-target" | "judge", iteration: number) =>
      callText(
        { ...ctx, trace: { instructionId: "i1", iteration } },
        { role: "target", step, messages: [["human", "q"]], temperature: 0 },
      );
    await ask("answer-target", 1);
    await ask("judge", 2);
    expect(asked).toEqual([0, 4]);
  });

  it("releases the slot and the budget reservation on every path, a check that throws included", async () => {
    const model = new ScriptedChatModel(() => ({ value: 1 }));
    const ctx = context(model, { budget: { maxCalls: 5 } });
    const broken = request(() => {
      throw new Error("check crashed");
    });
    await expect(callStructured(ctx, broken)).rejects.toThrow(/check crashed/);
    expect(ctx.services.ledger.callsInFlight).toBe(0);
    expect(ctx.services.scheduler.inFlight).toBe(0);
    // Nothing stays reserved: the remaining budget still admits calls (5 allowed, one answered).
    for (let i = 0; i < 4; i++) await expect(callStructured(ctx, request())).resolves.toEqual({ value: 1 });
    expect(ctx.services.ledger.snapshot().spent.calls).toBe(5);
  });

  it("callText fails with a ModelCallError when every answer is empty", async () => {
    const model = new ScriptedChatModel(() => "");
    const error = await callText(context(model, { structuredRetries: 0 }), {
      role: "target",
      step: "answer-target",
      messages: [["human", "q"]],
      temperature: 0,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "ModelCallError", step: "answer-target", attempts: 1 });
    expect((error as Error).message).toMatch(/empty answer/);
  });
});

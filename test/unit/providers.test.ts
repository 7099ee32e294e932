import { ChatAnthropic } from "@langchain/anthropic";
import { AzureChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import type { RoleSettings } from "../../lib/config.js";
import { priceFor } from "../../lib/prices.js";
import { errorMessage } from "../../lib/redact.js";
import { type Env, ModelConfigError, ModelFactory } from "../../models/factory.js";
import { isInstalled, langchainPackage, langchainProviders } from "../../models/providers/index.js";
import { parseModelSpec } from "../../models/spec.js";

const roles = (
  strong: RoleSettings,
  target: RoleSettings = { model: "openai:t", baseUrl: "http://127.0.0.1:9/v1" },
) => ({
  strong,
  target,
  judge: strong,
});
const factory = (strong: RoleSettings, env: Env = {}) =>
  new ModelFactory(roles(strong), { env, sameAs: { judge: "strong" } });
const SETTINGS = { temperature: 0.4, maxTokens: 123 };

describe("model specs beyond OpenAI and Gemini", () => {
  it("knows anthropic natively and hands any other lower-case provider to LangChain", () => {
    expect(parseModelSpec("anthropic:claude-sonnet-4-5")).toEqual({
      provider: "anthropic",
      model: "claude-sonnet-4-5",
    });
    expect(parseModelSpec("mistralai:mistral-large-latest")).toEqual({
      provider: "langchain",
      langchain: "mistralai",
      model: "mistral-large-latest",
    });
    expect(parseModelSpec("bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0")).toMatchObject({
      langchain: "bedrock",
      model: "anthropic.claude-3-5-sonnet-20240620-v1:0",
    });
    for (const bad of ["gpt-4o", "OpenAI:gpt-4o", ":x", "anthropic:", "9x:model"])
      expect(() => parseModelSpec(bad), bad).toThrow(/provider:model/);
  });

  it("uses LangChain's own provider table (initChatModel's), packages included", () => {
    expect(langchainProviders()).toEqual(
      expect.arrayContaining(["mistralai", "groq", "bedrock", "azure_openai", "ollama"]),
    );
    expect(langchainPackage("groq")).toBe("@langchain/groq");
    expect(langchainPackage("toString")).toBeUndefined();
    expect(isInstalled("@langchain/openai")).toBe(true);
    expect(isInstalled("@langchain/ollama")).toBe(false);
  });
});

describe("ModelFactory with Anthropic", () => {
  it("needs ANTHROPIC_API_KEY (or the role's key, or a base URL), and says so", () => {
    const claude = { model: "anthropic:claude-haiku-4-5" };
    expect(() => factory(claude).validate()).toThrow(
      /The strong model anthropic:claude-haiku-4-5 needs an Anthropic API key: set ANTHROPIC_API_KEY \(or CODECLM_STRONG_API_KEY\)/,
    );
    expect(() => factory(claude, { ANTHROPIC_API_KEY: "k" }).validate()).not.toThrow();
    expect(() => factory(claude, { CODECLM_STRONG_API_KEY: "k" }).validate()).not.toThrow();
    expect(() => factory({ ...claude, baseUrl: "http://127.0.0.1:9" }).validate()).not.toThrow();
    // OpenAI's variables are not Anthropic's.
    expect(() => factory(claude, { OPENAI_API_KEY: "k" }).validate()).toThrow(ModelConfigError);
  });

  it("rejects jsonMode, which the Messages API does not have", () => {
    const claude: RoleSettings = { model: "anthropic:claude-haiku-4-5", structuredOutput: "jsonMode" };
    expect(() => factory(claude, { ANTHROPIC_API_KEY: "k" }).validate()).toThrow(
      /anthropic:claude-haiku-4-5: Anthropic supports functionCalling \(tool use, the default\) or jsonSchema/,
    );
  });

  it("builds ChatAnthropic with the key, settings and base URL; the endpoint names Anthropic's API", async () => {
    const key = "sk-ant-unit-0123456789-secret";
    const plain = factory({ model: "anthropic:claude-sonnet-4-5" }, { ANTHROPIC_API_KEY: key });
    expect(() => plain.get("strong", SETTINGS)).toThrow(/await factory.load\(\)/);
    await plain.load(["strong"]);
    const model = plain.get("strong", SETTINGS) as ChatAnthropic;
    expect(model).toBeInstanceOf(ChatAnthropic);
    expect(model).toMatchObject({ model: "claude-sonnet-4-5", temperature: 0.4, maxTokens: 123 });
    expect((model.caller as unknown as { maxRetries: number }).maxRetries).toBe(0);
    expect(model.apiKey).toBe(key);
    expect(model.apiUrl).toBe("https://api.anthropic.com");
    expect(plain.endpoint("strong")).toBe("anthropic|https://api.anthropic.com|claude-sonnet-4-5");
    expect(plain.endpoint("judge")).toBe(plain.endpoint("strong"));
    expect(errorMessage(new Error(`denied for ${key}`))).not.toContain(key);

    const proxied = factory({ model: "anthropic:claude-sonnet-4-5" }, { ANTHROPIC_BASE_URL: "http://127.0.0.1:7" });
    await proxied.load(["strong"]);
    expect((proxied.get("strong", SETTINGS) as ChatAnthropic).apiUrl).toBe("http://127.0.0.1:7");
    expect(proxied.endpoint("strong")).toBe("anthropic|http://127.0.0.1:7|claude-sonnet-4-5");
    const perRole = factory(
      { model: "anthropic:claude-sonnet-4-5", baseUrl: "http://127.0.0.1:6" },
      { ANTHROPIC_BASE_URL: "http://127.0.0.1:7", ANTHROPIC_API_KEY: "k" },
    );
    expect(perRole.endpoint("strong")).toBe("anthropic|http://127.0.0.1:6|claude-sonnet-4-5");
  });

  it("prices Claude models, dated snapshots by their family", () => {
    expect(priceFor("anthropic:claude-sonnet-4-5-20250929")).toEqual({ input: 3, output: 15 });
    expect(priceFor("anthropic:claude-opus-4-5")).toEqual({ input: 5, output: 25 });
    expect(priceFor("anthropic:claude-opus-4-1-20250805")).toEqual({ input: 15, output: 75 });
    expect(priceFor("anthropic:claude-3-5-haiku-latest")).toEqual({ input: 0.8, output: 4 });
    expect(priceFor("anthropic:claude-haiku-4-5")).toEqual({ input: 1, output: 5 });
  });
});

describe("ModelFactory with any LangChain chat model", () => {
  it("builds the class initChatModel would, with the role's settings and key", async () => {
    const built = factory({ model: "azure_openai:my-deployment" }, { CODECLM_STRONG_API_KEY: "az-key-0123456789" });
    expect(() => built.validate()).not.toThrow();
    await built.load(["strong"]);
    const model = built.get("strong", SETTINGS) as AzureChatOpenAI;
    expect(model).toBeInstanceOf(AzureChatOpenAI);
    expect(model).toMatchObject({ model: "my-deployment", temperature: 0.4, maxTokens: 123 });
    expect(built.endpoint("strong")).toBe("azure_openai|azure_openai default|my-deployment");
    expect(built.describe("strong")).toBe("azure_openai:my-deployment");
  });

  it("names the package to install, in validate (no import) and in load", async () => {
    const ollama = factory({ model: "ollama:llama3.2" });
    expect(() => ollama.validate()).toThrow(
      "The strong model ollama:llama3.2: the ollama provider needs the package @langchain/ollama: install it with `npm install @langchain/ollama`",
    );
    await expect(ollama.load(["strong"])).rejects.toThrow(ModelConfigError);
    await expect(ollama.load(["strong"])).rejects.toThrow(/npm install @langchain\/ollama/);
  });

  it("refuses a provider LangChain does not know, listing those it does", () => {
    expect(() => factory({ model: "acme:model-1" }).validate()).toThrow(
      /The strong model acme:model-1: unknown provider acme; use openai, google-genai, anthropic, local, or a provider LangChain's initChatModel knows: .*mistralai/,
    );
  });
});

describe("a LangChain class that refuses its settings", () => {
  it("is a configuration error naming the role and model, not a crash inside a call", async () => {
    const azure = factory({ model: "azure_openai:dep" });
    await azure.load(["strong"]);
    const previous = { ...process.env };
    for (const name of Object.keys(process.env)) if (/^(AZURE_OPENAI|OPENAI)_/.test(name)) delete process.env[name];
    try {
      expect(() => azure.get("strong", SETTINGS)).toThrow(ModelConfigError);
      expect(() => azure.get("strong", SETTINGS)).toThrow(/^The strong model azure_openai:dep: /);
    } finally {
      Object.assign(process.env, previous);
    }
  });
});

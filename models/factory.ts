import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import { ChatOpenAI } from "@langchain/openai";
import { type CodecConfig, type RoleSettings, type StructuredOutputMethod, judgeSettings } from "../lib/config.js";
import type { ModelRole } from "../lib/records.js";
import { registerSecret } from "../lib/redact.js";
import { createLocalChatModel } from "./local/index.js";
import { type ModelSpec, parseModelSpec } from "./spec.js";

/** Per-call generation settings: one cached client per (role, temperature, maxTokens). */
export interface GenerationSettings {
  temperature: number;
  maxTokens: number;
}

export type Env = Record<string, string | undefined>;

/** Builds a local chat model; by default the project's node-llama-cpp model (loaded on first call). */
export type LocalModelBuilder = (model: string, settings: GenerationSettings) => BaseChatModel;

export interface ModelFactoryOptions {
  /** Ready-made chat models that replace a role's spec (tests, embedding with custom clients). */
  overrides?: Partial<Record<ModelRole, BaseChatModel>>;
  env?: Env;
  /** OpenAI SDK retries of 429/5xx/connection errors per call. */
  maxRetries?: number;
  /** Per-call timeout in milliseconds. */
  timeoutMs?: number;
  local?: LocalModelBuilder;
  /** Roles that stand in for another (the judge is the strong model unless configured): they share its env variables. */
  sameAs?: Partial<Record<ModelRole, ModelRole>>;
}

const ROLE_ENV: Record<ModelRole, string> = { strong: "STRONG", target: "TARGET", judge: "JUDGE" };

const defaultLocalBuilder: LocalModelBuilder = (model, settings) =>
  createLocalChatModel(model, { temperature: settings.temperature, maxTokens: settings.maxTokens });

/** Why a role cannot be built (missing key, bad spec), said before any model is called. */
export class ModelConfigError extends Error {}

/**
 * The one place that turns `provider:model` strings into chat models. Nodes ask for a role; they
 * never import a provider package. Clients are built lazily, so importing the graph needs no key.
 */
export class ModelFactory {
  private readonly cache = new Map<string, BaseChatModel>();
  private readonly env: Env;

  constructor(
    private readonly roles: Record<ModelRole, RoleSettings>,
    private readonly options: ModelFactoryOptions = {},
  ) {
    this.env = options.env ?? process.env;
  }

  static fromConfig(config: CodecConfig, options: ModelFactoryOptions = {}): ModelFactory {
    const overrides = { ...options.overrides };
    // The judge is the strong model unless configured otherwise, overrides included.
    if (!config.judge && !overrides.judge && overrides.strong) overrides.judge = overrides.strong;
    return new ModelFactory(
      { strong: config.strong, target: config.target, judge: judgeSettings(config) },
      { ...options, overrides, ...(config.judge ? {} : { sameAs: { judge: "strong" as const } }) },
    );
  }

  settings(role: ModelRole): RoleSettings {
    return this.roles[role];
  }

  /** A label for traces and summaries: the spec, or the override's class name. */
  describe(role: ModelRole): string {
    const override = this.options.overrides?.[role];
    return override ? `custom:${override._llmType()}` : this.roles[role].model;
  }

  structuredMethod(role: ModelRole): StructuredOutputMethod | undefined {
    return this.roles[role].structuredOutput;
  }

  get(role: ModelRole, settings: GenerationSettings): BaseChatModel {
    const override = this.options.overrides?.[role];
    if (override) return override;
    const key = `${role}|${settings.temperature}|${settings.maxTokens}`;
    let model = this.cache.get(key);
    if (!model) {
      model = this.build(role, settings);
      this.cache.set(key, model);
    }
    return model;
  }

  /** Check that the roles (default: all) can be built (spec shape, keys present) without calling any model. */
  validate(roles: readonly ModelRole[] = Object.keys(ROLE_ENV) as ModelRole[]): void {
    for (const role of roles) {
      if (this.options.overrides?.[role]) continue;
      const settings = this.roles[role];
      const spec = this.parse(role, settings);
      if (spec.provider === "openai" && !this.openaiKey(role, settings) && !this.baseUrl(role, settings)) {
        throw new ModelConfigError(
          `The ${role} model ${settings.model} needs an OpenAI API key: set OPENAI_API_KEY (or CODECLM_${this.envName(role)}_API_KEY), ` +
            `or point it at an OpenAI-compatible server with OPENAI_BASE_URL / --${role}-base-url.`,
        );
      }
      if (spec.provider === "google-genai" && !this.googleKey(role, settings)) {
        throw new ModelConfigError(
          `The ${role} model ${settings.model} needs a Gemini API key: set GOOGLE_API_KEY (or CODECLM_${this.envName(role)}_API_KEY).`,
        );
      }
      if (spec.provider === "google-genai" && settings.structuredOutput === "jsonMode") {
        throw new ModelConfigError(`The ${role} model ${settings.model}: Gemini supports jsonSchema or functionCalling, not jsonMode.`);
      }
    }
  }

  private parse(role: ModelRole, settings: RoleSettings): ModelSpec {
    try {
      return parseModelSpec(settings.model);
    } catch (error) {
      throw new ModelConfigError(`The ${role} model: ${(error as Error).message}`);
    }
  }

  private fromEnv(name: string | undefined): string | undefined {
    if (!name) return undefined;
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  private envName(role: ModelRole): string {
    return ROLE_ENV[this.options.sameAs?.[role] ?? role];
  }

  private roleKey(role: ModelRole, settings: RoleSettings): string | undefined {
    return this.fromEnv(settings.apiKeyEnv) ?? this.fromEnv(`CODECLM_${this.envName(role)}_API_KEY`);
  }

  private openaiKey(role: ModelRole, settings: RoleSettings): string | undefined {
    return this.roleKey(role, settings) ?? this.fromEnv("OPENAI_API_KEY");
  }

  private googleKey(role: ModelRole, settings: RoleSettings): string | undefined {
    return this.roleKey(role, settings) ?? this.fromEnv("GOOGLE_API_KEY") ?? this.fromEnv("GEMINI_API_KEY");
  }

  private baseUrl(role: ModelRole, settings: RoleSettings): string | undefined {
    return settings.baseUrl ?? this.fromEnv(`CODECLM_${this.envName(role)}_BASE_URL`) ?? this.fromEnv("OPENAI_BASE_URL");
  }

  private build(role: ModelRole, settings: GenerationSettings): BaseChatModel {
    const roleSettings = this.roles[role];
    const spec = this.parse(role, roleSettings);
    const maxRetries = this.options.maxRetries ?? 3;
    switch (spec.provider) {
      case "openai": {
        const baseURL = this.baseUrl(role, roleSettings);
        // Local OpenAI-compatible servers ignore the key, but the client insists on one.
        const apiKey = this.openaiKey(role, roleSettings) ?? (baseURL ? "not-needed" : undefined);
        if (!apiKey) this.validate([role]);
        registerSecret(apiKey);
        return new ChatOpenAI({
          model: spec.model,
          temperature: settings.temperature,
          maxTokens: settings.maxTokens,
          apiKey,
          maxRetries,
          ...(this.options.timeoutMs ? { timeout: this.options.timeoutMs } : {}),
          configuration: baseURL ? { baseURL } : {},
        });
      }
      case "google-genai": {
        const apiKey = this.googleKey(role, roleSettings);
        if (!apiKey) this.validate([role]);
        registerSecret(apiKey);
        const baseUrl = roleSettings.baseUrl ?? this.fromEnv(`CODECLM_${this.envName(role)}_BASE_URL`);
        return new ChatGoogleGenerativeAI({
          model: spec.model,
          temperature: settings.temperature,
          maxOutputTokens: settings.maxTokens,
          apiKey,
          maxRetries,
          ...(baseUrl ? { baseUrl } : {}),
        });
      }
      case "local": {
        const build = this.options.local ?? defaultLocalBuilder;
        return build(spec.model, settings);
      }
    }
  }
}

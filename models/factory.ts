import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type Runnable, RunnableBinding, RunnableSequence } from "@langchain/core/runnables";
import { isInteropZodSchema } from "@langchain/core/utils/types";
import { toJsonSchema } from "@langchain/core/utils/json_schema";
import type { z } from "zod";
import { type CodecConfig, type RoleSettings, type StructuredOutputMethod, judgeSettings } from "../lib/config.js";
import type { ModelRole } from "../lib/records.js";
import { errorMessage, registerSecret } from "../lib/redact.js";
import { createLocalChatModel } from "./local/index.js";
import { localModelIdentity } from "./local/resolve.js";
import {
  ANTHROPIC_API_URL,
  type ClientSettings,
  MissingProviderPackageError,
  isInstalled,
  langchainPackage,
  langchainProviders,
  loadBuilder,
  loadedBuilder,
} from "./providers/index.js";
import { type ModelSpec, parseModelSpec } from "./spec.js";
import { ModelConfigError } from "./errors.js";
import { leanFetch } from "./http.js";

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
  /**
   * Retries inside the provider SDK. 0 by default: transport retries happen in models/call.ts, where they
   * are counted, backed off, fed to the adaptive limits and the circuit breaker.
   */
  maxRetries?: number;
  local?: LocalModelBuilder;
  /** Roles that stand in for another (the judge is the strong model unless configured): they share its env variables. */
  sameAs?: Partial<Record<ModelRole, ModelRole>>;
  /** The fetch of OpenAI and Anthropic clients (the batch transport's, models/batch/scope.ts, with `batch` on). */
  fetch?: typeof fetch;
}

const ROLE_ENV: Record<ModelRole, string> = { strong: "STRONG", target: "TARGET", judge: "JUDGE" };

/** Each native provider's usual key variables (first set wins) and base-URL variable. */
const PROVIDER_ENV: Record<"openai" | "google-genai" | "anthropic", { keys: string[]; baseUrl?: string }> = {
  openai: { keys: ["OPENAI_API_KEY"], baseUrl: "OPENAI_BASE_URL" },
  "google-genai": { keys: ["GOOGLE_API_KEY", "GEMINI_API_KEY"] },
  anthropic: { keys: ["ANTHROPIC_API_KEY"], baseUrl: "ANTHROPIC_BASE_URL" },
};

const DEFAULT_BASE: Record<keyof typeof PROVIDER_ENV, string> = {
  openai: "https://api.openai.com/v1",
  "google-genai": "https://generativelanguage.googleapis.com",
  anthropic: ANTHROPIC_API_URL,
};

const defaultLocalBuilder: LocalModelBuilder = (model, settings) =>
  createLocalChatModel(model, { temperature: settings.temperature, maxTokens: settings.maxTokens });

/** The model-with-request-format step of a provider's `model.pipe(parser)` structured-output sequence. */
function requestPart(structured: Runnable): Runnable | undefined {
  let sequence: unknown = structured;
  // A run name is added as a binding around the sequence (Gemini).
  if (RunnableBinding.isRunnableBinding(sequence) && sequence.bound instanceof RunnableSequence)
    sequence = sequence.bound;
  if (!(sequence instanceof RunnableSequence) || sequence.steps.length !== 2) return undefined;
  return sequence.steps[0];
}

export { ModelConfigError };

type JsonSchemaFormat = { type?: string; json_schema: { name: string; description?: string; schema?: unknown } };

/**
 * ChatOpenAI's json_schema request part converts the bound zod schema to JSON schema on every call (twice:
 * request and tracing parameters); this part sends the same request with the schema converted once. The reply is
 * then JSON-parsed by the SDK and validated by models/call.ts (zod, as before). Other parts are returned as they are.
 */
function withSchemaConvertedOnce(part: Runnable | undefined): Runnable | undefined {
  // By its type name: @langchain/openai is loaded only when a role uses it (models/providers/).
  if (!part || (part as { _llmType?: () => string })._llmType?.() !== "openai") return part;
  // withStructuredOutput's part is a ChatOpenAI whose default call options hold the request format.
  const format = (part as unknown as { defaultOptions?: { response_format?: JsonSchemaFormat } }).defaultOptions
    ?.response_format;
  if (format?.type !== "json_schema" || !isInteropZodSchema(format.json_schema.schema)) return part;
  const { name, description } = format.json_schema;
  const schema = toJsonSchema(format.json_schema.schema, {
    cycles: "ref",
    reused: "ref",
    override: (ctx: { jsonSchema: Record<string, unknown> }) => {
      ctx.jsonSchema.title = name;
    },
  } as Parameters<typeof toJsonSchema>[1]);
  // As @langchain/openai's interopZodResponseFormat builds it: the request body is unchanged.
  const json_schema = { ...(description === undefined ? {} : { description }), name, strict: true, schema };
  return part.withConfig({ response_format: { type: "json_schema", json_schema } } as Parameters<
    typeof part.withConfig
  >[0]);
}

/**
 * The one place that turns `provider:model` strings into chat models. Nodes ask for a role; they
 * never import a provider package. Clients are built lazily, so importing the graph needs no key.
 */
export class ModelFactory {
  private readonly cache = new Map<string, BaseChatModel>();
  private readonly structuredCache = new WeakMap<object, Map<string, Runnable>>();
  private readonly env: Env;
  private readonly fetchOption: { fetch?: typeof fetch };

  constructor(
    private readonly roles: Record<ModelRole, RoleSettings>,
    private readonly options: ModelFactoryOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.fetchOption = this.clientFetch();
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

  /**
   * Where a role's calls go: provider, base URL and model (never a key). Roles with the same endpoint
   * share its concurrency limit, adaptive control and circuit breaker.
   */
  endpoint(role: ModelRole): string {
    const override = this.options.overrides?.[role];
    if (override) {
      // The same model object under several roles (the judge defaults to the strong model) is one endpoint.
      const first =
        (Object.keys(ROLE_ENV) as ModelRole[]).find((other) => this.options.overrides?.[other] === override) ?? role;
      return `custom|${override._llmType()}|${first}`;
    }
    const settings = this.roles[role];
    const spec = this.parse(role, settings);
    let base = "local";
    if (spec.provider === "langchain") base = this.baseUrl(role, settings, spec) ?? `${spec.langchain} default`;
    else if (spec.provider !== "local") base = this.baseUrl(role, settings, spec) ?? DEFAULT_BASE[spec.provider];
    const provider = spec.provider === "langchain" ? spec.langchain : spec.provider;
    // A base URL may carry credentials (https://user:pass@host): they never leave the factory.
    return `${provider}|${base.replace(/\/\/[^/@]*@/, "//")}|${spec.model}`;
  }

  /**
   * Which model a role's calls reach: its endpoint, with a local spec resolved to the file it loads (so
   * `local:default` and the same file named by its URI or path are one model). Never holds a key.
   */
  modelIdentity(role: ModelRole): string {
    const endpoint = this.endpoint(role);
    if (this.options.overrides?.[role]) return endpoint;
    const spec = this.parse(role, this.roles[role]);
    if (spec.provider === "local") return `local|${localModelIdentity(spec.model, this.env)}`;
    return endpoint.replace(/\/+\|/, "|");
  }

  /**
   * A role's model bound to a structured-output request (JSON schema, tool call or JSON mode), built once
   * per (role, settings, schema, method). When the provider composes the usual "model, then parser"
   * sequence, only the model part is kept: it returns the raw message (with its token usage), which
   * models/call.ts parses and validates itself; that saves half a dozen nested runnables per call.
   * Anything else (custom models) is used whole and may return `{ raw, parsed }`.
   */
  structured(role: ModelRole, settings: GenerationSettings, schema: z.ZodType, name: string): Runnable {
    let byKey = this.structuredCache.get(schema);
    if (!byKey) {
      byKey = new Map();
      this.structuredCache.set(schema, byKey);
    }
    const method = this.structuredMethod(role);
    const key = `${role}|${settings.temperature}|${settings.maxTokens}|${name}|${method ?? ""}`;
    let runnable = byKey.get(key);
    if (!runnable) {
      const model = this.get(role, settings);
      const options = { name, ...(method ? { method } : {}) };
      const typed = schema as z.ZodType<Record<string, unknown>>;
      runnable =
        withSchemaConvertedOnce(
          requestPart(model.withStructuredOutput(typed, { ...options, includeRaw: false }) as Runnable),
        ) ??
        // Not the usual sequence: the whole runnable, with the raw message kept for its token usage.
        (model.withStructuredOutput(typed, { ...options, includeRaw: true }) as Runnable);
      byKey.set(key, runnable);
    }
    return runnable;
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

  /**
   * Check that the roles (default: all) can be built (spec shape, keys present, provider package installed)
   * without calling any model or importing any provider package.
   */
  validate(roles: readonly ModelRole[] = Object.keys(ROLE_ENV) as ModelRole[]): void {
    for (const role of roles) {
      if (this.options.overrides?.[role]) continue;
      const settings = this.roles[role];
      const spec = this.parse(role, settings);
      const problem = this.problem(role, settings, spec);
      if (problem)
        throw new ModelConfigError(
          `The ${role} model ${settings.model}${problem.startsWith(":") ? "" : " "}${problem}`,
        );
    }
  }

  /**
   * Import the provider packages the roles (default: all) use, once per process. `get` and `structured` need
   * it done; models/call.ts awaits it before each call (at once after the first).
   */
  async load(roles: readonly ModelRole[] = Object.keys(ROLE_ENV) as ModelRole[]): Promise<void> {
    for (const role of roles) {
      if (this.options.overrides?.[role]) continue;
      const settings = this.roles[role];
      const spec = this.parse(role, settings);
      if (spec.provider === "local" || loadedBuilder(spec)) continue;
      try {
        await loadBuilder(spec);
      } catch (error) {
        if (error instanceof MissingProviderPackageError)
          throw new ModelConfigError(`The ${role} model ${settings.model}: ${error.message}`);
        throw error;
      }
    }
  }

  /** Why a role cannot be built, as the end of a sentence starting with its name; undefined when it can. */
  private problem(role: ModelRole, settings: RoleSettings, spec: ModelSpec): string | undefined {
    const roleVar = `CODECLM_${this.envName(role)}_API_KEY`;
    const hasKey = spec.provider !== "local" && spec.provider !== "langchain" && this.apiKey(role, settings, spec);
    const hasBase = this.baseUrl(role, settings, spec) !== undefined;
    switch (spec.provider) {
      case "openai":
        if (hasKey || hasBase) return undefined;
        return (
          `needs an OpenAI API key: set OPENAI_API_KEY (or ${roleVar}), ` +
          `or point it at an OpenAI-compatible server with OPENAI_BASE_URL / --${role}-base-url.`
        );
      case "google-genai":
        if (!hasKey) return `needs a Gemini API key: set GOOGLE_API_KEY (or ${roleVar}).`;
        if (settings.structuredOutput === "jsonMode")
          return ": Gemini supports jsonSchema or functionCalling, not jsonMode.";
        return undefined;
      case "anthropic":
        if (!hasKey && !hasBase) return `needs an Anthropic API key: set ANTHROPIC_API_KEY (or ${roleVar}).`;
        if (settings.structuredOutput === "jsonMode")
          return ": Anthropic supports functionCalling (tool use, the default) or jsonSchema, not jsonMode.";
        return undefined;
      case "langchain": {
        const packageName = langchainPackage(spec.langchain)!;
        return isInstalled(packageName)
          ? undefined
          : `: ${new MissingProviderPackageError(spec.langchain, packageName).message}`;
      }
      case "local":
        return undefined;
    }
  }

  private parse(role: ModelRole, settings: RoleSettings): ModelSpec {
    let spec: ModelSpec;
    try {
      spec = parseModelSpec(settings.model);
    } catch (error) {
      throw new ModelConfigError(`The ${role} model: ${(error as Error).message}`);
    }
    if (spec.provider === "langchain" && !langchainPackage(spec.langchain)) {
      throw new ModelConfigError(
        `The ${role} model ${settings.model}: unknown provider ${spec.langchain}; use openai, google-genai, anthropic, ` +
          `local, or a provider LangChain's initChatModel knows: ${langchainProviders().join(", ")}`,
      );
    }
    return spec;
  }

  /**
   * The OpenAI and Anthropic clients' fetch: the one given (batch), else `leanFetch` unless CODECLM_FETCH=global.
   * Read when the factory is made, so a bad value stops the run before any call.
   */
  private clientFetch(): { fetch?: typeof fetch } {
    if (this.options.fetch) return { fetch: this.options.fetch };
    const choice = this.fromEnv("CODECLM_FETCH") ?? "lean";
    if (choice !== "lean" && choice !== "global")
      throw new ModelConfigError(`CODECLM_FETCH=${JSON.stringify(choice)}: expected lean (the default) or global`);
    return choice === "global" ? {} : { fetch: leanFetch as typeof fetch };
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

  /** The role's key, else its provider's usual variable; a LangChain provider's package reads its own. */
  private apiKey(role: ModelRole, settings: RoleSettings, spec: ModelSpec): string | undefined {
    const own = this.roleKey(role, settings);
    if (own || spec.provider === "local" || spec.provider === "langchain") return own;
    for (const name of PROVIDER_ENV[spec.provider].keys) {
      const value = this.fromEnv(name);
      if (value) return value;
    }
    return undefined;
  }

  /** The role's base URL, else CODECLM_<ROLE>_BASE_URL, else the provider's usual variable (OpenAI, Anthropic). */
  private baseUrl(role: ModelRole, settings: RoleSettings, spec = this.parse(role, settings)): string | undefined {
    const providerVar =
      spec.provider === "local" || spec.provider === "langchain" ? undefined : PROVIDER_ENV[spec.provider].baseUrl;
    return settings.baseUrl ?? this.fromEnv(`CODECLM_${this.envName(role)}_BASE_URL`) ?? this.fromEnv(providerVar);
  }

  private build(role: ModelRole, settings: GenerationSettings): BaseChatModel {
    const roleSettings = this.roles[role];
    const spec = this.parse(role, roleSettings);
    if (spec.provider === "local") return (this.options.local ?? defaultLocalBuilder)(spec.model, settings);
    const builder = loadedBuilder(spec);
    if (!builder) throw new Error(`The ${role} model's provider is not loaded: await factory.load() before get()`);
    const baseUrl = this.baseUrl(role, roleSettings, spec);
    let apiKey = this.apiKey(role, roleSettings, spec);
    // OpenAI-compatible and Anthropic-compatible local servers ignore the key, but the clients insist on one.
    if (!apiKey && baseUrl && (spec.provider === "openai" || spec.provider === "anthropic")) apiKey = "not-needed";
    if (!apiKey && spec.provider !== "langchain") this.validate([role]);
    registerSecret(apiKey);
    const client: ClientSettings = {
      model: spec.model,
      temperature: settings.temperature,
      maxTokens: settings.maxTokens,
      maxRetries: this.options.maxRetries ?? 0,
      ...(apiKey ? { apiKey } : {}),
      ...(baseUrl ? { baseUrl } : {}),
      ...this.fetchOption,
    };
    try {
      return builder(client);
    } catch (error) {
      // A LangChain provider's class reads its own settings (keys, region) and refuses without them.
      if (spec.provider !== "langchain") throw error;
      throw new ModelConfigError(`The ${role} model ${roleSettings.model}: ${errorMessage(error)}`);
    }
  }
}

/**
 * Warnings about the roles of a run that filters (Contrastive Filtering keeps what the strong model does better
 * than the target): when both roles reach the same model, the score gaps sit near 0 and most instructions are
 * dropped. Rows without filtering never call the target, so they get none.
 */
export function strongTargetWarnings(factory: ModelFactory, filtering: boolean): string[] {
  if (!filtering) return [];
  const strong = factory.modelIdentity("strong");
  if (strong !== factory.modelIdentity("target")) return [];
  const [strongSpec, targetSpec] = [factory.describe("strong"), factory.describe("target")];
  const named =
    strongSpec === targetSpec
      ? `both ${strongSpec}`
      : `${strongSpec} and ${targetSpec} resolve to ${strong.split("|").slice(1).join("|")}`;
  return [
    `strong and target are the same model (${named}): CodecLM keeps what a stronger model answers better than the target, ` +
      "so score gaps will sit near 0 and most instructions will be dropped; name a smaller --target or a larger --strong",
  ];
}

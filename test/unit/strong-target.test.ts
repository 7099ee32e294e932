import { mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultRoles } from "../../cli/defaults.js";
import { resolveConfig } from "../../lib/config.js";
import { ModelFactory, strongTargetWarnings } from "../../models/factory.js";
import { createLocalChatModel, type LocalChatModel } from "../../models/local/index.js";
import {
  DEFAULT_LOCAL_MODEL,
  DEFAULT_LOCAL_STRONG_MODEL,
  DEFAULT_LOCAL_TARGET_MODEL,
  downloadTargetFor,
  expandLocalDefault,
  localModelIdentity,
  waysForwardMessage,
} from "../../models/local/resolve.js";
import { ScriptedChatModel } from "../support/scripted-model.js";

const warningsFor = (
  strong: string,
  target: string,
  env: Record<string, string> = {},
  extra: Record<string, unknown> = {},
) =>
  strongTargetWarnings(
    ModelFactory.fromConfig(resolveConfig({ strong: { model: strong }, target: { model: target }, ...extra }), { env }),
    true,
  );

describe("the embedded default is a pair: a larger strong model and a smaller target of one family", () => {
  it("uses Qwen2.5-1.5B-Instruct as strong and Qwen2.5-0.5B-Instruct as target when no key is set", () => {
    const roles = defaultRoles({});
    expect(roles.strong.model).not.toBe(roles.target.model);
    expect(expandLocalDefault(roles.strong.model)).toBe(
      "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    );
    expect(expandLocalDefault(roles.target.model)).toBe(
      "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
    );
    expect(roles.because).toMatch(/pair/);
    // Hosted pairs are unchanged.
    expect(defaultRoles({ OPENAI_API_KEY: "x" })).toMatchObject({
      strong: { model: "openai:gpt-4o" },
      target: { model: "openai:gpt-4o-mini" },
    });
  });

  it("keeps local:default as the strong model; the embedded names reach the chat model as their files", () => {
    expect(DEFAULT_LOCAL_MODEL).toBe(DEFAULT_LOCAL_STRONG_MODEL);
    expect(expandLocalDefault("local:default")).toBe(DEFAULT_LOCAL_STRONG_MODEL);
    expect((createLocalChatModel("local:default-target") as LocalChatModel).model).toBe(DEFAULT_LOCAL_TARGET_MODEL);
    expect((createLocalChatModel("default-strong") as LocalChatModel).model).toBe(DEFAULT_LOCAL_STRONG_MODEL);
    expect(downloadTargetFor(DEFAULT_LOCAL_TARGET_MODEL, {})?.url).toBe(
      "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
    );
    expect(
      strongTargetWarnings(
        ModelFactory.fromConfig(resolveConfig({ strong: defaultRoles({}).strong, target: defaultRoles({}).target }), {
          env: {},
        }),
        true,
      ),
    ).toEqual([]);
  });

  it("offline with nothing cached, the message lists both files of the pair", () => {
    const message = waysForwardMessage("huggingface.co cannot be reached", "/cache");
    expect(message).toContain("qwen2.5-1.5b-instruct-q4_k_m.gguf");
    expect(message).toContain("qwen2.5-0.5b-instruct-q4_k_m.gguf");
  });
});

describe("local specs that load the same file are one model", () => {
  it("maps the embedded names, their URIs and the cached file's path to one identity", async () => {
    const env = { CODECLM_CACHE_DIR: "/tmp/codeclm-cache-test" };
    const identity = localModelIdentity("default", env);
    expect(localModelIdentity("local:default-strong", env)).toBe(identity);
    expect(localModelIdentity(DEFAULT_LOCAL_STRONG_MODEL, env)).toBe(identity);
    expect(localModelIdentity(identity, env)).toBe(identity); // the cached file named by its path
    expect(localModelIdentity("default-target", env)).not.toBe(identity);
  });

  it("resolves relative paths and symlinks", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-identity-"));
    const file = join(dir, "m.gguf");
    await writeFile(file, "x");
    await symlink(file, join(dir, "link.gguf"));
    expect(localModelIdentity(join(dir, "link.gguf"))).toBe(localModelIdentity(file));
    expect(localModelIdentity(`${dir}/sub/../m.gguf`)).toBe(localModelIdentity(file));
    expect(localModelIdentity(join(dir, "other.gguf"))).not.toBe(localModelIdentity(file));
  });
});

describe("strong and target must differ", () => {
  it("warns when both roles reach the same model, whatever the spelling", () => {
    expect(warningsFor("local:default", "local:default")[0]).toMatch(
      /strong and target are the same model \(both local:default\)/,
    );
    const [spelt] = warningsFor("local:default", `local:${DEFAULT_LOCAL_STRONG_MODEL}`);
    expect(spelt).toMatch(/local:default and local:hf:Qwen.* resolve to .*qwen2\.5-1\.5b-instruct-q4_k_m\.gguf/);
    expect(spelt).toMatch(/gaps will sit near 0/);
    expect(warningsFor("openai:m", "openai:m", { OPENAI_BASE_URL: "http://host:8000/v1" })).toHaveLength(1);
    expect(
      warningsFor(
        "openai:m",
        "openai:m",
        {},
        {
          strong: { model: "openai:m", baseUrl: "http://h/v1/" },
          target: { model: "openai:m", baseUrl: "http://h/v1" },
        },
      ),
    ).toHaveLength(1);
  });

  it("does not warn for different models, endpoints or files", () => {
    expect(warningsFor("openai:gpt-4o", "openai:gpt-4o-mini")).toEqual([]);
    expect(
      warningsFor(
        "openai:m",
        "openai:m",
        {},
        {
          strong: { model: "openai:m", baseUrl: "http://a/v1" },
          target: { model: "openai:m", baseUrl: "http://b/v1" },
        },
      ),
    ).toEqual([]);
    expect(warningsFor("openai:m", "google-genai:m", { GOOGLE_API_KEY: "k" })).toEqual([]);
    expect(warningsFor("local:default-strong", "local:default-target")).toEqual([]);
  });

  it("does not warn for rows without filtering (they never call the target)", () => {
    const factory = ModelFactory.fromConfig(
      resolveConfig({ strong: { model: "openai:m" }, target: { model: "openai:m" } }),
      { env: {} },
    );
    expect(strongTargetWarnings(factory, false)).toEqual([]);
  });

  it("treats one model object under both roles as one model, two objects as two", () => {
    const config = resolveConfig({ strong: { model: "openai:a" }, target: { model: "openai:b" } });
    const one = new ScriptedChatModel(() => "x");
    expect(
      strongTargetWarnings(ModelFactory.fromConfig(config, { overrides: { strong: one, target: one } }), true),
    ).toHaveLength(1);
    const other = new ScriptedChatModel(() => "x");
    expect(
      strongTargetWarnings(ModelFactory.fromConfig(config, { overrides: { strong: one, target: other } }), true),
    ).toEqual([]);
  });
});

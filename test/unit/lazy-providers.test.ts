/**
 * Provider packages are imported only when a role uses them: a child process records every import of a provider
 * package (a module-resolution hook) while it builds the graph and a factory, validates and loads its roles.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { root } from "../support/cli.js";

const HOOK = `export async function resolve(specifier, context, next) {
  if (/^@langchain\\/(openai|google-genai|anthropic|ollama)$/.test(specifier)) process.stderr.write("import " + specifier + "\\n");
  return next(specifier, context);
}
`;

const SCRIPT = (target: string) => `
import { createCodecGraph } from ${JSON.stringify(join(root, "graphs/codeclm.ts"))};
import { ModelFactory } from ${JSON.stringify(join(root, "models/factory.ts"))};
import { resolveConfig } from ${JSON.stringify(join(root, "lib/config.ts"))};
void createCodecGraph;
const config = resolveConfig({ strong: { model: "local:default-strong" }, target: { model: ${JSON.stringify(target)} } });
const factory = ModelFactory.fromConfig(config, { env: { ANTHROPIC_API_KEY: "k", OPENAI_API_KEY: "k" } });
factory.validate();
process.stderr.write("validated\\n");
await factory.load(["strong"]);
process.stderr.write("local loaded\\n");
await factory.load();
process.stderr.write("all loaded\\n");
`;

async function importsOf(target: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "codeclm-lazy-"));
  await writeFile(join(dir, "hook.mjs"), HOOK);
  await writeFile(
    join(dir, "register.mjs"),
    `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(join(dir, "hook.mjs")).href)});\n`,
  );
  await writeFile(join(dir, "script.mts"), SCRIPT(target));
  const child = spawnSync(
    process.execPath,
    ["--import", join(dir, "register.mjs"), "--import", "tsx", join(dir, "script.mts")],
    { cwd: root, encoding: "utf8", timeout: 60_000 },
  );
  expect(child.status, child.stderr).toBe(0);
  return child.stderr.split("\n").filter((line) => line !== "");
}

describe("provider packages load lazily", () => {
  it("imports none for the graph, validation or a local role, and only the package of the role that needs one", async () => {
    expect(await importsOf("anthropic:claude-haiku-4-5")).toEqual([
      "validated",
      "local loaded",
      "import @langchain/anthropic",
      "all loaded",
    ]);
    expect(await importsOf("openai:gpt-4o-mini")).toEqual([
      "validated",
      "local loaded",
      "import @langchain/openai",
      "all loaded",
    ]);
  });
});

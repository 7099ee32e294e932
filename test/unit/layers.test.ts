import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The folders are layers (README, "Design"): a source file imports only from its own folder or a lower one.
 * Lowest first; folders on one line are side by side and may not import each other.
 */
const LAYERS: string[][] = [
  ["prompts"],
  ["lib"],
  ["models"],
  ["io"],
  ["nodes"],
  ["graphs"],
  ["runner"],
  ["eval", "agent"],
  ["report"],
  ["cli"],
  ["index.ts"],
];

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const rank = new Map(LAYERS.flatMap((names, level) => names.map((name) => [name, level] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".test.ts") ? [path] : [];
  });
}

const topOf = (path: string) => relative(root, path).split("/")[0] ?? "";

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1] ?? "");
  return specifiers.map((spec) => resolve(dirname(file), spec));
}

describe("folder layers", () => {
  const files = [
    ...LAYERS.flat()
      .filter((name) => name !== "index.ts")
      .flatMap((name) => sourceFiles(join(root, name))),
    join(root, "index.ts"),
  ];

  it("every source folder has a layer", () => {
    const folders = readdirSync(root).filter(
      (name) => statSync(join(root, name)).isDirectory() && sourceFiles(join(root, name)).length > 0,
    );
    const outside = ["test", "bench", "scripts", "examples", "node_modules", "dist", "data", ".ci"];
    expect(folders.filter((name) => !rank.has(name) && !outside.includes(name) && !name.startsWith("."))).toEqual([]);
  });

  it("imports point down or sideways within a folder, never up or across a layer", () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = topOf(file);
      for (const target of importsOf(file)) {
        const to = topOf(target);
        if (to === from) continue;
        const fromRank = rank.get(from);
        const toRank = rank.get(to);
        if (fromRank === undefined || toRank === undefined || toRank >= fromRank) {
          upward.push(`${relative(root, file)} -> ${relative(root, target)}`);
        }
      }
    }
    expect(upward).toEqual([]);
  });
});

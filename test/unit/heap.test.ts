import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_HEAP_GROWTH_PERCENT,
  HeapGrowthError,
  YOUNG_GENERATION_FLAG,
  heapGrowthPercent,
  youngGenerationSet,
} from "../../cli/heap.js";

describe("CODECLM_HEAP_GROWTH", () => {
  it("defaults to a fixed factor of 2 (100%) when unset or empty", () => {
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBe(100);
    expect(heapGrowthPercent({})).toBe(100);
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: " " })).toBe(100);
  });

  it("takes a whole percent, 0 leaving V8's adaptive factor", () => {
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: "0" })).toBe(0);
    expect(heapGrowthPercent({ CODECLM_HEAP_GROWTH: "150" })).toBe(150);
  });

  it.each(["abc", "-5", "1.5", "5000"])("refuses %s with the variable's name and what it expects", (value) => {
    expect(() => heapGrowthPercent({ CODECLM_HEAP_GROWTH: value })).toThrow(HeapGrowthError);
    expect(() => heapGrowthPercent({ CODECLM_HEAP_GROWTH: value })).toThrow(/CODECLM_HEAP_GROWTH=.*whole percent/);
  });
});

describe("the CLI's young generation", () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> })
    .scripts;

  it("is passed by the npm scripts that run the CLI and the bench; the bin's shebang stays portable", () => {
    // `env -S` (the only way to pass a flag in a shebang) is missing from BusyBox (Alpine) and the BSDs.
    const shebang = readFileSync(join(root, "cli", "main.ts"), "utf8").split("\n")[0];
    expect(shebang).toBe("#!/usr/bin/env node");
    expect(scripts.codeclm).toBe(`node ${YOUNG_GENERATION_FLAG} --import tsx cli/main.ts`);
    expect(scripts.bench).toBe(`node ${YOUNG_GENERATION_FLAG} --import tsx bench/run.ts`);
  });

  it("is seen on the command line or in NODE_OPTIONS", () => {
    expect(youngGenerationSet([YOUNG_GENERATION_FLAG, "--import", "tsx"], {})).toBe(true);
    expect(youngGenerationSet([], { NODE_OPTIONS: `--enable-source-maps ${YOUNG_GENERATION_FLAG}` })).toBe(true);
    expect(youngGenerationSet(["--import", "tsx"], { NODE_OPTIONS: "--max-old-space-size=4096" })).toBe(false);
  });

  it("grows the young generation past V8's default", () => {
    // Short-lived garbage until V8 has grown the young generation as far as it may; with the default
    // (16 MB semi-spaces) it stops at 32 MB in all.
    const script =
      "let k=[];for(let i=0;i<2e6;i++){k.push({i});if(k.length>3e5)k=[]}" +
      "console.log(require('node:v8').getHeapSpaceStatistics().find(s=>s.space_name==='new_space').space_size)";
    const run = (flags: string[]) =>
      Number(spawnSync(process.execPath, [...flags, "-e", script], { encoding: "utf8" }).stdout);
    expect(run([])).toBeLessThanOrEqual(34 * 2 ** 20);
    expect(run([YOUNG_GENERATION_FLAG])).toBeGreaterThan(34 * 2 ** 20);
  });
});

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exists } from "../../io/files.js";
import { mulberry32 } from "../../lib/rng.js";

describe("exists", () => {
  it("is true for a file or a folder and false for nothing there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-files-"));
    try {
      await writeFile(join(dir, "a.txt"), "x");
      expect(await exists(join(dir, "a.txt"))).toBe(true);
      expect(await exists(dir)).toBe(true);
      expect(await exists(join(dir, "missing.txt"))).toBe(false);
      expect(await exists(join(dir, "a.txt", "under-a-file"))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("mulberry32 (the one generator of lib/rng.ts, shared by the test servers and the GGUF writer)", () => {
  it("gives the reference sequence for a raw seed", () => {
    const next = mulberry32(1);
    expect(next()).toBe(0.6270739405881613);
    expect(next()).toBe(0.002735721180215478);
  });
});

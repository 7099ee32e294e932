import { setMaxListeners } from "node:events";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { outputPathsFor } from "../../runner/output.js";
import { runToFiles } from "../../runner/run.js";
import { scriptedModels } from "../support/scripted-model.js";

setMaxListeners(0);
const SEEDS = [
  { id: "a", instruction: "Write a limerick about a cat." },
  { id: "b", instruction: "How do I sort a list in Python?" },
];

/** The library and the dev server get the same refusals as the CLI, before any call (issue 9, point 3). */
describe("impossible settings outside the CLI", () => {
  it("the graph (as the dev server runs it, raw context) throws at its first node, with no model call", async () => {
    for (const context of [
      { theta: 11 },
      { sise: 5 },
      { size: 9, poolSize: 2, instructionsPerMetadata: 1, topUpRounds: 0 },
    ]) {
      const models = scriptedModels();
      const graph = createCodecGraph({ models });
      // Raw, as the dev server passes it (zod defaults not applied, unknown keys kept).
      await expect(graph.invoke({ seeds: SEEDS }, { context: context as never })).rejects.toThrow(
        /Invalid codeclm configuration/,
      );
      expect(models.strong.calls).toHaveLength(0);
      expect(models.target.calls).toHaveLength(0);
    }
  });

  it("runToFiles throws a clear error and writes nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-settings-lib-"));
    const models = scriptedModels();
    await expect(
      runToFiles({
        input: { seeds: SEEDS },
        config: { theta: 11 },
        paths: outputPathsFor(join(dir, "out.jsonl")),
        graph: { models },
      }),
    ).rejects.toThrow(/theta 11 can never be exceeded/);
    await expect(
      runToFiles({
        input: { metadata: [{ useCase: "qa", skills: ["history"] }] },
        config: { size: 5, instructionsPerMetadata: 2, topUpRounds: 0 },
        paths: outputPathsFor(join(dir, "out.jsonl")),
        graph: { models },
      }),
    ).rejects.toThrow(/size 5 cannot be reached: 1 user-written metadata/);
    expect(models.strong.calls).toHaveLength(0);
    expect(await readdir(dir)).toEqual([]);
  });
});

/**
 * The near-duplicate index survives a resume: a run stopped by its budget and resumed in a new session
 * compares what it decodes next with every instruction of the first session (in the output files), not
 * only with what graph state holds.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemorySaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { createCodecGraph } from "../../graphs/codeclm.js";
import { outputPathsFor } from "../../runner/output.js";
import { indexFromOutputs } from "../../runner/run-index.js";
import { type RunOptions, runToFiles } from "../../runner/run.js";
import { resolveConfig } from "../../lib/config.js";
import { findNearDuplicates } from "../../lib/dedupe.js";
import type { DroppedRecord, KeptPair, Seed } from "../../lib/records.js";
import { repeatingModels } from "../support/repeating-strong.js";

const seeds: Seed[] = [
  { id: "a", instruction: "Write a limerick about a cat who learns to code." },
  { id: "b", instruction: "How do I compute a moving average over a pandas DataFrame column?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
  { id: "d", instruction: "Summarise the causes of the French Revolution in five bullet points." },
];
// expectedKeepRate 1: a first round of size / pool, so that the run needs the top-up rounds this test is about.
const config = { size: 24, poolSize: 4, seed: 3, topUpRounds: 5, concurrency: 4, expectedKeepRate: 1 };

const readJsonl = async <T>(path: string): Promise<T[]> =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);

describe("near-duplicate index across a resume", () => {
  it("a resumed run drops repeats of instructions only the output files still hold", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-dedupe-resume-"));
    // Calls up to the first top-up decode: the first round, filtered and settled.
    const reference = repeatingModels({ share: 0.3 });
    const whole = await runToFiles({
      input: { seeds },
      config,
      paths: outputPathsFor(join(dir, "whole.jsonl")),
      graph: { models: reference.models },
      checkpoint: { kind: "none" },
    });
    expect(whole.status).toBe("complete");
    const firstRound = reference.log.findIndex((prompt) => prompt.includes("written earlier"));
    expect(firstRound).toBeGreaterThan(0);

    // One model for both sessions: the second session repeats what the first one wrote. The first stops
    // at its budget with the first round settled: its records are in the checkpoints (the files get them
    // on resume, if the stop came before they were written) and no longer in graph state.
    const scripted = repeatingModels({ share: 0.3 });
    const run: RunOptions = {
      input: { seeds },
      config: { ...config, budget: { maxCalls: firstRound } },
      paths: outputPathsFor(join(dir, "run.jsonl")),
      graph: { models: scripted.models },
    };
    const stopped = await runToFiles(run);
    expect(stopped.status).toBe("stopped");
    expect(stopped.instructions.rounds).toBe(1);

    const resumed = await runToFiles({ ...run, config, resume: true });
    expect(resumed.status).toBe("complete");
    const kept = await readJsonl<KeptPair>(join(dir, "run.jsonl"));
    const dropped = await readJsonl<DroppedRecord>(join(dir, "run.dropped.jsonl"));
    expect(kept).toHaveLength(24);
    // No two kept pairs nearly share an instruction or a basic instruction.
    const texts = kept.flatMap((pair) =>
      [...new Set([pair.lineage.basicInstruction, pair.instruction])].map((text, k) => ({
        id: `${pair.id}#${k}`,
        text,
        pair: pair.id,
      })),
    );
    for (const item of texts) {
      const others = texts
        .filter((other) => other.pair !== item.pair)
        .map((other) => ({ id: other.id, text: other.text, reference: true }));
      expect(findNearDuplicates([...others, { id: item.id, text: item.text }], 0.7)).toEqual([]);
    }
    // The second session (top-up rounds) met repeats of the first round's instructions, which were no
    // longer in graph state (settled, written out), and dropped them.
    const firstRoundIds = new Set(
      kept
        .map((pair) => pair.id)
        .concat(dropped.filter((record) => record.kind === "instruction").map((record) => record.id))
        .filter((id) => id.includes("-r1-")),
    );
    const repeatsOfFirst = dropped.filter(
      (record) =>
        record.reason === "near-duplicate" &&
        !record.id.includes("-r1-") &&
        firstRoundIds.has((record.duplicateOf ?? "").replace(/:final$/, "")),
    );
    expect(repeatsOfFirst.length).toBeGreaterThan(0);
    expect(resumed.dropped["near-duplicate"]).toBe(
      dropped.filter((record) => record.reason === "near-duplicate").length,
    );
  }, 60_000);

  it("rebuilds from the files: filtered instructions and improved final ones, not the near-duplicates dropped before filtering", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-dedupe-index-"));
    const paths = outputPathsFor(join(dir, "out.jsonl"));
    const lineage = (basic: string, iterations: unknown[] = [{}]) => ({
      metadataId: "m1",
      metadataOrigin: "seed",
      seedIds: [],
      basicInstruction: basic,
      actions: [],
      iterations,
    });
    await writeFile(
      paths.kept,
      `${JSON.stringify({ id: "m1-r1-0", instruction: "Plan a week of vegetarian dinners for a family of four on a budget", lineage: lineage("Plan vegetarian dinners") })}\n`,
    );
    await writeFile(
      paths.dropped,
      [
        {
          id: "m1-r1-1",
          kind: "instruction",
          reason: "max-iterations",
          instruction: "x",
          lineage: lineage("Explain the rules of cricket to an American baseball fan"),
        },
        {
          id: "m1-r1-2",
          kind: "instruction",
          reason: "near-duplicate",
          instruction: "Describe the water cycle for a ten year old child",
          lineage: lineage("Describe the water cycle for a ten year old child", []),
        },
      ]
        .map((record) => JSON.stringify(record))
        .join("\n") + "\n",
    );
    const index = await indexFromOutputs(paths, 0.7);
    expect(index.find("Plan a week of vegetarian dinners for a family of four on a budget!")?.of).toBe("m1-r1-0:final");
    expect(index.find("explain the rules of cricket to an american baseball fan")?.of).toBe("m1-r1-1");
    expect(index.find("Describe the water cycle for a ten year old child")).toBeUndefined();
  });
});

describe("near-duplicate index of a library run continued from its checkpoint", () => {
  it("is rebuilt from the records the state holds", async () => {
    const settings = { size: 24, poolSize: 4, seed: 3, topUpRounds: 5, expectedKeepRate: 1 };
    const reference = repeatingModels({ share: 0.3 });
    await createCodecGraph({ models: reference.models }).invoke({ seeds }, { context: resolveConfig(settings) });
    const firstRound = reference.log.findIndex((prompt) => prompt.includes("written earlier"));
    expect(firstRound).toBeGreaterThan(0);

    const scripted = repeatingModels({ share: 0.3 });
    const graph = createCodecGraph({ models: scripted.models, checkpointer: new MemorySaver() });
    const thread = { configurable: { thread_id: "library-resume" } };
    // The first invocation stops at its budget once the first round is settled (a top-up decode is refused).
    const stopped = await graph
      .invoke({ seeds }, { ...thread, context: resolveConfig({ ...settings, budget: { maxCalls: firstRound } }) })
      .catch((error: unknown) => error);
    expect(stopped).toBeInstanceOf(Error);
    // A new invocation on the thread: a new run scope, whose index starts from the state's records.
    const state = await graph.invoke(null, { ...thread, context: resolveConfig(settings) });
    expect(state.kept).toHaveLength(24);
    const repeatsOfFirst = state.dropped.filter(
      (record) =>
        record.reason === "near-duplicate" &&
        !record.id.includes("-r1-") &&
        /-r1-\d+(:final)?$/.test(record.duplicateOf ?? ""),
    );
    expect(repeatsOfFirst.length).toBeGreaterThan(0);
    const basics = state.kept.map((pair) => pair.lineage.basicInstruction.toLowerCase());
    expect(new Set(basics).size).toBe(basics.length);
  }, 60_000);
});

import { describe, expect, it, vi } from "vitest";
import { type InstructionOutcome, type InstructionTask, emptyProgress } from "../../lib/tasks.js";
import { type RepeatCheck, repeatCheckOn, settleWave, stageRepeatCheck } from "../../lib/outcomes.js";
import { DedupeStage } from "../../lib/dedupe-stage.js";
import { NearDuplicateIndex, finalInstructionId } from "../../lib/dedupe.js";
import { createRng, pickOne, randomInt } from "../../lib/rng.js";
import type { IterationRecord } from "../../lib/records.js";

function task(order: number): InstructionTask {
  return {
    id: `t${order}`,
    order,
    round: 1,
    metadataId: "m0",
    metadataOrigin: "seed",
    seedIds: ["s0"],
    metadata: { useCase: "qa", skills: ["history"] },
    basicInstruction: `basic ${order}`,
    actions: ["a1", "a2", "a3"],
  };
}

function iteration(n: number, strong: number, target: number, instruction = `v${n}`): IterationRecord {
  return {
    iteration: n,
    instruction,
    ...(n > 1 ? { action: `a${n - 1}` } : {}),
    answers: { strong: `S(${instruction})`, target: `T(${instruction})` },
    rawScores: { strongFirst: { strong, target }, targetFirst: { strong, target } },
    scores: { strong, target, gap: strong - target },
  };
}

const kept = (order: number, iterations = 1, source: "strong" | "target" = "strong"): InstructionOutcome => {
  const history = Array.from({ length: iterations }, (_, i) =>
    i === iterations - 1
      ? source === "strong"
        ? iteration(i + 1, 9, 2)
        : iteration(i + 1, 2, 9)
      : iteration(i + 1, 6, 5),
  );
  return {
    task: task(order),
    status: "kept",
    source,
    instruction: history.at(-1)!.instruction,
    actions: history.slice(1).map((h) => h.action!),
    history,
  };
};

const droppedAtCap = (order: number): InstructionOutcome => {
  const history = [1, 2, 3, 4].map((n) => iteration(n, 6, 5));
  return { task: task(order), status: "dropped", instruction: "v4", actions: ["a1", "a2", "a3"], history };
};

const failed = (order: number, step = "answer-target"): InstructionOutcome => ({
  task: task(order),
  status: "failed",
  instruction: "v1",
  actions: [],
  history: [],
  failure: { step, error: "boom" },
});

describe("settleWave", () => {
  it("orders records by task.order regardless of input order", () => {
    const outcomes = [kept(5), droppedAtCap(2), kept(1), failed(4), kept(3)];
    const a = settleWave(outcomes, { size: 10, progress: emptyProgress(), runId: "r" });
    const b = settleWave([...outcomes].reverse(), { size: 10, progress: emptyProgress(), runId: "r" });
    expect(a.kept.map((k) => k.id)).toEqual(["t1", "t3", "t5"]);
    expect(a.dropped.map((d) => d.id)).toEqual(["t2", "t4"]);
    expect(b).toEqual(a);
  });

  it("builds kept pairs from the last iteration, with the chosen side's answer", () => {
    const { kept: pairs } = settleWave([kept(1, 3, "strong"), kept(2, 2, "target")], {
      size: 10,
      progress: emptyProgress(),
      runId: "run-1",
    });
    expect(pairs[0]).toMatchObject({
      id: "t1",
      instruction: "v3",
      response: "S(v3)",
      source: "strong",
      iteration: 3,
      scores: { strong: 9, target: 2, gap: 7 },
      runId: "run-1",
      lineage: { metadataId: "m0", seedIds: ["s0"], basicInstruction: "basic 1", actions: ["a1", "a2"] },
    });
    expect(pairs[0]!.lineage.iterations).toHaveLength(3);
    expect(pairs[1]).toMatchObject({ response: "T(v2)", source: "target", iteration: 2 });
  });

  it("writes nothing past the outcome that reached the size, and counts it; first in dispatch order wins", () => {
    const {
      kept: pairs,
      dropped,
      progress,
    } = settleWave([kept(3), kept(1), kept(2)], {
      size: 2,
      progress: emptyProgress(),
      runId: "r",
    });
    expect(pairs.map((p) => p.id)).toEqual(["t1", "t2"]);
    expect(dropped).toEqual([]);
    expect(progress).toMatchObject({ kept: 2, finished: 2, pastSize: 1, droppedByReason: {} });
  });

  it("counts from the progress it is given", () => {
    const start = { ...emptyProgress(), kept: 4, finished: 9 };
    const { kept: pairs, dropped, progress } = settleWave([kept(1), kept(2)], { size: 5, progress: start, runId: "r" });
    expect(pairs).toHaveLength(1);
    expect(dropped).toEqual([]);
    expect(progress).toMatchObject({ kept: 5, finished: 10, pastSize: 1 });
  });

  it("records max-iteration drops with their full history", () => {
    const { dropped, progress } = settleWave([droppedAtCap(1)], { size: 5, progress: emptyProgress(), runId: "r" });
    expect(dropped[0]).toMatchObject({
      reason: "max-iterations",
      instruction: "v4",
      lineage: { actions: ["a1", "a2", "a3"] },
    });
    expect(dropped[0]!.lineage!.iterations).toHaveLength(4);
    expect(dropped[0]!.step).toBeUndefined();
    expect(progress.droppedByReason).toEqual({ "max-iterations": 1 });
  });

  it("counts failures by reason and by step", () => {
    const { dropped, progress } = settleWave([failed(1, "judge"), failed(2, "judge"), failed(3, "action-apply")], {
      size: 5,
      progress: emptyProgress(),
      runId: "r",
    });
    expect(dropped.map((d) => [d.reason, d.step, d.error])).toEqual([
      ["failure", "judge", "boom"],
      ["failure", "judge", "boom"],
      ["failure", "action-apply", "boom"],
    ]);
    expect(progress).toMatchObject({
      kept: 0,
      finished: 3,
      droppedByReason: { failure: 3 },
      failuresByStep: { judge: 2, "action-apply": 1 },
    });
  });

  it("tallies keptPerIteration and reverseKept", () => {
    const { progress } = settleWave([kept(1, 1), kept(2, 1, "target"), kept(3, 2), kept(4, 4), kept(5, 4, "target")], {
      size: 10,
      progress: emptyProgress(),
      runId: "r",
    });
    expect(progress.keptPerIteration).toEqual({ "1": 2, "2": 1, "4": 2 });
    expect(progress.reverseKept).toBe(2);
    expect(progress.kept).toBe(5);
  });

  it("does not mutate the progress it was given", () => {
    const start = emptyProgress();
    settleWave([kept(1), failed(2)], { size: 5, progress: start, runId: "r" });
    expect(start).toEqual(emptyProgress());
  });
});

describe("settleWave with the run's near-duplicate check", () => {
  it("drops a pair whose final instruction repeats another instruction of the run, before it takes a place", () => {
    const stored = new Map<string, string>([["other-basic", "v2"]]);
    const keptIds: string[] = [];
    const repeats = {
      find: (id: string, instruction: string) => {
        for (const [of, text] of stored) if (text === instruction && of !== id) return { of, similarity: 1 };
        return undefined;
      },
      keep: (id: string, instruction: string) => {
        keptIds.push(id);
        stored.set(`${id}:final`, instruction);
      },
    };
    // t1's improved instruction is "v2", which another instruction of the run already holds; t2 and t3 are new.
    const result = settleWave([kept(1, 2), kept(2), kept(3, 3)], {
      size: 2,
      progress: emptyProgress(),
      runId: "r",
      repeats,
    });
    expect(result.kept.map((pair) => pair.id)).toEqual(["t2", "t3"]);
    const repeat = result.dropped.find((record) => record.id === "t1")!;
    expect(repeat).toMatchObject({
      reason: "near-duplicate",
      duplicateOf: "other-basic",
      similarity: 1,
      instruction: "v2",
    });
    expect(repeat.lineage?.iterations).toHaveLength(2);
    expect(result.progress.droppedByReason["near-duplicate"]).toBe(1);
    expect(result.progress.finished).toBe(3);
    expect(keptIds).toEqual(["t2", "t3"]);
  });
});

describe("settleWave: the worker that decided (--engine dbos)", () => {
  it("puts decidedBy on kept and dropped records when the outcome has it, and nowhere in a local run", () => {
    const remote = [
      { ...kept(0), decidedBy: "w1" },
      { ...droppedAtCap(1), decidedBy: "w2" },
      { ...failed(2), decidedBy: "w1" },
      { ...kept(3), decidedBy: "w2" },
    ];
    const settled = settleWave(remote, { size: 2, progress: emptyProgress(), runId: "r" });
    expect(settled.kept.map((record) => record.decidedBy)).toEqual(["w1", "w2"]);
    // dropped at the cap, failed
    expect(settled.dropped.map((record) => [record.reason, record.decidedBy])).toEqual([
      ["max-iterations", "w2"],
      ["failure", "w1"],
    ]);
    const local = settleWave([droppedAtCap(0), kept(1)], { size: 1, progress: emptyProgress(), runId: "r" });
    expect(local.dropped).toHaveLength(1);
    expect([...local.kept, ...local.dropped].some((record) => "decidedBy" in record)).toBe(false);
  });
});

describe("repeatCheckOn", () => {
  /** A run in miniature: seeds, a filtered round of basic instructions, outcomes kept as decoded or improved. */
  function miniRun(seed: number) {
    const rng = createRng(seed, "repeats");
    const words = Array.from({ length: 14 }, (_, i) => `w${i}`);
    const text = (length: number) => Array.from({ length }, () => pickOne(rng, words)).join(" ");
    // Near another text: one word changed (ROUGE-L 0.8 or more at these lengths).
    const near = (from: string) => {
      const tokens = from.split(" ");
      tokens[randomInt(rng, 0, tokens.length - 1)] = pickOne(rng, words);
      return tokens.join(" ");
    };
    const seeds = Array.from({ length: 10 }, () => text(randomInt(rng, 5, 9)));
    const candidates = Array.from({ length: 300 }, (_, i) =>
      i > 10 && rng() < 0.3
        ? near(i % 2 ? pickOne(rng, seeds) : `${text(2)} ${pickOne(rng, seeds)}`)
        : text(randomInt(rng, 5, 9)),
    );
    return { rng, seeds, candidates, near };
  }

  function settleBoth(seed: number) {
    const { rng, seeds, candidates, near } = miniRun(seed);
    const indexes = [new NearDuplicateIndex(0.7), new NearDuplicateIndex(0.7), new NearDuplicateIndex(0.7)] as const;
    for (const index of indexes) seeds.forEach((s, i) => index.add(`seed:${i}`, s));
    const tasks = candidates.flatMap((basic, order) => {
      const drops = indexes.map((index) => index.addUnlessDuplicate(`t${order}`, basic));
      expect(drops[0]).toEqual(drops[1]);
      expect(drops[0]).toEqual(drops[2]);
      return drops[0] ? [] : [{ ...task(order), basicInstruction: basic }];
    });
    // Kept as decoded (sometimes with stray whitespace), or improved: often into a near-copy of a seed, of
    // another basic instruction, or of an earlier improvement.
    const improvements: string[] = [];
    const outcomes: InstructionOutcome[] = tasks.map((t) => {
      const roll = rng();
      let final = roll < 0.5 ? t.basicInstruction : roll < 0.6 ? ` ${t.basicInstruction}\n` : near(t.basicInstruction);
      if (roll >= 0.75)
        final = near(pickOne(rng, [...seeds, ...tasks.map((o) => o.basicInstruction), ...improvements]));
      if (final.trim() !== t.basicInstruction.trim()) improvements.push(final);
      const history = [iteration(1, 9, 2, final)];
      return { task: t, status: "kept", source: "strong", instruction: final, actions: [], history };
    });
    const full = indexes[1];
    const fullCheck: RepeatCheck = {
      find: (id, instruction) => full.find(instruction, id),
      keep: (id, instruction, basic) => {
        if (instruction.trim() !== basic.trim()) full.add(finalInstructionId(id), instruction);
      },
    };
    const searches = vi.spyOn(indexes[0], "find");
    const options = { size: 10_000, progress: emptyProgress(), runId: "r" };
    const fast = settleWave(outcomes, { ...options, repeats: repeatCheckOn(indexes[0]) });
    const slow = settleWave(outcomes, { ...options, repeats: fullCheck });
    return { fast, slow, searches: searches.mock.calls.length, outcomes, rng, staged: indexes[2], options };
  }

  /** The same wave, its outcomes staged as they end (in another order, a few at a time), then settled. */
  function settleStaged(seed: number, primed: boolean) {
    const { slow, outcomes, rng, staged: index, options } = settleBoth(seed);
    const stage = new DedupeStage(0.7);
    const arrival = [...outcomes].sort(() => rng() - 0.5);
    for (let from = 0; from < arrival.length; from += 3)
      stageRepeatCheck(stage, index, primed, arrival.slice(from, from + 3));
    const searches = vi.spyOn(index, "find");
    const staged = settleWave(outcomes, { ...options, repeats: repeatCheckOn(index, { stage, outcomes }) });
    return { staged, slow, searches: searches.mock.calls.length };
  }

  it.each([1, 2, 3, 4, 5])("keeps and drops exactly what searching every final instruction would (run %i)", (seed) => {
    const { fast, slow, searches, outcomes } = settleBoth(seed);
    expect(fast).toEqual(slow);
    // The runs exercise both sides: repeats found among improvements, and searches skipped.
    expect(slow.dropped.filter((record) => record.reason === "near-duplicate").length).toBeGreaterThan(5);
    expect(searches).toBeLessThan(outcomes.length * 0.6);
  });

  it.each([1, 2, 3, 4, 5])("gives the same from checks staged as the outcomes ended (run %i)", (seed) => {
    // Staged against the ready index: settling searches nothing more.
    const ready = settleStaged(seed, true);
    expect(ready.staged).toEqual(ready.slow);
    expect(ready.searches).toBe(0);
    // Staged before the index was ready (a resumed wave): settling searches the index, the rest is staged.
    const unready = settleStaged(seed, false);
    expect(unready.staged).toEqual(unready.slow);
    expect(unready.searches).toBeGreaterThan(0);
  });

  it("checks in order when the stage does not cover the wave, or holds another text", () => {
    const { slow, outcomes, staged: index, options } = settleBoth(6);
    const stage = new DedupeStage(0.7);
    stageRepeatCheck(stage, index, true, outcomes.slice(1));
    const partial = settleWave(outcomes, { ...options, repeats: repeatCheckOn(index, { stage, outcomes }) });
    expect(partial).toEqual(slow);
  });
});

import { describe, expect, it } from "vitest";
import { WaveGate, type WavePlan } from "../../lib/wave-gate.js";

const ids = (n: number, prefix = "i") => Array.from({ length: n }, (_, index) => `${prefix}${index}`);

function plan(members: number, spares: number, need: number, release: WavePlan["release"] = "certain"): WavePlan {
  return { need, ids: [...ids(members), ...ids(spares, "s")], members, cap: 4, release, confidence: 0 };
}

/** Resolves to the spares admitted so far, by id, without waiting for those still held. */
async function admitted(gate: WaveGate, spareIds: string[]): Promise<string[]> {
  const started: string[] = [];
  for (const id of spareIds) void gate.admit(id).then((ok) => ok && started.push(id));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return started.sort();
}

describe("WaveGate", () => {
  it("holds spares until the wave would fall short even if every open instruction were kept", async () => {
    const gate = new WaveGate();
    gate.start(plan(3, 2, 3));
    const spares = ids(2, "s");
    const first = gate.admit("s0");
    gate.finished("i0", false);
    await expect(first).resolves.toBe(true);
    expect(await admitted(gate, ["s1"])).toEqual([]);
    gate.finished("i1", true);
    gate.finished("i2", true);
    gate.finished("s0", true);
    // Enough kept: the last spare goes back.
    expect(await admitted(gate, spares.slice(1))).toEqual([]);
  });

  it("sends every waiting spare back when the wave ends", async () => {
    const gate = new WaveGate();
    gate.start(plan(2, 1, 2));
    const waiting = gate.admit("s0");
    gate.end();
    await expect(waiting).resolves.toBe(false);
    // A spare of a wave it was not told of never starts (a resumed wave).
    await expect(gate.admit("s0")).resolves.toBe(false);
  });

  it("starts spares on the expected shortfall once judging shows drops are likely", async () => {
    const gate = new WaveGate(10);
    gate.start(plan(20, 5, 20, "expected"));
    // Nothing judged yet: no estimate, and no certain shortfall.
    expect(await admitted(gate, ids(5, "s"))).toEqual([]);
    // Ten members judged at the cap-free first iteration: half sent on to improvement.
    for (let i = 0; i < 10; i++) gate.judged(`i${i}`, 1, i % 2 === 0);
    for (let i = 0; i < 10; i += 2) gate.finished(`i${i}`, true);
    // p = 0.5 at every iteration: P(kept from 1) = 1 - 0.5^4 = 0.9375, from 2 = 0.875.
    // Expected kept = 5 + 10 × 0.9375 + 5 × 0.875 = 18.75: 1.25 short, / 0.9375 -> 1 spare.
    expect(await admitted(gate, ids(5, "s"))).toEqual(["s0"]);
  });

  it("trusts no keep rate before MIN_JUDGED judgments: the first ones back are no fair sample", async () => {
    const gate = new WaveGate();
    gate.start(plan(20, 5, 20, "expected"));
    for (let i = 0; i < 10; i++) gate.judged(`i${i}`, 1, i % 2 === 0);
    for (let i = 0; i < 10; i += 2) gate.finished(`i${i}`, true);
    expect(await admitted(gate, ids(5, "s"))).toEqual([]);
  });

  it("is certain-only when told so, whatever judging shows", async () => {
    const gate = new WaveGate(10);
    gate.start(plan(20, 5, 20, "certain"));
    for (let i = 0; i < 10; i++) gate.judged(`i${i}`, 1, i % 2 === 0);
    for (let i = 0; i < 10; i += 2) gate.finished(`i${i}`, true);
    expect(await admitted(gate, ids(5, "s"))).toEqual([]);
  });

  it("says an instruction is not needed once `need` instructions before it in dispatch order were kept", () => {
    const gate = new WaveGate();
    gate.start(plan(4, 2, 2));
    gate.finished("i3", true);
    gate.finished("s0", true);
    // Two kept, but not both before i1: i0..i2 may still take a place; s1 may not.
    expect(["i0", "i1", "i2", "s1"].map((id) => gate.needed(id))).toEqual([true, true, true, false]);
    gate.finished("i0", true);
    // i0 and i3 kept: after i3, nothing is needed; i1 and i2 still are (i3 could be displaced).
    expect(["i1", "i2", "s1"].map((id) => gate.needed(id))).toEqual([true, true, false]);
    gate.finished("i1", true);
    expect(gate.needed("i2")).toBe(false);
    // Unknown instructions (another wave, a fleet worker's) are always needed.
    expect(gate.needed("elsewhere")).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { type InstructionTask, emptyProgress } from "../../lib/tasks.js";
import { runtimeFor } from "../../nodes/runtime.js";
import { schedule } from "../../nodes/schedule.js";
import type { CodecState } from "../../nodes/state.js";

const waiting = (count: number) =>
  Array.from({ length: count }, (_, order) => ({ id: `i${order}`, order }) as unknown as InstructionTask);

async function firstWave(settings: object, decoded: number): Promise<number> {
  const state = { decoded: waiting(decoded), progress: emptyProgress(), waveEnd: 0 } as unknown as CodecState;
  const update = await schedule(state, runtimeFor({ size: 5000, ...settings }));
  return update.wave?.length ?? 0;
}

describe("schedule: the wave's size", () => {
  it("unset waveLimit: 1000 at concurrency 32, 24 per call slot at 128", async () => {
    expect(await firstWave({ concurrency: 32 }, 6000)).toBe(1000);
    expect(await firstWave({ concurrency: 128 }, 6000)).toBe(3072);
  });

  it("a waveLimit set holds at any concurrency", async () => {
    expect(await firstWave({ concurrency: 128, waveLimit: 500 }, 6000)).toBe(500);
  });
});

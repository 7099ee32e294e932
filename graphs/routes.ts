import { END, type LangGraphRunnableConfig, Send } from "@langchain/langgraph";
import { filters, unfilteredStep, usesMetadata } from "../lib/ablation.js";
import { firstRoundPerMetadata, inDispatchOrder, topUpPerMetadata, yieldRate } from "../lib/plan.js";
import type { PoolEntry } from "../lib/records.js";
import { createRng, shuffle } from "../lib/rng.js";
import { selfInstructBatches } from "../lib/self-instruct.js";
import type { DecodeRequest } from "../nodes/decode.js";
import type { SelfInstructRequest } from "../nodes/self-instruct.js";
import { runOf } from "../nodes/runtime.js";
import type { CodecState, InstructionState } from "../nodes/state.js";

/** Each metadata's place in the dispatch order: a seeded shuffle, so early waves cover the pool evenly. */
export function metadataRanks(pool: readonly PoolEntry[], seed: number): Map<string, number> {
  return new Map(shuffle(createRng(seed, "ranks"), pool).map((entry, rank) => [entry.id, rank]));
}

export { inDispatchOrder };

function decodeSends(state: CodecState, round: number, count: number, seed: number): Send[] {
  const ranks = metadataRanks(state.pool, seed);
  return state.pool.map((entry) => {
    const request: DecodeRequest = {
      entry,
      count,
      round,
      rank: ranks.get(entry.id) ?? 0,
      avoid: state.recent[entry.id] ?? [],
      runId: state.runId,
    };
    return new Send("decode", request);
  });
}

/** The no-metadata ablation: `total` instructions from seed examples, in calls of a few each. */
function selfInstructSends(state: CodecState, round: number, total: number, seed: number): Send[] {
  return selfInstructBatches(state.seeds ?? [], { total, round, seed }).map(
    (batch) => new Send("self-instruct", { ...batch, runId: state.runId } satisfies SelfInstructRequest),
  );
}

/** Seeds fan out to encode, one task each (or, without metadata, to self-instruct); user-written metadata goes straight to the pool. */
export function afterPrepare(state: CodecState, runnable: LangGraphRunnableConfig): Send[] | "build-pool" {
  const { config } = runOf(runnable);
  if (!usesMetadata(config.ablation)) return selfInstructSends(state, 1, config.size, config.seed);
  if (state.seeds && state.seeds.length > 0) {
    return state.seeds.map((seed) => new Send("encode", { seed, runId: state.runId }));
  }
  return "build-pool";
}

/** Every metadata fans out twice: once to Self-Rubrics (unless the ablation has none), once to decode its first-round instructions. */
export function afterBuildPool(state: CodecState, runnable: LangGraphRunnableConfig): Send[] | "finalize" {
  if (state.pool.length === 0) return "finalize";
  const { config } = runOf(runnable);
  const perMetadata = firstRoundPerMetadata(
    config.size,
    state.pool.length,
    config.instructionsPerMetadata,
    config.expectedKeepRate,
  );
  return decodeSends(state, 1, perMetadata, config.seed);
}

/**
 * The wave chosen by schedule, one instruction subgraph each (its members first, then its spares, which
 * wait until they are needed); an empty wave goes straight to collect.
 */
export function dispatchWave(state: CodecState): Send[] | "collect" {
  const { wave } = state;
  if (wave.length === 0) return "collect";
  const members = state.waveEnd - state.waveStart;
  return wave.map((task, index) => new Send("instruction", index < members ? { task } : { task, spare: true }));
}

/** Stop at the requested size; else filter what is waiting; else top up with another decode round; else give up. */
export function afterCollect(state: CodecState, runnable: LangGraphRunnableConfig): Send[] | "schedule" | "finalize" {
  const { config } = runOf(runnable);
  const remaining = config.size - state.progress.kept;
  if (remaining <= 0) return "finalize";
  if (state.decoded.length > 0) return "schedule";
  const metadata = usesMetadata(config.ablation);
  if (state.round >= 1 + config.topUpRounds || (metadata && state.pool.length === 0)) return "finalize";
  // Sized by what each instruction asked for yielded, not by the keep rate of filtering alone: near-duplicates
  // and failed decode calls never reach filtering, and rows without filtering keep nearly everything filtered.
  const rate = yieldRate(state.progress.kept, state.requested ?? 0);
  if (!metadata) return selfInstructSends(state, state.round + 1, Math.ceil(remaining / rate), config.seed);
  const count = topUpPerMetadata(remaining, state.pool.length, rate, config.topUpMaxPerMetadata);
  return decodeSends(state, state.round + 1, count, config.seed);
}

/**
 * Inside the instruction subgraph. The full method answers (then judges) the basic instruction; ablation
 * rows without filtering improve it a fixed number of times first (or not), then answer keeps the strong
 * answer unjudged.
 */
export function startInstruction(
  state: InstructionState,
  runnable: LangGraphRunnableConfig,
): "basic" | "improve first" | "rubrics first" {
  const { config } = runOf(runnable);
  if (filters(config.ablation)) return "basic";
  if (unfilteredStep(config.ablation, state.actions.length, config.ablationImprovements) !== "action-apply")
    return "basic";
  return state.task.actions.length > 0 ? "improve first" : "rubrics first";
}
/**
 * The subgraph's start: a spare first waits until the wave needs it (`WaveGate`), and ends at once, with no
 * outcome, if it is not needed (collect puts it back with the waiting instructions).
 */
export async function admitInstruction(
  state: InstructionState,
  runnable: LangGraphRunnableConfig,
): Promise<"not needed" | ReturnType<typeof startInstruction>> {
  const { waves } = runOf(runnable);
  if (!(await waves.mayStart(state.task.id, state.spare === true, runnable.signal))) return "not needed";
  return startInstruction(state, runnable);
}

/** Where an instruction goes next, unless enough instructions before it were kept (`WaveGate.needed`): then it ends. */
const unlessSettled = <T extends string>(next: T, state: InstructionState, runnable: LangGraphRunnableConfig) =>
  runOf(runnable).waves.needed(state.task.id) ? next : ("not needed" as const);
export const afterAnswer = (state: InstructionState, runnable: LangGraphRunnableConfig) =>
  state.verdict === "failed"
    ? "failed"
    : state.verdict === "keep"
      ? "kept unjudged"
      : unlessSettled("judge", state, runnable);
export const afterJudge = (state: InstructionState, runnable: LangGraphRunnableConfig) =>
  state.verdict === "action-apply"
    ? unlessSettled(state.task.actions.length > 0 ? "improve" : "first improvement", state, runnable)
    : state.verdict === "keep"
      ? "keep"
      : state.verdict === "drop"
        ? "drop"
        : "failed";
/** After Self-Rubrics inside the subgraph: improve with the metadata's actions, or end (the call failed for good). */
export const afterRubrics = (state: InstructionState, runnable: LangGraphRunnableConfig) =>
  state.verdict === "failed" ? "failed" : unlessSettled("actions ready", state, runnable);
export function afterActionApply(
  state: InstructionState,
  runnable: LangGraphRunnableConfig,
): "failed" | "improved" | "improve again" | "not needed" {
  if (state.verdict === "failed") return "failed";
  const { config } = runOf(runnable);
  if (filters(config.ablation)) return unlessSettled("improved", state, runnable);
  return unlessSettled(startInstruction(state, runnable) === "basic" ? "improved" : "improve again", state, runnable);
}

export { END };

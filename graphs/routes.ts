import { END, type LangGraphRunnableConfig, Send } from "@langchain/langgraph";
import { firstRoundPerMetadata, inDispatchOrder, keepRate, topUpPerMetadata } from "../lib/plan.js";
import type { PoolEntry } from "../lib/records.js";
import { createRng, shuffle } from "../lib/rng.js";
import type { DecodeRequest } from "../nodes/decode.js";
import { configOf } from "./runtime.js";
import type { CodecState, InstructionState } from "./state.js";

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

/** Seeds fan out to encode, one task each; user-written metadata goes straight to the pool. */
export function afterPrepare(state: CodecState): Send[] | "build-pool" {
  if (state.seeds && state.seeds.length > 0) {
    return state.seeds.map((seed) => new Send("encode", { seed, runId: state.runId }));
  }
  return "build-pool";
}

/** Every metadata fans out twice: once to Self-Rubrics, once to decode its first-round instructions. */
export function afterBuildPool(state: CodecState, runnable: LangGraphRunnableConfig): Send[] | "finalize" {
  if (state.pool.length === 0) return "finalize";
  const config = configOf(runnable);
  const perMetadata = firstRoundPerMetadata(config.size, state.pool.length, config.instructionsPerMetadata);
  return [
    ...state.pool.map((entry) => new Send("rubric-generate", { entry, runId: state.runId })),
    ...decodeSends(state, 1, perMetadata, config.seed),
  ];
}

/** The wave chosen by schedule, one instruction subgraph each; an empty wave goes straight to collect. */
export function dispatchWave(state: CodecState): Send[] | "collect" {
  const { wave } = state;
  if (wave.length === 0) return "collect";
  return wave.map(
    (task) => new Send("instruction", { task: { ...task, actions: state.rubrics[task.metadataId]?.actions ?? [] } }),
  );
}

/** Stop at the requested size; else filter what is waiting; else top up with another decode round; else give up. */
export function afterCollect(state: CodecState, runnable: LangGraphRunnableConfig): Send[] | "schedule" | "finalize" {
  const config = configOf(runnable);
  const remaining = config.size - state.progress.kept;
  if (remaining <= 0) return "finalize";
  if (state.decoded.length > 0) return "schedule";
  if (state.round >= 1 + config.topUpRounds || state.pool.length === 0) return "finalize";
  const rate = keepRate(state.progress.kept, state.progress.finished);
  const count = topUpPerMetadata(remaining, state.pool.length, rate, config.topUpMaxPerMetadata);
  return decodeSends(state, state.round + 1, count, config.seed);
}

/** Inside the instruction subgraph. */
export const afterAnswer = (state: InstructionState) => (state.verdict === "failed" ? "failed" : "judge");
export const afterJudge = (state: InstructionState) =>
  state.verdict === "action-apply" ? "improve" : state.verdict === "keep" ? "keep" : state.verdict === "drop" ? "drop" : "failed";
export const afterActionApply = (state: InstructionState) => (state.verdict === "failed" ? "failed" : "answer");

export { END };

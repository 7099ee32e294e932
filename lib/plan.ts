/** Sizing arithmetic: how many instructions to decode, and how many to send through filtering at once. */
import { usesRubrics } from "./ablation.js";
import type { CodecConfig } from "./config.js";

/**
 * §5.3: an equal number of basic instructions per metadata, sized from the requested total and the keep
 * rate expected before anything is filtered (decode ahead: decoding is cheap next to filtering, and the
 * waves are sized by the observed rate, so instructions never needed cost no answer or judge call).
 */
export function firstRoundPerMetadata(
  size: number,
  poolLength: number,
  override?: number | null,
  expectedKeepRate = 1,
): number {
  if (override !== undefined && override !== null) return override;
  return Math.max(1, Math.ceil(size / expectedKeepRate / Math.max(1, poolLength)));
}

/** Observed keep rate, floored so that a bad start does not explode the next wave. */
export function keepRate(kept: number, judged: number, floor = 0.1): number {
  if (judged === 0) return 1;
  return Math.max(floor, kept / judged);
}

/**
 * Instructions to start filtering now: enough to reach `size` at the keep rate seen so far (all of the
 * first wave is assumed kept, so it never overshoots), never more than are waiting, and never more
 * than `limit` at once (the outcomes of a wave are held until it ends: the limit bounds memory).
 */
export function waveSize(remaining: number, pending: number, rate: number, limit = Number.POSITIVE_INFINITY): number {
  if (remaining <= 0 || pending <= 0) return 0;
  return Math.min(pending, Math.ceil(remaining / rate), Math.max(1, limit));
}

/** A wave with no `waveLimit` set holds at least this many instructions per call slot (`concurrency`). */
export const WAVE_INSTRUCTIONS_PER_SLOT = 24;

/**
 * Most instructions in one wave: `waveLimit` as set, else max(1000, 24 × concurrency). The calls in flight
 * drain at a wave's end (its last instructions run their whole chains with few calls beside them), which
 * costs about the same whatever the wave's length; at about 6 calls per instruction, 24 instructions per
 * slot make a wave some 150 rounds of calls long, so the drain stays a few percent of it at any concurrency.
 * Which instructions are kept does not depend on it: they are settled in dispatch order across waves.
 */
export function waveLimitFor(waveLimit: number | null, concurrency: number): number {
  return waveLimit ?? Math.max(1000, WAVE_INSTRUCTIONS_PER_SLOT * concurrency);
}

/**
 * Kept pairs per basic instruction asked for: every loss counts (near-duplicates, failed decode calls,
 * failures, drops at the iteration cap), so a top-up round sized by it makes up for all of them.
 */
export function yieldRate(kept: number, requested: number, floor = 0.1): number {
  return keepRate(kept, requested, floor);
}

/** Per-metadata count for a top-up round (`rate` from `yieldRate`), bounded by `maxPerMetadata`. */
export function topUpPerMetadata(
  remaining: number,
  usableMetadata: number,
  rate: number,
  maxPerMetadata: number,
): number {
  if (remaining <= 0 || usableMetadata <= 0) return 0;
  return Math.min(maxPerMetadata, Math.max(1, Math.ceil(remaining / rate / usableMetadata)));
}

/** Instructions in their deterministic dispatch order (round, then index within the metadata, then metadata rank). */
export const inDispatchOrder = <T extends { order: number }>(tasks: readonly T[]): T[] =>
  [...tasks].sort((a, b) => a.order - b.order);

/**
 * Most spares a wave carries, as a share of its members: enough for keep rates down to 0.8 in one wave (a
 * lower rate tops up with the next). A spare that waits is a graph task, a subgraph run of its own: 600
 * spares for 600 members cost 0.2–0.3 ms of CPU per call at concurrency 128.
 */
export const SPARE_SHARE = 0.25;

/**
 * Spares for a wave of `members` (started only once the wave needs them: `WaveGate`): enough to reach
 * `remaining` at the keep rate expected (`rate`: the observed one once anything was filtered, else
 * `expectedKeepRate`), never more than are waiting beyond the members, never more than `SPARE_SHARE` of
 * the members, and never past `limit` for members and spares together.
 */
export function spareCount(
  members: number,
  remaining: number,
  pending: number,
  rate: number,
  limit = Number.POSITIVE_INFINITY,
): number {
  if (members <= 0 || remaining <= 0) return 0;
  const wanted = Math.ceil(remaining / Math.max(rate, 0.01)) - members;
  const share = Math.ceil(members * SPARE_SHARE);
  return Math.max(0, Math.min(wanted, pending - members, Math.max(1, limit) - members, share));
}

/**
 * Whether a metadata's rubrics are written as soon as its first-round decode returns (`rubricsAhead`)
 * rather than when an instruction first needs them. Rubrics serve improvement: the metadata-rubrics row
 * improves every instruction, so there they are always needed; in the full method an instruction needs
 * them only if it is not kept at its first pass. With `count` instructions of the metadata in the round
 * and a first-pass keep rate p, the chance that none needs them is p^count: under 1% at p = 0.6 from 10
 * instructions (the default). Top-up rounds come after the first wave, when rubrics are already being
 * written as needed.
 */
export function writesRubricsAhead(
  config: Pick<CodecConfig, "rubricsAhead" | "ablation" | "maxIterations" | "ablationImprovements">,
  round: number,
  count: number,
): boolean {
  if (round !== 1 || config.rubricsAhead === 0 || !usesRubrics(config.ablation)) return false;
  if (config.ablation === "metadata-rubrics") return config.ablationImprovements > 0;
  return config.maxIterations > 1 && count >= config.rubricsAhead;
}

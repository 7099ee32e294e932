/**
 * What Contrastive Filtering has decided so far, by iteration: from it, the chance that an instruction
 * still being filtered ends kept. Judgments at iteration j keep with rate p_j; an instruction about to be
 * judged at iteration k is kept unless every judgment from k to the cap sends it on:
 * P(k) = 1 - (1 - p_k) ... (1 - p_cap). An iteration judged fewer than `minJudged` times borrows the rate
 * of all judgments so far (judgments at the cap come late in a wave), and with fewer than `minJudged`
 * judgments in all there is no estimate.
 */
/**
 * Judgments seen before the tally estimates anything. The first judgments to come back are not a random
 * sample (in the bench, 1 of the first 10 kept where 6 in 10 did over the run, and all of a wave's spares
 * started at once); 50 held the surplus under 1.5% of the calls in the runs measured (README, "Spares").
 */
export const MIN_JUDGED = 50;

export class JudgeTally {
  private readonly judged: number[] = [];
  private readonly kept: number[] = [];
  private judgedAll = 0;
  private keptAll = 0;

  constructor(private readonly minJudged = MIN_JUDGED) {}

  /** One judgment at `iteration` (1-based): kept, or not (sent to improvement, or dropped at the cap). */
  add(iteration: number, kept: boolean): void {
    this.judged[iteration] = (this.judged[iteration] ?? 0) + 1;
    this.judgedAll += 1;
    if (!kept) return;
    this.kept[iteration] = (this.kept[iteration] ?? 0) + 1;
    this.keptAll += 1;
  }

  /**
   * P(kept by the cap) for an instruction whose next judgment is at `iteration`, with each rate taken `z`
   * standard errors above what was seen (`upperBound`): few judgments make it hopeful, so spares are not
   * started on a noisy early rate. Undefined with too little seen.
   */
  keepOdds(iteration: number, cap: number, z = 0): number | undefined {
    if (this.judgedAll < this.minJudged) return undefined;
    const pooled = upperBound(this.keptAll, this.judgedAll, z);
    let sentOn = 1;
    for (let j = Math.max(1, iteration); j <= cap; j++) {
      const judged = this.judged[j] ?? 0;
      const rate = judged >= this.minJudged ? upperBound(this.kept[j] ?? 0, judged, z) : pooled;
      sentOn *= 1 - rate;
    }
    return 1 - sentOn;
  }
}

/**
 * More spares to start now: `need` kept pairs are wanted from a wave, `kept` ended kept, and `openAt[k]`
 * instructions are still being filtered with their next judgment at iteration k (index 0 unused). The
 * certain shortfall (`need - kept - open`: even if all open ones end kept) is always released; with
 * `odds`, so is the expected one, in whole instructions of the odds of a fresh one (floored, so a spare
 * starts only once the open ones are expected to fall short by at least one kept pair).
 */
export function sparesWanted(
  need: number,
  kept: number,
  openAt: readonly number[],
  odds?: (iteration: number) => number | undefined,
): number {
  const open = openAt.reduce((sum, count) => sum + (count ?? 0), 0);
  const certain = need - kept - open;
  const fresh = odds?.(1);
  if (!odds || fresh === undefined || fresh <= 0) return Math.max(0, certain);
  let expected = kept;
  openAt.forEach((count, iteration) => {
    if (count) expected += count * (odds(iteration) ?? 1);
  });
  return Math.max(0, certain, Math.floor((need - expected) / fresh));
}

/** The Wilson score interval's upper end for `kept` of `judged` at `z` standard errors (z = 0: the plain rate). */
export function upperBound(kept: number, judged: number, z: number): number {
  if (judged === 0) return 1;
  const rate = kept / judged;
  if (z === 0) return rate;
  const z2 = z * z;
  const centre = rate + z2 / (2 * judged);
  const spread = z * Math.sqrt((rate * (1 - rate)) / judged + z2 / (4 * judged * judged));
  return Math.min(1, (centre + spread) / (1 + z2 / judged));
}

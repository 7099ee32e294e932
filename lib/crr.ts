/**
 * The paper's evaluation arithmetic (§5.1–5.3): Vicuna-style pairwise judging, run twice with the answers'
 * positions swapped; the model under test "wins" only when it scores higher in both orders, "loses" only
 * when the reference scores higher in both, and anything else is a tie. CRR = (wins + ties) / total.
 */

/** The two sides of a comparison: the model under test (e.g. the tuned target) and the reference (strong) model. */
export type Side = "model" | "reference";

/** Which answer scored higher in one judgement (one order), or "tie" for equal scores. */
export type OrderVerdict = Side | "tie";

/** The comparison's result from the model under test's point of view. */
export type Outcome = "win" | "tie" | "loss";

/** Items that did not get two judgements: excluded from CRR, but counted and reported. */
export type FailureKind = "judge-failure" | "answer-failure";

export type ItemOutcome = Outcome | FailureKind;

export interface PairScores {
  model: number;
  reference: number;
}

export type ParsedJudgement = { ok: true; first: number; second: number } | { ok: false; error: string };

const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
/** "8 7", "8, 7", "8,7", "8.5 7": two numbers separated by a comma and/or whitespace, nothing else. */
const SCORE_LINE = new RegExp(String.raw`^${NUMBER}\s*(?:,\s*|\s+)${NUMBER}$`);

/**
 * The judge's first line (the Vicuna format): two 1–10 scores, Assistant 1's then Assistant 2's. Blank lines
 * before it and markdown emphasis or backticks around it are tolerated; anything else on the line is malformed.
 */
export function parseJudgement(text: string): ParsedJudgement {
  const line = text
    .split(/\r?\n/)
    .map((candidate) => candidate.trim())
    .find((candidate) => candidate !== "");
  if (line === undefined) return { ok: false, error: "the judgement is empty" };
  const bare = line.replace(/^[*_`\s]+|[*_`\s]+$/g, "");
  const match = SCORE_LINE.exec(bare);
  if (!match) return { ok: false, error: `the first line is not two scores: ${JSON.stringify(line.slice(0, 120))}` };
  const first = Number(match[1]);
  const second = Number(match[2]);
  for (const score of [first, second]) {
    if (score < 1 || score > 10) return { ok: false, error: `score ${score} is outside 1-10: ${JSON.stringify(line)}` };
  }
  return { ok: true, first, second };
}

/** Scores of one judgement mapped back to the sides, given which side was shown first. */
export function scoresBySide(first: number, second: number, shownFirst: Side): PairScores {
  return shownFirst === "model" ? { model: first, reference: second } : { model: second, reference: first };
}

/** Which side one judgement preferred; equal scores are a tie. */
export function orderVerdict(scores: PairScores): OrderVerdict {
  if (scores.model > scores.reference) return "model";
  if (scores.reference > scores.model) return "reference";
  return "tie";
}

/** The wins-twice rule: a side is better only if it wins in both orders; a split or any equal score is a tie. */
export function combineOrders(modelFirst: OrderVerdict, referenceFirst: OrderVerdict): Outcome {
  if (modelFirst === "model" && referenceFirst === "model") return "win";
  if (modelFirst === "reference" && referenceFirst === "reference") return "loss";
  return "tie";
}

/**
 * Position consistency of one item: the two orders agree when they prefer the same side (or both call it
 * even). A judge without position bias agrees with itself on every item.
 */
export const ordersAgree = (modelFirst: OrderVerdict, referenceFirst: OrderVerdict): boolean =>
  modelFirst === referenceFirst;

/** Capacity Recovery Ratio, in [0, 1]; null when nothing was judged. */
export function crr(wins: number, ties: number, total: number): number | null {
  return total > 0 ? (wins + ties) / total : null;
}

export interface Tally {
  wins: number;
  ties: number;
  losses: number;
  /** Judged items: wins + ties + losses, the CRR denominator. */
  total: number;
  crr: number | null;
  judgeFailures: number;
  answerFailures: number;
}

export interface TallyInput {
  outcome: ItemOutcome;
  category?: string;
  /** Whether the two orders agreed; absent when the item was not judged twice. */
  consistent?: boolean;
  /** Which position the judge preferred in each of the item's judgements (for the position-bias count). */
  preferredPositions?: Array<"first" | "second" | "equal">;
}

export interface EvalTotals extends Tally {
  /** Items in the benchmark, failures included. */
  items: number;
  positionConsistency: { consistent: number; judged: number; rate: number | null };
  /** Over every parsed judgement: how often the answer shown first, or second, scored higher. */
  positionPreference: { first: number; second: number; equal: number };
  byCategory: Record<string, Tally>;
}

function emptyTally(): Tally {
  return { wins: 0, ties: 0, losses: 0, total: 0, crr: null, judgeFailures: 0, answerFailures: 0 };
}

function add(tally: Tally, outcome: ItemOutcome): Tally {
  const next = { ...tally };
  if (outcome === "win") next.wins++;
  else if (outcome === "tie") next.ties++;
  else if (outcome === "loss") next.losses++;
  else if (outcome === "judge-failure") next.judgeFailures++;
  else next.answerFailures++;
  next.total = next.wins + next.ties + next.losses;
  next.crr = crr(next.wins, next.ties, next.total);
  return next;
}

/** Wins, ties, losses and CRR overall and per category; failures counted apart, never as ties. */
export function tallyOutcomes(items: readonly TallyInput[]): EvalTotals {
  let overall = emptyTally();
  const byCategory: Record<string, Tally> = {};
  let consistent = 0;
  let judged = 0;
  const positionPreference = { first: 0, second: 0, equal: 0 };
  for (const item of items) {
    overall = add(overall, item.outcome);
    if (item.category !== undefined)
      byCategory[item.category] = add(byCategory[item.category] ?? emptyTally(), item.outcome);
    if (item.consistent !== undefined) {
      judged++;
      if (item.consistent) consistent++;
    }
    for (const preferred of item.preferredPositions ?? []) positionPreference[preferred]++;
  }
  return {
    ...overall,
    items: items.length,
    positionConsistency: { consistent, judged, rate: judged > 0 ? consistent / judged : null },
    positionPreference,
    byCategory,
  };
}

/** Which position a judgement preferred, for the position-bias count. */
export function preferredPosition(first: number, second: number): "first" | "second" | "equal" {
  return first > second ? "first" : second > first ? "second" : "equal";
}

/** A ratio as a percentage with two decimals, as the paper prints CRR; "n/a" for null. */
export function percent(ratio: number | null): string {
  return ratio === null ? "n/a" : `${(ratio * 100).toFixed(2)}%`;
}

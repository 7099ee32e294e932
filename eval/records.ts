import type { BatchCounts, TransportSpend } from "../lib/accounts.js";
import { z } from "zod";
import type { LeakageSummary } from "./leakage.js";
import type { EvalTotals } from "../lib/crr.js";
import type { UsageCounts } from "../lib/records.js";

export const SideSchema = z.enum(["model", "reference"]);
export const OrderVerdictSchema = z.enum(["model", "reference", "tie"]);

/** One judgement: the judge saw the two answers in one order. */
export const JudgementSchema = z.object({
  shownFirst: SideSchema.describe("Whose answer was Assistant 1"),
  raw: z.string().describe("The judge's reply, as written (the last attempt)"),
  attempts: z.number().describe("Judge calls made for this order (more than 1 when a reply was malformed)"),
  scores: z
    .object({ model: z.number(), reference: z.number() })
    .optional()
    .describe("The first line's two scores, mapped back to the sides; absent when no reply could be parsed"),
  verdict: OrderVerdictSchema.optional().describe("The side that scored higher in this order, or tie"),
  error: z.string().optional().describe("Why this order has no scores"),
});
export type Judgement = z.infer<typeof JudgementSchema>;

/** One line of `eval.jsonl`: one benchmark item, both answers, both judgements, and the outcome. */
export const EvalItemSchema = z.object({
  id: z.string(),
  category: z.string().optional(),
  instruction: z.string(),
  answers: z.object({ model: z.string().optional(), reference: z.string().optional() }),
  answerSources: z.object({ model: z.enum(["generated", "file"]), reference: z.enum(["generated", "file"]) }),
  judgements: z.object({ modelFirst: JudgementSchema.optional(), referenceFirst: JudgementSchema.optional() }),
  outcome: z
    .enum(["win", "tie", "loss", "judge-failure", "answer-failure"])
    .describe(
      "From the model under test's side: win = it scored higher in both orders; loss = the reference did; else tie",
    ),
  consistent: z.boolean().optional().describe("Whether both orders preferred the same side (position consistency)"),
  error: z.string().optional().describe("For failures: what went wrong (never contains secrets)"),
});
export type EvalItem = z.infer<typeof EvalItemSchema>;

export const WINS_MEANING =
  "wins: the model under test scored higher than the reference in both answer orders; losses: the reference did; " +
  "ties: anything else (a split decision or an equal score). CRR = (wins + ties) / (wins + ties + losses).";

/** `eval.summary.json`. */
export interface EvalSummary extends EvalTotals {
  kind: "eval";
  winsMeaning: string;
  status: "complete" | "incomplete";
  benchmark: string;
  /** With `--data RUN.jsonl`: the data's seeds left out, and the overlap of what was evaluated with the data. */
  leakage?: LeakageSummary;
  models: { model: string; reference: string; judge: string };
  answers: { model: string; reference: string };
  settings: Record<string, unknown>;
  calls: { byRole: Record<string, UsageCounts>; byStep: Record<string, UsageCounts>; total: UsageCounts };
  /** With `--batch`: paid calls and cost by transport (single, batch), and the batches. */
  batch?: { byTransport: TransportSpend; batches: BatchCounts };
  startedAt: string;
  finishedAt: string;
  wallTimeMs: number;
}

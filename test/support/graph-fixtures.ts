/** Seeds, final-state type and context cast shared by the whole-graph tests. */
import type { CodecConfig, CodecConfigInput } from "../../lib/config.js";
import type { DroppedRecord, KeptPair, Metadata, Seed } from "../../lib/records.js";
import type { RunSummary } from "../../lib/summary.js";

const TOPICS = [
  "Write a haiku about autumn leaves falling on a quiet pond.",
  "Write a Python function that merges two sorted lists.",
  "Explain how compound interest works to a teenager.",
  "Summarise the causes of the French Revolution in five bullet points.",
  "Plan a three-day itinerary for Kyoto on a student budget.",
  "Given monthly sales figures, compute the year-over-year growth.",
  "Draft a polite email declining a meeting invitation.",
  "What is the difference between a list and a tuple in Python?",
  "Argue for and against a four-day work week.",
  "Describe the water cycle for a ten-year-old.",
  "How do I balance a chemical equation? Use combustion of propane.",
  "Write a short mystery story opening set on a night train.",
];
export const seeds = (n: number): Seed[] =>
  TOPICS.slice(0, n).map((instruction, i) => ({ id: `seed-${i}`, instruction }));

export interface FinalState {
  kept: KeptPair[];
  dropped: DroppedRecord[];
  summary: RunSummary;
  stopReason: string;
  pool: Array<Metadata & { id: string; origin: string }>;
  runId: string;
}

/** The compiled graph types `context` as the fully-defaulted config; at run time a partial one is resolved. */
export const asContext = (context: CodecConfigInput) => context as unknown as CodecConfig;

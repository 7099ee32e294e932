import type { ModelRole } from "./records.js";

/**
 * The rows of the paper's Table 3 (ablation, LLaMA-7B target, Evol-Instruct), each a way to run `generate`:
 * - `no-metadata`: Self-Instruct-style generation from seed examples, answered by the strong model, all kept;
 * - `metadata-only`: encode → pool → decode, answered by the strong model, no improvement, no filtering;
 * - `metadata-rubrics`: as metadata-only, but every basic instruction is first improved by Self-Rubrics
 *   actions a fixed number of times (`ablationImprovements`); no filtering;
 * - `full`: CodecLM (Contrastive Filtering decides what is kept and what is improved).
 */
export const ABLATIONS = ["no-metadata", "metadata-only", "metadata-rubrics", "full"] as const;
export type Ablation = (typeof ABLATIONS)[number];

export interface AblationRow {
  ablation: Ablation;
  /** The paper's name for the row. */
  label: string;
  /** The paper's CRR (%) for the row: LLaMA-7B target, Gemini-Pro strong, Evol-Instruct, 2000 pairs. */
  paperCrr: number;
}

export const TABLE3: readonly AblationRow[] = [
  { ablation: "no-metadata", label: "Self-Instruct style (no metadata, rubrics or filtering)", paperCrr: 72.02 },
  { ablation: "metadata-only", label: "+ Metadata", paperCrr: 75.23 },
  { ablation: "metadata-rubrics", label: "+ Self-Rubrics", paperCrr: 77.52 },
  { ablation: "full", label: "+ Contrastive Filtering (CodecLM)", paperCrr: 79.82 },
];

/** Rows 2–4 encode seeds into metadata and decode instructions from the pool. */
export const usesMetadata = (ablation: Ablation): boolean => ablation !== "no-metadata";

/** Rows 3–4 generate rubrics and actions per metadata. */
export const usesRubrics = (ablation: Ablation): boolean => ablation === "metadata-rubrics" || ablation === "full";

/** Only the full method filters: elsewhere the strong model's answer is kept as is, with no judge and no target. */
export const filters = (ablation: Ablation): boolean => ablation === "full";

/** The model roles a row calls. */
export const rolesFor = (ablation: Ablation): ModelRole[] =>
  filters(ablation) ? ["strong", "target", "judge"] : ["strong"];

/**
 * Inside the instruction subgraph, for rows without filtering: improve (metadata-rubrics, until the fixed
 * number of improvements is applied) or accept the instruction as it stands.
 */
export function unfilteredStep(
  ablation: Ablation,
  improvementsApplied: number,
  improvements: number,
): "action-apply" | "accept" {
  return ablation === "metadata-rubrics" && improvementsApplied < improvements ? "action-apply" : "accept";
}

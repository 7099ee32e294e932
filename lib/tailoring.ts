/**
 * How well generated data is tailored to the target distribution (the point of CodecLM; the paper's
 * Figure 4 relates metadata matching to CRR): the Jensen–Shannon divergence, base 2 so it lies in [0, 1],
 * between the use-case (and the skill) distribution of the reference — the seeds' encoded metadata, or
 * the user's — and that of the kept data or of the pool; and the share of the reference's use cases and
 * skills they cover. Names compare case-insensitively, as the pool's metadata keys do.
 */
import type { Metadata, PoolEntry } from "./records.js";

/** Counts by name; normalized to probabilities where needed. */
export type Counts = Readonly<Record<string, number>>;

export interface TailoringMeasure {
  /** JS divergence (base 2) of the use-case distributions: 0 identical, 1 disjoint; null when either side is empty. */
  useCaseDivergence: number | null;
  skillDivergence: number | null;
  /** Share of the reference's distinct use cases (skills) that occur at least once. */
  useCaseCoverage: number | null;
  skillCoverage: number | null;
  /** Metadata counted on this side (kept pairs, or pool entries). */
  items: number;
}

export interface Tailoring extends TailoringMeasure {
  /** What the data is compared with: the seeds' encoded metadata, or the user's metadata. */
  reference: "seeds" | "user";
  /** The same measures for the metadata pool (each entry once). */
  pool: TailoringMeasure;
}

const round = (value: number) => Math.round(value * 1e6) / 1e6;

function lowerKeys(counts: Counts): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, count] of Object.entries(counts)) {
    const key = name.trim().toLowerCase();
    if (key === "" || !(count > 0)) continue;
    out.set(key, (out.get(key) ?? 0) + count);
  }
  return out;
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);

/** Jensen–Shannon divergence in bits between two count tables (normalized here); null when either is empty. */
export function jensenShannon(p: Counts, q: Counts): number | null {
  const pc = lowerKeys(p);
  const qc = lowerKeys(q);
  const pTotal = total(pc);
  const qTotal = total(qc);
  if (pTotal === 0 || qTotal === 0) return null;
  let divergence = 0;
  for (const key of new Set([...pc.keys(), ...qc.keys()])) {
    const pk = (pc.get(key) ?? 0) / pTotal;
    const qk = (qc.get(key) ?? 0) / qTotal;
    const mk = (pk + qk) / 2;
    if (pk > 0) divergence += (pk / 2) * Math.log2(pk / mk);
    if (qk > 0) divergence += (qk / 2) * Math.log2(qk / mk);
  }
  return round(Math.min(1, Math.max(0, divergence)));
}

/** Share of the reference's distinct names that `observed` holds at least once; null for an empty reference. */
export function coverageShare(reference: Counts, observed: Counts): number | null {
  const wanted = lowerKeys(reference);
  if (wanted.size === 0) return null;
  const seen = lowerKeys(observed);
  let covered = 0;
  for (const key of wanted.keys()) if (seen.has(key)) covered++;
  return round(covered / wanted.size);
}

/** Use-case and skill counts of metadata, each item weighted by `weight` (default 1). */
export function metadataCounts(items: ReadonlyArray<{ metadata: Metadata; weight?: number }>): {
  useCases: Record<string, number>;
  skills: Record<string, number>;
  items: number;
} {
  const useCases: Record<string, number> = {};
  const skills: Record<string, number> = {};
  let count = 0;
  for (const { metadata, weight = 1 } of items) {
    if (!(weight > 0)) continue;
    count += weight;
    useCases[metadata.useCase] = (useCases[metadata.useCase] ?? 0) + weight;
    for (const skill of metadata.skills) skills[skill] = (skills[skill] ?? 0) + weight;
  }
  return { useCases, skills, items: count };
}

interface Side {
  useCases: Counts;
  skills: Counts;
  items: number;
}

export function measureTailoring(reference: Side, observed: Side): TailoringMeasure {
  return {
    useCaseDivergence: jensenShannon(reference.useCases, observed.useCases),
    skillDivergence: jensenShannon(reference.skills, observed.skills),
    useCaseCoverage: coverageShare(reference.useCases, observed.useCases),
    skillCoverage: coverageShare(reference.skills, observed.skills),
    items: observed.items,
  };
}

/**
 * Tailoring of a run: the kept pairs' metadata (counted once per kept pair, through `keptByMetadata`, pool
 * id -> pairs kept) and the pool's, against the reference's use cases and skills.
 */
export function runTailoring(
  reference: Side & { source: "seeds" | "user" },
  pool: readonly PoolEntry[],
  keptByMetadata: Counts,
): Tailoring {
  const byId = new Map(pool.map((entry) => [entry.id, entry]));
  const kept = Object.entries(keptByMetadata).flatMap(([id, weight]) => {
    const entry = byId.get(id);
    return entry ? [{ metadata: entry, weight }] : [];
  });
  const poolSide = metadataCounts(pool.map((metadata) => ({ metadata })));
  return {
    reference: reference.source,
    ...measureTailoring(reference, metadataCounts(kept)),
    pool: measureTailoring(reference, poolSide),
  };
}

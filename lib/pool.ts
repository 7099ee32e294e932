import type { Metadata, PoolEntry } from "./records.js";
import { type Rng, randomInt, sampleWithoutReplacement } from "./rng.js";

/** What encode produced for one seed. */
export interface EncodedSeed {
  seedId: string;
  useCase: string;
  skills: string[];
}

const collapse = (text: string) => text.replace(/\s+/g, " ").trim();

/** Trim, drop empty and repeated (case-insensitive) skills, keep at most `skillsMax`. */
export function normalizeMetadata(metadata: Metadata, skillsMax: number): Metadata {
  const seen = new Set<string>();
  const skills: string[] = [];
  for (const raw of metadata.skills) {
    const skill = collapse(raw);
    const key = skill.toLowerCase();
    if (skill === "" || seen.has(key)) continue;
    seen.add(key);
    skills.push(skill);
  }
  return { useCase: collapse(metadata.useCase), skills: skills.slice(0, skillsMax) };
}

/** Identity of a metadata regardless of letter case and skill order. */
export function metadataKey(metadata: Metadata): string {
  const skills = metadata.skills.map((skill) => skill.toLowerCase()).sort();
  return `${metadata.useCase.toLowerCase()}|${skills.join("|")}`;
}

/** The seeds' own metadata, identical ones merged (their seed ids pooled), in first-seen order. */
export function seedEntries(encoded: readonly EncodedSeed[], skillsMax: number): PoolEntry[] {
  const byKey = new Map<string, PoolEntry>();
  for (const item of encoded) {
    const metadata = normalizeMetadata(item, skillsMax);
    if (metadata.useCase === "" || metadata.skills.length === 0) continue;
    const key = metadataKey(metadata);
    const existing = byKey.get(key);
    if (existing) {
      if (!existing.seedIds.includes(item.seedId)) existing.seedIds.push(item.seedId);
    } else {
      byKey.set(key, { id: "", origin: "seed", seedIds: [item.seedId], ...metadata });
    }
  }
  return [...byKey.values()];
}

export interface MixSource {
  /** One entry per seed: sampling from it follows the seeds' use-case distribution. */
  useCases: Array<{ useCase: string; seedId: string }>;
  /** Distinct skills (case-insensitive) with the seeds that named them. */
  skills: Map<string, { skill: string; seedIds: string[] }>;
}

export function mixSource(encoded: readonly EncodedSeed[], skillsMax: number): MixSource {
  const useCases: MixSource["useCases"] = [];
  const skills: MixSource["skills"] = new Map();
  for (const item of encoded) {
    const metadata = normalizeMetadata(item, skillsMax);
    if (metadata.useCase !== "") useCases.push({ useCase: metadata.useCase, seedId: item.seedId });
    for (const skill of metadata.skills) {
      const key = skill.toLowerCase();
      const entry = skills.get(key) ?? { skill, seedIds: [] };
      if (!entry.seedIds.includes(item.seedId)) entry.seedIds.push(item.seedId);
      skills.set(key, entry);
    }
  }
  return { useCases, skills };
}

/**
 * App. A.3 mix-and-match: one use case sampled from the seeds' use cases (so frequent use cases stay
 * frequent), paired with 1..skillsMax skills sampled without replacement from the union of all seeds'
 * skills. Candidates whose key is in `taken` (or repeats within this batch) are skipped, so the result
 * may hold fewer than `count` when the space is small.
 */
export function mixAndMatch(
  source: MixSource,
  options: { count: number; skillsMax: number; rng: Rng; taken: ReadonlySet<string>; maxTries?: number },
): PoolEntry[] {
  const { count, skillsMax, rng } = options;
  const skillList = [...source.skills.values()];
  if (source.useCases.length === 0 || skillList.length === 0 || count <= 0) return [];
  const taken = new Set(options.taken);
  const out: PoolEntry[] = [];
  const maxTries = options.maxTries ?? count * 20;
  for (let tries = 0; out.length < count && tries < maxTries; tries++) {
    const pick = source.useCases[Math.floor(rng() * source.useCases.length)]!;
    const skillCount = randomInt(rng, 1, Math.min(skillsMax, skillList.length));
    const skills = sampleWithoutReplacement(rng, skillList, skillCount);
    const metadata: Metadata = { useCase: pick.useCase, skills: skills.map((entry) => entry.skill) };
    const key = metadataKey(metadata);
    if (taken.has(key)) continue;
    taken.add(key);
    const seedIds = new Set<string>([pick.seedId]);
    for (const entry of skills) seedIds.add(entry.seedIds[0]!);
    out.push({ id: "", origin: "augmented", seedIds: [...seedIds], ...metadata });
  }
  return out;
}

/** Give pool entries their final ids `m0`, `m1`, … in pool order. */
export function numberPool(entries: readonly PoolEntry[]): PoolEntry[] {
  return entries.map((entry, index) => ({ ...entry, id: `m${index}` }));
}

/** One plausibility verdict as the model wrote it: `index` is the candidate's 1-based line in its batch. */
export interface PoolVerdict {
  index: number;
  plausible: boolean;
  reason: string;
}

/**
 * Unambiguous repairs of a plausibility reply for a batch of `lines` candidates: a reply numbered from 0
 * (it uses 0 and not `lines`) is shifted to the prompt's 1-based lines, and a verdict repeated word for
 * word is kept once. A reply that uses both 0 and `lines` (which numbering?) or gives one line two
 * different verdicts is a problem: the reply is asked for again. Indexes are integers in 0..lines here
 * (the validating schema's range); afterwards every index is in 1..lines.
 */
export function repairVerdicts(
  verdicts: readonly PoolVerdict[],
  lines: number,
): { verdicts: PoolVerdict[] } | { problem: string } {
  const indexes = verdicts.map((verdict) => verdict.index);
  let repaired = [...verdicts];
  if (indexes.includes(0)) {
    if (indexes.includes(lines))
      return { problem: `line numbers run from 0 to ${lines}: lines are numbered 1 to ${lines}` };
    repaired = repaired.map((verdict) => ({ ...verdict, index: verdict.index + 1 }));
  }
  const byLine = new Map<number, boolean>();
  const conflicts = new Set<number>();
  const unique: PoolVerdict[] = [];
  for (const verdict of repaired) {
    const earlier = byLine.get(verdict.index);
    if (earlier === undefined) unique.push(verdict);
    else if (earlier !== verdict.plausible) conflicts.add(verdict.index);
    byLine.set(verdict.index, verdict.plausible);
  }
  if (conflicts.size > 0)
    return { problem: `two different verdicts for line(s) ${[...conflicts].sort((a, b) => a - b).join(", ")}` };
  return { verdicts: unique };
}

/** Each line's verdict, and the lines (1-based) the reply left out. */
export function verdictsByLine(
  verdicts: readonly PoolVerdict[],
  lines: number,
): { byLine: Map<number, PoolVerdict>; missing: number[] } {
  const byLine = new Map<number, PoolVerdict>();
  for (const verdict of verdicts) if (!byLine.has(verdict.index)) byLine.set(verdict.index, verdict);
  const missing = Array.from({ length: lines }, (_, k) => k + 1).filter((line) => !byLine.has(line));
  return { byLine, missing };
}

/** `skills:N` counts of the pool's metadata by how many skills they name (for `poolStats`). */
export function skillCounts(entries: readonly Metadata[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const entry of entries)
    counts[`skills:${entry.skills.length}`] = (counts[`skills:${entry.skills.length}`] ?? 0) + 1;
  return counts;
}

/** What the summary says about how the pool was made. */
export interface PoolMakeup {
  /** Metadata in the pool by origin. */
  seed: number;
  augmented: number;
  user: number;
  /** Mixed candidates judged implausible, and those the check could not judge (failed calls, malformed or missing verdicts). */
  rejected: number;
  failed: number;
  /** Mixed candidates sent to the plausibility check. */
  checked: number;
  requested: number;
  size: number;
  /** Metadata by number of skills: {"1": n, "2": n, "3": n}. */
  skillsPerMetadata: Record<string, number>;
  /** "off" or "partly off" when the plausibility check failed for at least the alert share of candidates. */
  mixAndMatch: "on" | "partly off" | "off" | "not used";
  /** Why mix-and-match was (partly) off, in words. */
  warning?: string;
}

/**
 * The pool's make-up from `poolStats`. Mix-and-match is "off" or "partly off" (with a warning) when the
 * plausibility check could not judge at least `alertShare` of the mixed candidates and the pool was left
 * short of its requested size because of it.
 */
export function poolMakeup(stats: Readonly<Record<string, number>>, alertShare: number): PoolMakeup {
  const n = (key: string) => stats[key] ?? 0;
  const skillsPerMetadata: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats))
    if (key.startsWith("skills:")) skillsPerMetadata[key.slice("skills:".length)] = value;
  const makeup: PoolMakeup = {
    seed: n("seedMetadata"),
    augmented: n("augmented"),
    user: n("user"),
    rejected: n("implausible"),
    failed: n("checkFailed"),
    checked: n("checked"),
    requested: n("requested") || n("size"),
    size: n("size"),
    skillsPerMetadata,
    mixAndMatch: n("user") > 0 || n("checked") + n("augmented") === 0 ? "not used" : "on",
  };
  // Failed candidates replaced by fresh ones until the pool is full change nothing in its distribution:
  // only a pool left short (or without any mixed metadata) is reported.
  const short = makeup.size < makeup.requested;
  if (makeup.checked === 0 || makeup.failed === 0 || makeup.failed / makeup.checked < alertShare || !short)
    return makeup;
  const malformed = n("checkMalformed");
  const causes = [
    malformed > 0 ? `${malformed} malformed or incomplete replies` : "",
    makeup.failed - malformed > 0 ? `${makeup.failed - malformed} failed calls` : "",
  ].filter(Boolean);
  makeup.mixAndMatch = makeup.augmented === 0 ? "off" : "partly off";
  makeup.warning =
    `mix-and-match was ${makeup.mixAndMatch}: the plausibility check failed for ${makeup.failed} of ${makeup.checked} mixed candidates ` +
    `(${causes.join(", ")}; the errors are in the dropped file, step pool-check), so the pool holds ` +
    (makeup.augmented === 0
      ? `only the seeds' own metadata (${makeup.size} of ${makeup.requested} requested)`
      : `${makeup.augmented} mixed and ${makeup.seed} seed metadata (${makeup.size} of ${makeup.requested} requested)`);
  return makeup;
}

/**
 * Candidates to draw for a plausibility round that should yield `needed` metadata: `spare` more (a share of
 * `needed`), rounded up to whole batches, so that a few rejections do not cost another round of calls (one
 * more call in the time of a whole round); plausible ones past `needed` are checked and left out. With no
 * spare, exactly `needed`.
 */
export function candidatesToCheck(needed: number, batchSize: number, spare: number): number {
  if (needed <= 0 || spare === 0) return Math.max(0, needed);
  const wanted = Math.ceil(needed * (1 + spare));
  return Math.ceil(wanted / batchSize) * batchSize;
}

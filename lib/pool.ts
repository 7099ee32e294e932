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

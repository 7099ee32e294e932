/**
 * A reviewed metadata pool (the paper's authors checked the mixed-and-matched pool by hand): the entries a
 * person kept, edited or added, turned back into a pool. An entry that keeps its id keeps its origin and
 * seeds; an entry without an id is new and the person's own (`user`). Pure: readers (io/metadata.ts) check
 * each entry's fields and say where a problem is.
 */
import { metadataKey, skillCounts } from "./pool.js";
import type { Metadata, PoolEntry } from "./records.js";
import type { InstructionTask } from "./tasks.js";

/** One entry as read from the review (a line of the pool file, or an item of the resumed pool). */
export interface ReviewedEntry {
  metadata: Metadata;
  id?: string;
  origin?: PoolEntry["origin"];
  seedIds?: string[];
  /** Where it came from (a line, an item number), for problems. */
  line: number;
}

/** A problem with one entry of the review: its line and what is wrong. */
export class ReviewProblem extends Error {
  constructor(
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function nextFreeId(used: Set<string>, from: number): { id: string; next: number } {
  let next = from;
  while (used.has(`m${next}`)) next++;
  return { id: `m${next}`, next: next + 1 };
}

/** The pool a review holds, in its order, and how many entries are new; repeated ids or metadata and an empty review are problems. */
export function reviewedPool(entries: readonly ReviewedEntry[]): { pool: PoolEntry[]; added: number } {
  if (entries.length === 0)
    throw new ReviewProblem(undefined, "the reviewed pool is empty: keep at least one metadata");
  const used = new Set<string>();
  const byKey = new Map<string, number>();
  for (const entry of entries) {
    if (entry.id !== undefined && used.has(entry.id))
      throw new ReviewProblem(entry.line, `id "${entry.id}" is used twice; remove the id of a new metadata`);
    if (entry.id !== undefined) used.add(entry.id);
    const key = metadataKey(entry.metadata);
    const earlier = byKey.get(key);
    if (earlier !== undefined)
      throw new ReviewProblem(entry.line, `the same use case and skills as line ${earlier}; remove one of them`);
    byKey.set(key, entry.line);
  }
  let next = 0;
  const pool = entries.map((entry): PoolEntry => {
    if (entry.id !== undefined)
      return { id: entry.id, origin: entry.origin ?? "user", seedIds: entry.seedIds ?? [], ...entry.metadata };
    const fresh = nextFreeId(used, next);
    next = fresh.next;
    used.add(fresh.id);
    return { id: fresh.id, origin: "user", seedIds: [], ...entry.metadata };
  });
  return { pool, added: entries.filter((entry) => entry.id === undefined).length };
}

/**
 * The pool's stats after a review: what build-pool counted (candidates checked, rejected, failed), with the
 * make-up of the reviewed pool by origin and skills. The size asked for becomes the reviewed size: a pool
 * a person cut is not a pool mix-and-match left short (`reviewedFrom` keeps the size before the review).
 */
export function reviewedStats(
  before: Readonly<Record<string, number>>,
  reviewed: { pool: readonly PoolEntry[]; added: number },
): Record<string, number> {
  const kept = Object.fromEntries(Object.entries(before).filter(([key]) => !key.startsWith("skills:")));
  const { pool, added } = reviewed;
  const origin = (name: PoolEntry["origin"]) => pool.filter((entry) => entry.origin === name).length;
  return {
    ...kept,
    seedMetadata: origin("seed"),
    augmented: origin("augmented"),
    // New lines are "user" metadata, but only a pool of the user's own says mix-and-match was not used.
    user: (before.user ?? 0) > 0 ? origin("user") : 0,
    reviewedFrom: before.size ?? 0,
    reviewedAdded: added,
    requested: pool.length,
    size: pool.length,
    ...skillCounts(pool),
  };
}

/** One metadata per line of the pool file, as the review reads it back. */
export function poolFileLine(entry: PoolEntry): string {
  return JSON.stringify({
    id: entry.id,
    useCase: entry.useCase,
    skills: entry.skills,
    origin: entry.origin,
    seedIds: entry.seedIds,
  });
}

/** Basic instructions of one metadata, shown for a look after decode (`reviewInstructions`). */
export interface InstructionSample {
  metadataId: string;
  useCase: string;
  skills: string[];
  instructions: string[];
}

/** Up to `perMetadata` of the decoded basic instructions of each metadata, metadata in first-decoded order. */
export function instructionSamples(decoded: readonly InstructionTask[], perMetadata: number): InstructionSample[] {
  const byMetadata = new Map<string, InstructionSample>();
  for (const task of decoded) {
    const sample = byMetadata.get(task.metadataId) ?? {
      metadataId: task.metadataId,
      useCase: task.metadata.useCase,
      skills: task.metadata.skills,
      instructions: [],
    };
    byMetadata.set(task.metadataId, sample);
    if (sample.instructions.length < perMetadata) sample.instructions.push(task.basicInstruction);
  }
  return [...byMetadata.values()];
}

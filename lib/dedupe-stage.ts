import { NearDuplicateIndex, type NearDuplicateMatch } from "./dedupe.js";

interface StagedItem {
  text: string;
  /** Every other staged item it nearly repeats (ROUGE-L is symmetric: recorded on both). */
  repeats: NearDuplicateMatch[];
  /** The earliest entry of the run's index it nearly repeats, as the index stood when it was staged. */
  before?: { index: NearDuplicateIndex; size: number; match: NearDuplicateMatch | undefined };
  /** An index entry that is no repeat of it (a kept pair's own basic instruction). */
  ignore?: string;
}

/**
 * Near-duplicate checks done while items arrive, in whatever order their model calls end (a wave's
 * improved instructions, as their filtering ends), and settled afterwards in the seeded order with exactly
 * the result of checking them in that order. The work moves off the run's critical path: checked in order
 * at collect, it ran after the wave's last call, with no call in flight.
 *
 * Checked in order, an item is dropped when it nearly repeats an entry of the run's index: what the index
 * held before, or an item kept earlier in the same pass; the earliest such entry is the one named. Staged,
 * each item is compared on arrival with every item staged before it (all its repeats, kept both ways) and,
 * once the run's index is ready, with the index as it stands then. Settling walks the items in order: an
 * item repeats the index entry found on arrival (found again if the index has grown since), else the
 * earliest item kept so far in the walk among its repeats. Entries from before the walk precede the walk's
 * in the index, and kept items enter it in walk order, so the entry named is the in-order check's.
 */
export class DedupeStage {
  private among: NearDuplicateIndex;
  private items = new Map<string, StagedItem>();

  constructor(private readonly threshold: number) {
    this.among = new NearDuplicateIndex(threshold);
  }

  /** Compare `text` with everything staged and, if given, with the run's `index` (ignoring its entry `ignore`). */
  stage(id: string, text: string, index: NearDuplicateIndex | undefined, ignore?: string): void {
    if (!this.among.enabled || this.items.has(id)) return;
    const item: StagedItem = { text, repeats: [], ...(ignore === undefined ? {} : { ignore }) };
    if (index) item.before = { index, size: index.size, match: index.find(text, ignore) };
    for (const repeat of this.among.addReturningRepeats(id, text)) {
      item.repeats.push(repeat);
      this.items.get(repeat.of)?.repeats.push({ of: id, similarity: repeat.similarity });
    }
    this.items.set(id, item);
  }

  /** Forget what was staged. */
  clear(): void {
    this.among = new NearDuplicateIndex(this.threshold);
    this.items = new Map();
  }

  /**
   * The in-order walk over `items` (every item the walk may check, with its text) on `index`, before
   * anything is added to it; undefined when the stage does not cover them (an item not staged, or staged
   * with another text): the caller then checks in order itself.
   */
  settle(items: Iterable<{ id: string; text: string }>, index: NearDuplicateIndex): StagedWalk | undefined {
    const before = new Map<string, NearDuplicateMatch | undefined>();
    for (const { id, text } of items) {
      const item = this.items.get(id);
      if (!item || item.text !== text) return undefined;
      const staged = item.before;
      const current = staged && staged.index === index && staged.size === index.size;
      before.set(id, current ? staged.match : index.find(text, item.ignore));
    }
    return new StagedWalk(this.items, before);
  }
}

/** One in-order pass over staged items: `find` each in order, and say which are `kept`. */
export class StagedWalk {
  /** Items kept so far: the index entry each became, in walk order. */
  private readonly kept = new Map<string, { entry: string; rank: number }>();

  constructor(
    private readonly items: ReadonlyMap<string, StagedItem>,
    private readonly before: ReadonlyMap<string, NearDuplicateMatch | undefined>,
  ) {}

  /** The entry the item nearly repeats: one from before the walk, else the earliest item kept in it. */
  find(id: string): NearDuplicateMatch | undefined {
    const earlier = this.before.get(id);
    if (earlier) return earlier;
    let found: { rank: number; match: NearDuplicateMatch } | undefined;
    for (const repeat of this.items.get(id)?.repeats ?? []) {
      const kept = this.kept.get(repeat.of);
      if (kept && (!found || kept.rank < found.rank))
        found = { rank: kept.rank, match: { of: kept.entry, similarity: repeat.similarity } };
    }
    return found?.match;
  }

  /** The item was kept, entering the run's index as `entry`: later items that repeat it are dropped. */
  keep(id: string, entry: string): void {
    if (!this.kept.has(id)) this.kept.set(id, { entry, rank: this.kept.size });
  }
}

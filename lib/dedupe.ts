/**
 * Near-duplicate detection by ROUGE-L, as self-instruct filters its generated instructions, made fast
 * enough for tens of thousands of instructions without giving up exactness.
 *
 * ROUGE-L's F-measure of two token sequences is 2·LCS / (|a| + |b|). The LCS is never longer than the
 * multiset overlap of the tokens, so ROUGE-L > t implies a unigram Dice overlap > t, which implies a
 * Jaccard overlap > t / (2 − t). Pairs that pass that Jaccard bound share at least one token among the
 * rarest few of each ("prefix filtering", as in all-pairs similarity joins): an inverted index finds
 * every candidate from the new text's rarest tokens, and only candidates get the exact overlap and LCS
 * checks. The result is exactly what comparing every pair would give, at a small fraction of the work.
 */

/** Lower-cased words and numbers; CJK characters one token each (they are not space-separated). */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|[\p{L}\p{N}]+/gu) ?? [];
}

/** Length of the longest common subsequence of two sequences (two rows of the DP table). */
export function lcsLength<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  if (a.length === 0 || b.length === 0) return 0;
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  let previous = new Uint32Array(short.length + 1);
  let current = new Uint32Array(short.length + 1);
  for (let i = 1; i <= long.length; i++) {
    const item = long[i - 1];
    for (let j = 1; j <= short.length; j++) {
      current[j] = item === short[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[short.length]!;
}

/** ROUGE-L F1 of two token sequences: 2·LCS / (|a| + |b|); 0 when both are empty. */
export function rougeL<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  const total = a.length + b.length;
  return total === 0 ? 0 : (2 * lcsLength(a, b)) / total;
}

/** ROUGE-L F1 of two texts, tokenized as above. */
export const rougeLText = (a: string, b: string): number => rougeL(tokenize(a), tokenize(b));

export interface DedupeItem {
  id: string;
  text: string;
  /** A reference (a seed, an instruction already sent to filtering) is compared against, never dropped. */
  reference?: boolean;
}

export interface NearDuplicateMatch {
  /** The earlier item it nearly repeats. */
  of: string;
  /** Their ROUGE-L F1. */
  similarity: number;
}

export interface NearDuplicate extends NearDuplicateMatch {
  /** The dropped item. */
  id: string;
}

/** Elements `(token id, k-th occurrence)` encoded in one number, so a multiset becomes a set. */
const OCCURRENCES = 1 << 20;

/** Growable typed storage: every entry's tokens live in one array, not one small array each. */
class Pool<T extends Uint32Array | Float64Array> {
  length = 0;
  constructor(public data: T) {}
  push(values: ArrayLike<number>): void {
    if (this.length + values.length > this.data.length) {
      const grown = new (this.data.constructor as new (size: number) => T)(
        Math.max(1024, 2 * (this.length + values.length)),
      );
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(values, this.length);
    this.length += values.length;
  }
}

/**
 * Every instruction of a run so far, as tokens, for exact ROUGE-L near-duplicate queries: new text
 * against everything added, in time that grows with the few entries sharing its rarest tokens, not with
 * the run. Memory is the tokens (ids, not text): a few tens of bytes per word.
 *
 * Entries are indexed under every element; a query probes only its own prefix, the elements rarest in
 * the index so far. That is enough: a pair past the Jaccard bound shares at least `minOverlap` elements,
 * and at most `minOverlap − 1` of the query's elements lie outside its prefix. The document frequencies
 * change as the index grows, which is why stored entries are not reduced to prefixes.
 */
export class NearDuplicateIndex {
  private readonly jaccard: number;
  private readonly vocabulary = new Map<string, number>();
  private readonly postings = new Map<number, number[]>();
  private readonly positions = new Map<string, number>();
  private readonly ids: string[] = [];
  /** Entry i's tokens (for the LCS) and its elements sorted by value (for the overlap), at offsets[i]..offsets[i+1]. */
  private readonly sequences = new Pool(new Uint32Array(0));
  private readonly elements = new Pool(new Float64Array(0));
  private offsets = new Uint32Array(1024);
  private stamps = new Int32Array(1024);
  /** Prefix elements each candidate shares with the current query. */
  private hits = new Int32Array(1024);
  private stamp = 0;

  /** ROUGE-L F1 strictly above `threshold` is a near-duplicate; 1 or more turns the filter off (nothing is stored). */
  constructor(readonly threshold: number) {
    const t = Math.max(0, threshold);
    this.jaccard = t / (2 - t);
  }

  get enabled(): boolean {
    return this.threshold < 1;
  }

  /** Entries stored. */
  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.positions.has(id);
  }

  /** The earliest entry (other than `ignore`) that `text` nearly repeats, if any. */
  find(text: string, ignore?: string): NearDuplicateMatch | undefined {
    if (!this.enabled) return undefined;
    const query = this.encode(tokenize(text), false);
    return query ? this.search(query, ignore, 1)[0] : undefined;
  }

  /** Store `text` under `id` whatever it repeats (a seed, a reference). A known id is left as it is. */
  add(id: string, text: string): void {
    if (!this.enabled || this.positions.has(id)) return;
    const query = this.encode(tokenize(text), true);
    if (query) this.store(id, query);
  }

  /**
   * Store `text` under `id` unless it nearly repeats an entry; return that entry. An id already stored
   * is not a repeat of itself (a resumed run meets instructions it already holds).
   */
  addUnlessDuplicate(id: string, text: string): NearDuplicate | undefined {
    if (!this.enabled || this.positions.has(id)) return undefined;
    const query = this.encode(tokenize(text), true);
    if (!query) return undefined;
    const match = this.search(query, undefined, 1)[0];
    if (match) return { ...match, id };
    this.store(id, query);
    return undefined;
  }

  /** Every entry `text` nearly repeats, earliest first; then store `text` under `id` whatever it repeats. */
  addReturningRepeats(id: string, text: string): NearDuplicateMatch[] {
    if (!this.enabled || this.positions.has(id)) return [];
    const query = this.encode(tokenize(text), true);
    if (!query) return [];
    const repeats = this.search(query, undefined, Number.POSITIVE_INFINITY);
    this.store(id, query);
    return repeats;
  }

  /** Token ids in text order and elements sorted by value; undefined for text with no token. */
  private encode(tokens: string[], grow: boolean): { sequence: Uint32Array; elements: Float64Array } | undefined {
    if (tokens.length === 0) return undefined;
    const sequence = new Uint32Array(tokens.length);
    const counts = new Map<number, number>();
    const elements = new Float64Array(tokens.length);
    tokens.forEach((token, k) => {
      let id = this.vocabulary.get(token);
      if (id === undefined) {
        // A token never seen matches nothing; in a query it gets an id no entry holds.
        id = grow ? this.vocabulary.size : this.vocabulary.size + k;
        if (grow) this.vocabulary.set(token, id);
      }
      sequence[k] = id;
      const occurrence = counts.get(id) ?? 0;
      counts.set(id, occurrence + 1);
      elements[k] = id * OCCURRENCES + Math.min(occurrence, OCCURRENCES - 1);
    });
    elements.sort();
    return { sequence, elements };
  }

  /** The first `limit` entries (earliest first) that the query nearly repeats. */
  private search(
    query: { sequence: Uint32Array; elements: Float64Array },
    ignore: string | undefined,
    limit: number,
  ): NearDuplicateMatch[] {
    const { elements, sequence } = query;
    const size = elements.length;
    const minOverlap = Math.max(1, Math.ceil(this.jaccard * size - 1e-9));
    const prefixLength = size - minOverlap + 1;
    const candidates = this.sharingAny(this.rarest(elements, prefixLength));
    const ignored = ignore === undefined ? -1 : (this.positions.get(ignore) ?? -1);
    // The overlap is at most the prefix elements an entry shares plus every element outside the prefix:
    // entries that share too few of the rare ones cannot reach the threshold (most candidates stop here).
    const outside = size - prefixLength;
    const { offsets, hits, jaccard, threshold } = this;
    const survivors: number[] = [];
    for (let k = 0; k < candidates.length; k++) {
      const position = candidates[k]!;
      const otherSize = offsets[position + 1]! - offsets[position]!;
      if (position === ignored || otherSize < jaccard * size - 1e-9 || size < jaccard * otherSize - 1e-9) continue;
      if ((2 * (hits[position]! + outside)) / (size + otherSize) > threshold) survivors.push(position);
    }
    // The earliest entry wins, as comparing in order would give.
    survivors.sort((a, b) => a - b);
    const repeats: NearDuplicateMatch[] = [];
    for (const position of survivors) {
      const from = this.offsets[position]!;
      const to = this.offsets[position + 1]!;
      const otherSize = to - from;
      const other = this.elements.data.subarray(from, to);
      // Unigram Dice bounds ROUGE-L from above: only pairs past it get the LCS.
      if ((2 * overlap(elements, other)) / (size + otherSize) <= this.threshold) continue;
      const similarity = rougeL(sequence, this.sequences.data.subarray(from, to));
      if (similarity <= this.threshold) continue;
      repeats.push({ of: this.ids[position]!, similarity });
      if (repeats.length >= limit) break;
    }
    return repeats;
  }

  /** The query's `count` rarest elements (fewest entries hold them; unknown ones first), ties by value. */
  private rarest(elements: Float64Array, count: number): Float64Array {
    const size = elements.length;
    // Sorted as numbers, frequency × size + i orders by frequency, then by i: by value, as `elements` is sorted.
    const keys = new Float64Array(size);
    for (let i = 0; i < size; i++) keys[i] = (this.postings.get(elements[i]!)?.length ?? 0) * size + i;
    keys.sort();
    const prefix = new Float64Array(count);
    for (let p = 0; p < count; p++) prefix[p] = elements[keys[p]! % size]!;
    return prefix;
  }

  /** Every entry holding one of `prefix`'s elements, once; `hits` says how many it holds. */
  private sharingAny(prefix: Float64Array): number[] {
    if (++this.stamp === 0x7fffffff) {
      this.stamps.fill(0);
      this.stamp = 1;
    }
    const { stamps, hits, stamp } = this;
    const candidates: number[] = [];
    for (let p = 0; p < prefix.length; p++) {
      const holders = this.postings.get(prefix[p]!);
      if (!holders) continue;
      for (let k = 0; k < holders.length; k++) {
        const position = holders[k]!;
        if (stamps[position] !== stamp) {
          stamps[position] = stamp;
          hits[position] = 0;
          candidates.push(position);
        }
        hits[position]!++;
      }
    }
    return candidates;
  }

  private store(id: string, query: { sequence: Uint32Array; elements: Float64Array }): void {
    const position = this.ids.length;
    this.ids.push(id);
    this.positions.set(id, position);
    this.sequences.push(query.sequence);
    this.elements.push(query.elements);
    if (position + 2 > this.offsets.length) {
      const offsets = new Uint32Array(this.offsets.length * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const stamps = new Int32Array(this.stamps.length * 2);
      stamps.set(this.stamps);
      this.stamps = stamps;
      this.hits = new Int32Array(this.stamps.length);
    }
    this.offsets[position + 1] = this.sequences.length;
    for (const element of query.elements) {
      const bucket = this.postings.get(element);
      if (bucket) bucket.push(position);
      else this.postings.set(element, [position]);
    }
  }
}

/**
 * Walk `items` in the order given; an item whose ROUGE-L F1 with any earlier item (reference or kept)
 * exceeds `threshold` is a near-duplicate and is not compared against later. A threshold of 1 or more
 * drops nothing. Deterministic: the result depends only on the items and their order.
 */
export function findNearDuplicates(items: readonly DedupeItem[], threshold: number): NearDuplicate[] {
  const index = new NearDuplicateIndex(threshold);
  const duplicates: NearDuplicate[] = [];
  for (const item of items) {
    if (item.reference) {
      index.add(item.id, item.text);
      continue;
    }
    const match = index.addUnlessDuplicate(item.id, item.text);
    if (match) duplicates.push(match);
  }
  return duplicates;
}

/** Size of the intersection of two sorted arrays of distinct elements. */
function overlap(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let count = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      count++;
      i++;
      j++;
    } else if (a[i]! < b[j]!) i++;
    else j++;
  }
  return count;
}

/** The id under which a kept pair's final (improved) instruction is stored, beside its basic one. */
export const finalInstructionId = (pairId: string): string => `${pairId}:final`;

/** What a kept pair adds to a run's index: its basic instruction under its id, and its final one when improved. */
export function addKeptPair(
  index: NearDuplicateIndex,
  pair: { id: string; instruction: string; lineage?: { basicInstruction?: string } },
): void {
  const basic = pair.lineage?.basicInstruction ?? pair.instruction;
  index.add(pair.id, basic);
  if (pair.instruction.trim() !== basic.trim()) index.add(finalInstructionId(pair.id), pair.instruction);
}

/**
 * What a dropped record adds to a run's index: an instruction that went to filtering (kept past the size,
 * dropped at the iteration cap, failed, or a kept pair whose final instruction repeated another) counts
 * with its basic instruction. A near-duplicate dropped before filtering never entered the index.
 */
export function addDroppedRecord(
  index: NearDuplicateIndex,
  record: {
    id: string;
    kind: string;
    reason: string;
    instruction?: string;
    lineage?: { basicInstruction?: string; iterations?: unknown[] };
  },
): void {
  if (record.kind !== "instruction") return;
  const filtered = (record.lineage?.iterations?.length ?? 0) > 0;
  if (record.reason === "near-duplicate" && !filtered) return;
  const basic = record.lineage?.basicInstruction ?? record.instruction;
  if (basic !== undefined) index.add(record.id, basic);
}

/**
 * Near-duplicate detection by ROUGE-L, as self-instruct filters its generated instructions, made fast
 * enough for tens of thousands of instructions without giving up exactness.
 *
 * ROUGE-L's F-measure of two token sequences is 2·LCS / (|a| + |b|). The LCS is never longer than the
 * multiset overlap of the tokens, so ROUGE-L > t implies a unigram Dice overlap > t, which implies a
 * Jaccard overlap > t / (2 − t). Pairs that pass that Jaccard bound share at least one token among the
 * rarest few of each ("prefix filtering", as in all-pairs similarity joins): an inverted index over
 * those prefixes finds every candidate, and only candidates get the exact overlap and LCS checks. The
 * result is exactly what comparing every pair would give, at a small fraction of the work.
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

export interface NearDuplicate {
  /** The dropped item. */
  id: string;
  /** The earlier item it nearly repeats. */
  of: string;
  /** Their ROUGE-L F1. */
  similarity: number;
}

interface Entry {
  id: string;
  /** Token ids in text order (for the LCS). */
  sequence: Uint32Array;
  /** Multiset elements (token id, occurrence), sorted by the global order: rarest token first. */
  elements: Float64Array;
}

/** Elements `(token rank, k-th occurrence)` encoded in one number; ordering them orders by rarity first. */
const OCCURRENCES = 1 << 20;

/**
 * Walk `items` in the order given; an item whose ROUGE-L F1 with any earlier item (reference or kept)
 * exceeds `threshold` is a near-duplicate and is not compared against later. A threshold of 1 or more
 * drops nothing. Deterministic: the result depends only on the items and their order.
 */
export function findNearDuplicates(items: readonly DedupeItem[], threshold: number): NearDuplicate[] {
  if (threshold >= 1 || items.length < 2) return [];
  const tokens = items.map((item) => tokenize(item.text));

  // Global order: rarest token first (ties by the token itself), so prefixes hold rare tokens.
  const frequency = new Map<string, number>();
  for (const list of tokens) for (const token of list) frequency.set(token, (frequency.get(token) ?? 0) + 1);
  const ranked = [...frequency.keys()].sort((a, b) => frequency.get(a)! - frequency.get(b)! || (a < b ? -1 : a > b ? 1 : 0));
  const rank = new Map(ranked.map((token, index) => [token, index]));

  const jaccard = Math.max(0, threshold) / (2 - Math.max(0, threshold));
  const minOverlap = (size: number) => Math.max(1, Math.ceil(jaccard * size - 1e-9));
  const prefixLength = (size: number) => size - minOverlap(size) + 1;

  const index = new Map<number, number[]>();
  const kept: Entry[] = [];
  const seen = new Int32Array(items.length).fill(-1);
  const duplicates: NearDuplicate[] = [];

  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const list = tokens[i]!;
    if (list.length === 0) continue; // nothing to compare: never a duplicate, never matched
    const sequence = Uint32Array.from(list, (token) => rank.get(token)!);
    const counts = new Map<number, number>();
    const elements = new Float64Array(sequence.length);
    sequence.forEach((id, k) => {
      const occurrence = counts.get(id) ?? 0;
      counts.set(id, occurrence + 1);
      elements[k] = id * OCCURRENCES + Math.min(occurrence, OCCURRENCES - 1);
    });
    elements.sort();
    const entry: Entry = { id: item.id, sequence, elements };
    const size = elements.length;
    const prefix = prefixLength(size);

    let match: { of: string; similarity: number } | undefined;
    for (let p = 0; p < prefix && !match; p++) {
      for (const other of index.get(elements[p]!) ?? []) {
        if (seen[other] === i) continue;
        seen[other] = i;
        const candidate = kept[other]!;
        const otherSize = candidate.elements.length;
        if (otherSize < jaccard * size - 1e-9 || size < jaccard * otherSize - 1e-9) continue;
        // Unigram Dice bounds ROUGE-L from above: only pairs past it get the LCS.
        if ((2 * overlap(elements, candidate.elements)) / (size + otherSize) <= threshold) continue;
        const similarity = rougeL(sequence, candidate.sequence);
        if (similarity > threshold) {
          match = { of: candidate.id, similarity };
          break;
        }
      }
    }
    if (match && !item.reference) {
      duplicates.push({ id: item.id, ...match });
      continue;
    }
    const position = kept.push(entry) - 1;
    for (let p = 0; p < prefix; p++) {
      const key = elements[p]!;
      const bucket = index.get(key);
      if (bucket) bucket.push(position);
      else index.set(key, [position]);
    }
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

/**
 * ROUGE-L F1 written from its definition (longest common subsequence of lower-cased word tokens), sharing no
 * code with lib/dedupe.ts, so that tests of the near-duplicate filter have an oracle of their own. Tokens are
 * maximal runs of letters and digits (for the ASCII-and-Latin texts the tests use; the implementation also
 * splits CJK per character, which this oracle does not model).
 */
export function oracleTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function oracleRougeL(a: string, b: string): number {
  const ta = oracleTokens(a);
  const tb = oracleTokens(b);
  if (ta.length === 0 || tb.length === 0) return 0;
  let previous = new Array<number>(tb.length + 1).fill(0);
  for (const x of ta) {
    const current = [0];
    for (let j = 1; j <= tb.length; j++)
      current[j] = x === tb[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    previous = current;
  }
  const lcs = previous[tb.length]!;
  // F1 of precision lcs/|b| and recall lcs/|a| is 2·lcs / (|a| + |b|).
  return (2 * lcs) / (ta.length + tb.length);
}

/** Pairs whose ROUGE-L F1 was worked out by hand (LCS in the comment). */
export const HAND_COMPUTED_ROUGE_L: Array<[string, string, number]> = [
  ["the cat sat down", "the black cat sat still", 6 / 9], // "the cat sat": 2·3/(4+5)
  ["a b c d", "a b c e", 6 / 8], // "a b c": 2·3/(4+4)
  ["Write a short poem about the sea at night", "Write a short poem about the sea at dawn", 16 / 18], // 8 of 9 words
  ["one two three", "three two one", 2 / 6], // any single word
  ["explain how a hash map works", "Please explain how a hash map works.", 12 / 13], // 6 words, lengths 6 and 7
  ["A-B, c!", "a b c", 1], // punctuation splits, case folds
  ["x y z", "!!", 0], // no tokens on one side
  ["red green blue", "yellow purple", 0], // nothing in common
];

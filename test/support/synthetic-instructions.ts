import { createRng, pickOne, randomInt } from "../../lib/rng.js";

const OPENERS = [
  "Write",
  "Explain",
  "Describe",
  "Summarise",
  "Compare",
  "List",
  "Create",
  "Design",
  "Analyse",
  "Draft",
];
const GLUE = ["a", "the", "of", "for", "and", "with", "to", "in", "about", "that", "how", "why", "your", "on", "using"];

/**
 * `count` instruction-like texts with a Zipf-like vocabulary, of which about `duplicateRate` are
 * light edits (a word or two swapped or added) of an earlier one: a stand-in for decoded instructions.
 */
export function syntheticInstructions(
  count: number,
  options: { seed?: number; duplicateRate?: number; vocabulary?: number } = {},
): string[] {
  const rng = createRng(options.seed ?? 1, "synthetic-instructions");
  const vocabulary = Array.from({ length: options.vocabulary ?? 6000 }, (_, k) => `w${k.toString(36)}`);
  const zipf = () => vocabulary[Math.min(vocabulary.length - 1, Math.floor(Math.pow(rng(), 2.2) * vocabulary.length))]!;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    if (out.length > 0 && rng() < (options.duplicateRate ?? 0.1)) {
      const words = pickOne(rng, out).split(" ");
      const edits = randomInt(rng, 1, 2);
      for (let e = 0; e < edits; e++) words[randomInt(rng, 0, words.length - 1)] = zipf();
      if (rng() < 0.5) words.push(pickOne(rng, GLUE), zipf());
      out.push(words.join(" "));
      continue;
    }
    const words = [pickOne(rng, OPENERS)];
    const length = randomInt(rng, 10, 40);
    while (words.length < length) words.push(rng() < 0.35 ? pickOne(rng, GLUE) : zipf());
    out.push(words.join(" "));
  }
  return out;
}

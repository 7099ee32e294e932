/**
 * Blocks that untrusted text (an instruction, a model's answer) cannot close or forge. Each block starts and ends
 * with a marker line carrying a boundary code that occurs in none of the texts, so no text can write a real marker:
 * an answer that closes "its" block and writes a fake scoring request stays inside its block.
 *
 * The code is derived from a hash of the texts (not Math.random): the same texts give the same prompt, so a resumed
 * run finds its judge calls in the call journal, which keys calls by their messages. An answer cannot aim at the code
 * either: the code depends on the answer's own bytes and on the other answer, which it never sees.
 */
import { createHash } from "node:crypto";

/** One block: the label on its markers (`ANSWER 1`) and its text. */
export interface BlockInput {
  label: string;
  text: string;
}

export interface DelimitedBlocks {
  /** The code on every marker line of this prompt. */
  boundary: string;
  /** Each input text wrapped in its markers, in input order. */
  wrapped: string[];
}

const CODE_LENGTH = 16;

export const beginMarker = (label: string, boundary: string): string => `<<<BEGIN ${label} ${boundary}>>>`;
export const endMarker = (label: string, boundary: string): string => `<<<END ${label} ${boundary}>>>`;

/** Candidate codes for these texts: 16 hex digits from SHA-256 of the texts and the attempt number. */
export function boundaryCandidate(texts: readonly string[], attempt: number): string {
  return createHash("sha256")
    .update(JSON.stringify([attempt, ...texts]))
    .digest("hex")
    .slice(0, CODE_LENGTH);
}

/**
 * The first candidate that occurs in none of the texts (case-insensitively). A collision needs a text holding
 * 16 hex digits that match its own hash; the loop only makes the guarantee unconditional.
 */
export function chooseBoundary(
  texts: readonly string[],
  candidate: (texts: readonly string[], attempt: number) => string = boundaryCandidate,
): string {
  const haystacks = texts.map((text) => text.toLowerCase());
  for (let attempt = 0; attempt < 1000; attempt++) {
    const code = candidate(texts, attempt);
    if (code !== "" && !haystacks.some((text) => text.includes(code.toLowerCase()))) return code;
  }
  throw new Error("no block boundary found that occurs in none of the texts");
}

/** Wraps each text in its markers; every block of one prompt shares one boundary. */
export function delimitBlocks(blocks: readonly BlockInput[]): DelimitedBlocks {
  const boundary = chooseBoundary(blocks.flatMap((block) => [block.label, block.text]));
  return {
    boundary,
    wrapped: blocks.map(({ label, text }) => `${beginMarker(label, boundary)}\n${text}\n${endMarker(label, boundary)}`),
  };
}

/**
 * The blocks of a prompt, by label, for whoever reads a prompt back (test doubles, tools). The boundary is the one
 * on the prompt's first begin marker, which comes before any untrusted text in every built-in prompt; only
 * markers with that code count. Undefined when the prompt has no blocks.
 */
export function readBlocks(prompt: string): Map<string, string> | undefined {
  const first = /^<<<BEGIN [A-Z0-9 ]+ ([0-9a-f]+)>>>$/m.exec(prompt);
  if (!first) return undefined;
  const boundary = first[1]!;
  const blocks = new Map<string, string>();
  const begin = new RegExp(`^<<<BEGIN ([A-Z0-9 ]+) ${boundary}>>>$`, "gm");
  for (let match = begin.exec(prompt); match; match = begin.exec(prompt)) {
    const label = match[1]!;
    const start = match.index + match[0].length + 1;
    const end = prompt.indexOf(`\n${endMarker(label, boundary)}`, start - 1);
    if (end < 0) continue;
    blocks.set(label, prompt.slice(start, Math.max(start, end)));
    begin.lastIndex = end;
  }
  return blocks;
}

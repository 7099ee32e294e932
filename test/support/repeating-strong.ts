/**
 * A strong model that repeats itself, as real ones do when asked for many instructions: a share of the
 * instructions in each decode (or self-instruct) reply are earlier instructions again, word for word or
 * lightly edited, taken from earlier replies (other metadata, earlier rounds) or from earlier in the same
 * reply. Optionally, action-apply "improves" an instruction into another, earlier one. Everything else is
 * the scripted CodecLM responder, so the whole pipeline runs; the model records what it repeated.
 */
import { codecReply, hashText } from "./codec-responder.js";
import { ScriptedChatModel } from "./scripted-model.js";

export interface Repeat {
  text: string;
  of: string;
  kind: "exact" | "near";
  /** The repeated instruction came from an earlier reply (another call: another metadata or round). */
  acrossCalls: boolean;
}

export interface RepeatingOptions {
  /** Share of each reply's instructions that are repeats (rounded per reply). Default 0.3. */
  share?: number;
  /** Share of action-apply calls answered with an earlier instruction of another call. Default 0. */
  improvedShare?: number;
}

const isDecode = (prompt: string) => prompt.includes("diverse instructions that a user might give");
const isSelfInstruct = (prompt: string) => prompt.includes("Here are examples of instructions that users give");
const isActionApply = (prompt: string) => prompt.includes("Rewrite an instruction for an AI assistant");

/** FNV-1a's low bits follow the characters' parity: mix before taking bits. */
function mixed(text: string): number {
  let h = hashText(text);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A light edit: ROUGE-L with the original stays far above 0.7 for instructions of a dozen words or more. */
const nearly = (text: string) => `${text.toLowerCase()} in more detail`;

export function repeatingModels(options: RepeatingOptions = {}) {
  const share = options.share ?? 0.3;
  const improvedShare = options.improvedShare ?? 0;
  /** Instructions written as new, by any earlier reply. */
  const written: string[] = [];
  const repeats: Repeat[] = [];
  const improvedRepeats: string[] = [];

  const repeatSome = (prompt: string, list: string[]): string[] => {
    const count = Math.round(share * list.length);
    const originals = list.length - count;
    const out = list.slice(0, originals);
    for (let k = originals; k < list.length; k++) {
      const h = mixed(`${prompt}\u0000${k}`);
      // Earlier replies when there are any (every other repeat), else earlier in this reply.
      const fromEarlier = written.length > 0 && (h % 2 === 0 || originals === 0);
      if (!fromEarlier && originals === 0) {
        out.push(list[k]!);
        continue;
      }
      const of = fromEarlier ? written[(h >>> 1) % written.length]! : out[(h >>> 1) % originals]!;
      // A word-for-word repeat is possible only of what the prompt does not already list (decode drops those itself).
      const exact = fromEarlier && mixed(`${prompt}\u0000${k}\u0000exact`) % 2 === 0 && !prompt.includes(of) && !out.includes(of);
      let text = exact ? of : nearly(of);
      // Two repeats of one instruction in one reply must still differ (decode drops exact twins itself).
      if (out.some((item) => item.toLowerCase() === text.toLowerCase())) text = `${nearly(of)} please`;
      out.push(text);
      repeats.push({ text, of, kind: exact ? "exact" : "near", acrossCalls: fromEarlier });
    }
    written.push(...list.slice(0, originals));
    return out;
  };

  const strong = new ScriptedChatModel((prompt) => {
    if (isActionApply(prompt) && written.length > 0 && (mixed(prompt) % 1000) / 1000 < improvedShare) {
      const instruction = /Instruction:\s*(.*)/.exec(prompt)?.[1]?.trim() ?? "";
      const other = written[mixed(`${prompt}\u0000other`) % written.length]!;
      if (!instruction.includes(other)) {
        improvedRepeats.push(other);
        return { instruction: other };
      }
    }
    const value = codecReply("strong", prompt);
    if ((isDecode(prompt) || isSelfInstruct(prompt)) && typeof value === "object" && Array.isArray(value.instructions)) {
      return { instructions: repeatSome(prompt, value.instructions as string[]) };
    }
    return value;
  });
  const target = new ScriptedChatModel((prompt) => codecReply("target", prompt));
  return { models: { strong, target }, repeats, improvedRepeats, written };
}

/**
 * A strong model that repeats itself, as real ones do when asked for many instructions: a share of the
 * instructions in each decode (or self-instruct) reply are earlier instructions again, word for word or
 * lightly edited, taken from earlier replies (top-up rounds repeat the first round's instructions of any
 * metadata) or from earlier in the same reply. Optionally, action-apply "improves" an instruction into another, earlier one. Everything else is
 * the scripted CodecLM responder, so the whole pipeline runs; the model records what it repeated.
 */
import { createHash } from "node:crypto";
import { codecReply } from "./codec-responder.js";
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

/** A well-mixed hash (FNV-1a's low bits follow the characters' parity; these prompts differ in a few words). */
const mixed = (text: string): number => createHash("sha256").update(text).digest().readUInt32BE(0);

/** Light edits: ROUGE-L with the original stays far above 0.7 for instructions of a dozen words or more. */
const NEAR_EDITS = ["in more detail", "step by step", "briefly please", "for a beginner", "with an example"];
const nearly = (text: string, edit: string) => `${text.toLowerCase()} ${edit}`;

export function repeatingModels(options: RepeatingOptions = {}) {
  const share = options.share ?? 0.3;
  const improvedShare = options.improvedShare ?? 0;
  /** Instructions written as new, by any earlier reply. */
  const written: string[] = [];
  const repeats: Repeat[] = [];
  const improvedRepeats: string[] = [];
  /** Every prompt, both roles, in the order the calls were made. */
  const log: string[] = [];

  /** First-round decode replies: all are in before any top-up round starts, so top-ups repeat them whatever the call order. */
  const firstRound: string[] = [];

  const repeatSome = (prompt: string, list: string[]): string[] => {
    const topUp = isDecode(prompt) && prompt.includes("written earlier");
    // Decode repeats only the first round (sorted): the same run repeats the same instructions. Self-instruct
    // prompts do not say their round, so it repeats anything written before.
    const earlier = isDecode(prompt) ? (topUp ? [...firstRound].sort() : []) : written;
    const count = Math.round(share * list.length);
    const originals = list.length - count;
    const out = list.slice(0, originals);
    for (let k = originals; k < list.length; k++) {
      const h = mixed(`${prompt}\u0000${k}`);
      // Earlier replies when there are any (every other repeat), else earlier in this reply.
      const fromEarlier = earlier.length > 0 && (h % 2 === 0 || originals === 0);
      if (!fromEarlier && originals === 0) {
        out.push(list[k]!);
        continue;
      }
      const of = fromEarlier ? earlier[(h >>> 1) % earlier.length]! : out[(h >>> 1) % originals]!;
      // A word-for-word repeat is possible only of what the prompt does not already list (decode drops those itself).
      // Never what the prompt lists or this reply already holds: decode drops exact twins itself.
      const taken = (text: string) =>
        prompt.toLowerCase().includes(text.toLowerCase()) ||
        out.some((item) => item.toLowerCase() === text.toLowerCase());
      const exact = fromEarlier && mixed(`${prompt}\u0000${k}\u0000exact`) % 2 === 0 && !taken(of);
      const text = exact ? of : NEAR_EDITS.map((edit) => nearly(of, edit)).find((variant) => !taken(variant));
      if (text === undefined) {
        out.push(list[k]!);
        continue;
      }
      out.push(text);
      repeats.push({ text, of, kind: exact ? "exact" : "near", acrossCalls: fromEarlier });
    }
    written.push(...list.slice(0, originals));
    if (isDecode(prompt) && !topUp) firstRound.push(...list.slice(0, originals));
    return out;
  };

  const strong = new ScriptedChatModel((prompt) => {
    log.push(prompt);
    if (isActionApply(prompt) && firstRound.length > 0 && (mixed(prompt) % 1000) / 1000 < improvedShare) {
      const instruction = /Instruction:\s*(.*)/.exec(prompt)?.[1]?.trim() ?? "";
      const sources = [...firstRound].sort();
      const other = sources[mixed(`${prompt}\u0000other`) % sources.length]!;
      if (!instruction.includes(other)) {
        improvedRepeats.push(other);
        return { instruction: other };
      }
    }
    const value = codecReply("strong", prompt);
    if (
      (isDecode(prompt) || isSelfInstruct(prompt)) &&
      typeof value === "object" &&
      Array.isArray(value.instructions)
    ) {
      return { instructions: repeatSome(prompt, value.instructions as string[]) };
    }
    return value;
  });
  const target = new ScriptedChatModel((prompt) => {
    log.push(prompt);
    return codecReply("target", prompt);
  });
  return { models: { strong, target }, repeats, improvedRepeats, written, log };
}

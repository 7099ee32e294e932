/**
 * A scripted stand-in for the strong and target models that understands each CodecLM prompt and answers
 * deterministically from the prompt's text alone (so results do not depend on call order under fan-out).
 * Judge scores follow a hash of the instruction, so one run sees every outcome: kept at iteration 1,
 * kept after improvements, reverse-kept, and dropped at the cap.
 */
import { readBlocks } from "../../prompts/delimit.js";

export type ScriptedRole = "strong" | "target";

export function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const lineAfter = (text: string, label: string): string => {
  const match = new RegExp(`${label}\\s*(.*)`).exec(text);
  return match?.[1]?.trim() ?? "";
};

const USE_CASES = ["creative writing", "code generation", "general knowledge QA", "financial advice", "data analysis"];
const SKILLS = ["storytelling", "python", "statistics", "personal finance", "history", "algorithms", "persuasion", "chemistry"];

/** Words that make each decoded instruction read differently (the near-duplicate filter looks at the text). */
const TOPIC_WORDS = Array.from({ length: 128 }, (_, k) => `topic${k.toString(36)}`);
const TOPIC_MARK = " about ";

/** Sixteen words drawn from the prompt and the instruction's index; ignored when the judge scores. */
function topicOf(prompt: string, index: number): string {
  let state = hashText(`${prompt}\u0000${index}`);
  const words: string[] = [];
  for (let i = 0; i < 16; i++) {
    state = Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5;
    words.push(TOPIC_WORDS[(state >>> 0) % TOPIC_WORDS.length]!);
  }
  return `${TOPIC_MARK}${words.join(" ")}`;
}

/** Scores (strong, target) the judge gives an instruction; the mix below yields every outcome. */
export function scriptedScores(instruction: string): { strong: number; target: number } {
  const bucket = hashText(instruction.replace(/ about topic[0-9a-z]+(?: topic[0-9a-z]+){15}/, "")) % 10;
  if (bucket <= 4) return { strong: 9, target: 3 }; // gap 6: keep the strong answer
  if (bucket === 5) return { strong: 2, target: 8 }; // gap -6: keep the target's
  return { strong: 6, target: 5 }; // gap 1: improve
}

export interface ScriptOptions {
  /** Judge bias toward whichever answer is shown first (tests that swapping averages it out). */
  positionBias?: number;
}

/** The reply for one prompt: a JSON value for structured steps, text for answers. */
export function codecReply(role: ScriptedRole, prompt: string, options: ScriptOptions = {}): string | Record<string, unknown> {
  if (prompt.includes("You analyse instructions")) {
    const instruction = prompt.slice(prompt.lastIndexOf("Instruction:") + "Instruction:".length).trim();
    const h = hashText(instruction);
    const skills = [SKILLS[h % SKILLS.length]!, SKILLS[(h >>> 3) % SKILLS.length]!, SKILLS[(h >>> 6) % SKILLS.length]!];
    return { use_case: USE_CASES[h % USE_CASES.length]!, skills: [...new Set(skills)] };
  }
  if (prompt.includes("combined at random")) {
    const lines = prompt.split("\n").filter((line) => /^\d+\. use case:/.test(line));
    return {
      verdicts: lines.map((line) => {
        const index = Number(line.split(".")[0]);
        // "history" with "python" stands in for an implausible pair.
        const plausible = !(line.includes("history") && line.includes("python"));
        return { index, plausible, reason: plausible ? "fits" : "contrived" };
      }),
    };
  }
  if (prompt.includes("diverse instructions that a user might give")) {
    const count = Number(/Write (\d+) diverse/.exec(prompt)?.[1] ?? "1");
    const useCase = lineAfter(prompt, "- Use case:");
    const skills = lineAfter(prompt, "- Skills the instructions must require:");
    const round = prompt.includes("written earlier") ? 2 : 1; // earlier instructions are listed in top-up rounds
    return {
      instructions: Array.from(
        { length: count },
        (_, k) => `Task ${k + 1}.${round} for ${useCase} using ${skills} (${hashText(prompt) % 997})${topicOf(prompt, k)}`,
      ),
    };
  }
  if (prompt.includes("Here are examples of instructions that users give")) {
    const count = Number(/Write (\d+) new instructions/.exec(prompt)?.[1] ?? "1");
    return {
      instructions: Array.from({ length: count }, (_, k) => `Self-instructed task ${k + 1} (${hashText(prompt) % 9973})${topicOf(prompt, k)}`),
    };
  }
  if (prompt.includes("rubrics: specific criteria")) {
    const count = Number(/First write (\d+) rubrics/.exec(prompt)?.[1] ?? "4");
    const useCase = lineAfter(prompt, "The instructions have this use case:");
    return {
      rubrics: Array.from({ length: count }, (_, k) => `rubric ${k + 1} for ${useCase}`),
      actions: Array.from({ length: count }, (_, k) => `action ${k + 1} for ${useCase}`),
    };
  }
  if (prompt.includes("Rewrite an instruction for an AI assistant")) {
    const instruction = lineAfter(prompt, "Instruction:");
    const action = lineAfter(prompt, "Apply this action to it:");
    return { instruction: `${instruction} [harder: ${action}]` };
  }
  const judged = readBlocks(prompt);
  if (judged?.has("ANSWER 1")) {
    const instruction = judged.get("INSTRUCTION") ?? "";
    const first = judged.get("ANSWER 1") ?? "";
    const scores = scriptedScores(instruction);
    const bias = options.positionBias ?? 0;
    const firstIsStrong = first.startsWith("[strong]");
    const assistant1 = Math.min(10, (firstIsStrong ? scores.strong : scores.target) + bias);
    const assistant2 = firstIsStrong ? scores.target : scores.strong;
    return { assistant1, assistant2 };
  }
  return `[${role}] answer to: ${prompt.slice(0, 120)}`;
}

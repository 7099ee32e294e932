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
const SKILLS = [
  "storytelling",
  "python",
  "statistics",
  "personal finance",
  "history",
  "algorithms",
  "persuasion",
  "chemistry",
];

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
export function codecReply(
  role: ScriptedRole,
  prompt: string,
  options: ScriptOptions = {},
): string | Record<string, unknown> {
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
        (_, k) =>
          `Task ${k + 1}.${round} for ${useCase} using ${skills} (${hashText(prompt) % 997})${topicOf(prompt, k)}`,
      ),
    };
  }
  if (prompt.includes("Here are examples of instructions that users give")) {
    const count = Number(/Write (\d+) new instructions/.exec(prompt)?.[1] ?? "1");
    return {
      instructions: Array.from(
        { length: count },
        (_, k) => `Self-instructed task ${k + 1} (${hashText(prompt) % 9973})${topicOf(prompt, k)}`,
      ),
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

// ---------------------------------------------------------------------------------------------------------------
// Adversarial mode: the ways real models misbehave, chosen per test. The default `codecReply` is unchanged.
// ---------------------------------------------------------------------------------------------------------------

export type VerdictFault = "missing" | "zero-based" | "duplicate" | "float" | "string";
export type ScoreFault = "out-of-range" | "string";

export interface AdversarialOptions extends ScriptOptions {
  /**
   * Share of decoded (and self-instructed) instructions that repeat an earlier one instead of being new: an
   * instruction listed in the prompt as written earlier (same metadata, earlier rounds), or one of a few
   * stock instructions every metadata may write (other metadata, any round). Deterministic per prompt.
   */
  repeatRate?: number;
  /** Repeats word for word ("exact"), with one word added ("near"), or both. Default "both". */
  repeatKind?: "exact" | "near" | "both";
  /** Repeats instructions listed as written earlier ("earlier"), stock instructions ("stock"), or both. Default "both". */
  repeatFrom?: "earlier" | "stock" | "both";
  /** Broken plausibility-check replies, cycled over the misbehaving prompts. */
  verdicts?: VerdictFault[];
  /** Rubric generation returns half as many actions as rubrics. */
  fewerActions?: boolean;
  /** Action-apply returns the instruction unchanged (or with only its whitespace changed). */
  unchangedImprovements?: boolean;
  /** Answers that are empty or only whitespace. */
  emptyAnswers?: boolean;
  /** Judge replies with scores outside 1-10 or given as strings, cycled. */
  scores?: ScoreFault[];
  /** Share of eligible prompts that misbehave (by a hash of the prompt). Default 0.5. */
  rate?: number;
  /** How many attempts at one misbehaving prompt go wrong before a good reply. Default 1; Infinity: always. */
  badAttempts?: number;
}

/** Instructions any metadata may "write again": the cross-metadata repeats. */
export const STOCK_INSTRUCTIONS = [
  "Explain step by step how a hash map handles collisions and when it has to grow its table of buckets.",
  "Write a short persuasive paragraph asking a neighbour to keep their dog quiet during the night.",
  "Summarise the main arguments for and against nuclear power in a balanced way for a school debate.",
];

const nearCopy = (text: string) => `Please ${text.charAt(0).toLowerCase()}${text.slice(1)}`;

export interface Adversary {
  reply(role: ScriptedRole, prompt: string): string | Record<string, unknown>;
  /** What the adversary did, by behaviour: how many replies misbehaved. */
  readonly counts: Record<string, number>;
}

/** Instructions the decode prompt lists as written earlier (top-up rounds). */
function earlierInstructions(prompt: string): string[] {
  const start = prompt.indexOf("written earlier:");
  if (start < 0) return [];
  const lines = prompt.slice(start).split("\n").slice(1);
  const out: string[] = [];
  for (const line of lines) {
    const match = /^\s*(?:-|\d+[.)])\s+(.*)$/.exec(line);
    if (!match) {
      if (out.length > 0) break;
      continue;
    }
    out.push(match[1]!.trim());
  }
  return out;
}

function brokenVerdicts(fault: VerdictFault, good: Array<{ index: number; plausible: boolean; reason: string }>) {
  switch (fault) {
    case "missing":
      return good.slice(0, -1);
    case "zero-based":
      return good.map((verdict) => ({ ...verdict, index: verdict.index - 1 }));
    case "duplicate":
      // every line once, then line 1 again with the opposite verdict
      return [...good, { ...good[0]!, plausible: !good[0]!.plausible, reason: "on second thought" }];
    case "float":
      return good.map((verdict, k) => (k === 0 ? { ...verdict, index: verdict.index + 0.5 } : verdict));
    case "string":
      return good.map((verdict) => ({ ...verdict, index: String(verdict.index) }));
  }
}

/**
 * A stateful responder that misbehaves as configured and otherwise answers as `codecReply`. Its choices depend
 * only on the prompt text and on how many times that prompt was asked, so they do not depend on call order.
 */
export function createAdversary(options: AdversarialOptions = {}): Adversary {
  const rate = options.rate ?? 0.5;
  const badAttempts = options.badAttempts ?? 1;
  const attempts = new Map<string, number>();
  const counts: Record<string, number> = {};
  const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
  const selected = (key: string) => hashText(`adversary\u0000${key}`) % 1000 < rate * 1000;
  let attempt = 0;
  const misbehaves = (role: ScriptedRole, prompt: string) =>
    selected(`${role}\u0000${prompt}`) && attempt <= badAttempts;
  const repeatRate = options.repeatRate ?? 0;
  const repeatKind = options.repeatKind ?? "both";

  // A retry of the same prompt draws other repeats, as a sampling model would.
  const withRepeats = (prompt: string, instructions: string[]): string[] => {
    if (repeatRate <= 0) return instructions;
    const earlier = earlierInstructions(prompt);
    const used = new Set<string>(); // one reply does not hold the same instruction twice
    return instructions.map((text, k) => {
      const h = hashText(`repeat\u0000${attempt}\u0000${prompt}\u0000${k}`);
      if (h % 1000 >= repeatRate * 1000) return text;
      const near = repeatKind === "near" || (repeatKind === "both" && ((h >>> 11) & 1) === 1);
      const from = options.repeatFrom ?? "both";
      if (from === "earlier" && earlier.length === 0) return text;
      const fromEarlier = earlier.length > 0 && (from === "earlier" || (from === "both" && ((h >>> 10) & 1) === 0));
      const source = fromEarlier
        ? earlier[(h >>> 12) % earlier.length]!
        : STOCK_INSTRUCTIONS[(h >>> 12) % STOCK_INSTRUCTIONS.length]!;
      if (used.has(source)) return text;
      used.add(source);
      count(`repeat:${fromEarlier ? "earlier-round" : "stock"}:${near ? "near" : "exact"}`);
      return near ? nearCopy(source) : source;
    });
  };

  const pick = <T>(list: readonly T[], prompt: string): T => list[hashText(`pick\u0000${prompt}`) % list.length]!;
  const reply = (role: ScriptedRole, prompt: string): string | Record<string, unknown> => {
    const key = `${role}\u0000${prompt}`;
    attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const good = codecReply(role, prompt, options);
    if (typeof good !== "string" && Array.isArray(good.instructions)) {
      return { ...good, instructions: withRepeats(prompt, good.instructions as string[]) };
    }
    if (prompt.includes("combined at random") && options.verdicts?.length && misbehaves(role, prompt)) {
      const fault = pick(options.verdicts, prompt);
      count(`verdicts:${fault}`);
      return {
        verdicts: brokenVerdicts(
          fault,
          (good as { verdicts: Array<{ index: number; plausible: boolean; reason: string }> }).verdicts,
        ),
      };
    }
    if (prompt.includes("rubrics: specific criteria") && options.fewerActions && misbehaves(role, prompt)) {
      const actions = (good as { actions: string[] }).actions;
      count("fewer-actions");
      return { ...(good as object), actions: actions.slice(0, Math.floor(actions.length / 2)) };
    }
    if (
      prompt.includes("Rewrite an instruction for an AI assistant") &&
      options.unchangedImprovements &&
      misbehaves(role, prompt)
    ) {
      count("unchanged-improvement");
      return { instruction: ` ${lineAfter(prompt, "Instruction:")} ` };
    }
    if (readBlocks(prompt)?.has("ANSWER 1") && options.scores?.length && misbehaves(role, prompt)) {
      const fault = pick(options.scores, prompt);
      count(`scores:${fault}`);
      const { assistant1, assistant2 } = good as { assistant1: number; assistant2: number };
      return fault === "string"
        ? { assistant1: String(assistant1), assistant2: String(assistant2) }
        : { assistant1: assistant1 + 10, assistant2: 0 };
    }
    if (typeof good === "string" && options.emptyAnswers && misbehaves(role, prompt)) {
      count("empty-answer");
      return hashText(prompt) % 2 === 0 ? "" : " \n\t ";
    }
    return good;
  };
  return { reply, counts };
}

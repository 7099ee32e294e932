/**
 * A scripted stand-in for the evaluation's three models behind one OpenAI-compatible test server: the model
 * under test and the reference answer with a tagged text; the judge reads the Vicuna-style prompt, finds which
 * assistant is which by the tags, and scores by a scenario chosen from the question's text.
 */
import { readBlocks } from "../../prompts/delimit.js";
import { hashText } from "./codec-responder.js";

export type Scenario = "win" | "loss" | "split" | "equal" | "malformed" | "retry" | "bias-win";

/** A scenario named in the question (`[win]`, `[split]`, ...), else one picked by hashing the question. */
export function scenarioOf(question: string): Scenario {
  const named = /\[(win|loss|split|equal|malformed|retry|bias-win)\]/.exec(question)?.[1];
  if (named) return named as Scenario;
  const bucket = hashText(question) % 10;
  return bucket < 4 ? "win" : bucket < 6 ? "loss" : bucket < 8 ? "split" : "equal";
}

export interface EvalResponderOptions {
  modelName: string;
  referenceName: string;
  judgeName: string;
}

export function evalResponder(options: EvalResponderOptions) {
  const attempts = new Map<string, number>();
  return (request: { model: string; messages: Array<{ role: string; content: string }> }): string => {
    const prompt = request.messages.map((message) => message.content).join("\n");
    if (request.model === options.modelName) return `[model] my answer to: ${prompt.slice(0, 80)}`;
    if (request.model === options.referenceName) return `[reference] my answer to: ${prompt.slice(0, 80)}`;
    if (request.model !== options.judgeName) throw new Error(`unknown model ${request.model}`);
    const blocks = readBlocks(prompt);
    const question = blocks?.get("QUESTION") ?? "";
    const first = blocks?.get("ANSWER 1") ?? "";
    const modelFirst = first.startsWith("[model]");
    const scenario = scenarioOf(question);
    const byOrder = (model: number, reference: number) =>
      modelFirst ? `${model} ${reference}` : `${reference}, ${model}`;
    const explanation = "\nAssistant 1 was more thorough; Assistant 2 missed details.";
    switch (scenario) {
      case "win":
        return byOrder(8, 6) + explanation;
      case "loss":
        return byOrder(4, 9) + explanation;
      case "split":
        return "8 6" + explanation; // whoever is first wins: a split decision
      case "bias-win":
        return (modelFirst ? "9 5" : "7 6") + explanation; // the model wins when first, loses when second
      case "equal":
        return byOrder(7, 7) + explanation;
      case "malformed":
        return "Assistant 1 receives an 8 and Assistant 2 a 6." + explanation;
      case "retry": {
        const seen = attempts.get(prompt) ?? 0;
        attempts.set(prompt, seen + 1);
        return seen === 0 ? "Here is my evaluation." + explanation : byOrder(9, 3) + explanation;
      }
    }
  };
}

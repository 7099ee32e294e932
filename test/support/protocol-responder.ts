import { readBlocks } from "../../prompts/delimit.js";
import { codecReply, hashText } from "./codec-responder.js";
import type { ChatRequest } from "./openai-server.js";

/**
 * One OpenAI-compatible responder for a whole protocol: `strong` and `target` generate through the CodecLM
 * script (and `strong` answers as the reference), `tuned` answers tagged, and `judge` lets the tuned model win
 * one question in three, tie one in three and lose the rest.
 */
export function protocolResponder(request: ChatRequest) {
  const prompt = request.messages.map((message) => message.content).join("\n");
  if (request.model === "strong" || request.model === "target") {
    const reply = codecReply(request.model, prompt);
    return typeof reply === "string" ? { text: reply } : { json: reply };
  }
  if (request.model === "tuned") return { text: `[tuned] answer to: ${prompt.slice(0, 60)}` };
  if (request.model !== "judge") throw new Error(`unknown model ${request.model}`);
  const blocks = readBlocks(prompt);
  const question = blocks?.get("QUESTION") ?? "";
  const tunedFirst = (blocks?.get("ANSWER 1") ?? "").startsWith("[tuned]");
  const outcome = hashText(question) % 3;
  const [tuned, reference] = outcome === 0 ? [8, 6] : outcome === 1 ? [7, 7] : [4, 8];
  return { text: `${tunedFirst ? `${tuned} ${reference}` : `${reference} ${tuned}`}\nBecause.` };
}

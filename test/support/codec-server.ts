import { type ScriptOptions, type ScriptedRole, codecReply } from "./codec-responder.js";
import { type FakeOpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "./openai-server.js";

/**
 * An OpenAI-compatible server answering every CodecLM prompt from the script: requests for the model
 * named `target-model` answer as the target, all others as the strong model (and judge).
 */
export function startCodecServer(
  options: ScriptOptions & Omit<Partial<OpenAIServerOptions>, "respond"> = {},
): Promise<FakeOpenAIServer> {
  const { positionBias, ...server } = options;
  return startOpenAIServer({
    ...server,
    respond: (request) => {
      const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
      const prompt = request.messages.map((message) => message.content).join("\n");
      const reply = codecReply(role, prompt, { positionBias });
      return typeof reply === "string" ? { text: reply } : { json: reply };
    },
  });
}

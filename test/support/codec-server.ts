import { type Adversary, type ScriptOptions, type ScriptedRole, codecReply } from "./codec-responder.js";
import { type FakeOpenAIServer, type OpenAIServerOptions, startOpenAIServer } from "./openai-server.js";

export interface CodecServerOptions extends ScriptOptions, Omit<Partial<OpenAIServerOptions>, "respond"> {
  /** Answers through this adversary (see `createAdversary`) instead of the well-behaved script. */
  adversary?: Adversary;
}

/**
 * An OpenAI-compatible server answering every CodecLM prompt from the script: requests for the model
 * named `target-model` answer as the target, all others as the strong model (and judge).
 */
export function startCodecServer(options: CodecServerOptions = {}): Promise<FakeOpenAIServer> {
  const { positionBias, adversary, ...server } = options;
  return startOpenAIServer({
    ...server,
    respond: (request) => {
      const role: ScriptedRole = request.model === "target-model" ? "target" : "strong";
      const prompt = request.messages.map((message) => message.content).join("\n");
      const reply = adversary ? adversary.reply(role, prompt) : codecReply(role, prompt, { positionBias });
      return typeof reply === "string" ? { text: reply } : { json: reply };
    },
  });
}

import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { RunnableLambda } from "@langchain/core/runnables";
import { type Adversary, type ScriptOptions, codecReply } from "./codec-responder.js";

type Reply = string | Record<string, unknown> | Error;

export interface ScriptedCall {
  prompt: string;
  options: Record<string, unknown>;
}

const promptOf = (messages: BaseMessage[]) =>
  messages
    .map((message) => (typeof message.content === "string" ? message.content : JSON.stringify(message.content)))
    .join("\n");

/**
 * A chat model whose reply is a function of the prompt. Structured output behaves like JSON mode: the
 * reply text is returned raw and the caller parses it, so malformed replies exercise the real retry path.
 */
export class ScriptedChatModel extends BaseChatModel {
  readonly calls: ScriptedCall[] = [];

  constructor(private readonly reply: (prompt: string, callIndex: number) => Reply) {
    super({});
  }

  _llmType(): string {
    return "scripted";
  }

  async _generate(messages: BaseMessage[], options: this["ParsedCallOptions"]): Promise<ChatResult> {
    const prompt = promptOf(messages);
    this.calls.push({ prompt, options: options as Record<string, unknown> });
    const reply = this.reply(prompt, this.calls.length - 1);
    if (reply instanceof Error) throw reply;
    const text = typeof reply === "string" ? reply : JSON.stringify(reply);
    const message = new AIMessage({
      content: text,
      usage_metadata: {
        input_tokens: Math.ceil(prompt.length / 4),
        output_tokens: Math.ceil(text.length / 4),
        total_tokens: 0,
      },
    });
    return { generations: [{ text, message }] };
  }

  override withStructuredOutput(): any {
    return RunnableLambda.from(async (input: unknown, config) => {
      const raw = await this.invoke(input as BaseMessage[], config);
      return { raw, parsed: null };
    });
  }
}

/** The strong/target pair answering every CodecLM step from the script. */
export function scriptedModels(options: ScriptOptions = {}) {
  return {
    strong: new ScriptedChatModel((prompt) => codecReply("strong", prompt, options)),
    target: new ScriptedChatModel((prompt) => codecReply("target", prompt, options)),
  };
}

/** The strong/target pair answering through one adversary (see `createAdversary`). */
export function adversarialModels(adversary: Adversary) {
  return {
    strong: new ScriptedChatModel((prompt) => adversary.reply("strong", prompt)),
    target: new ScriptedChatModel((prompt) => adversary.reply("target", prompt)),
  };
}

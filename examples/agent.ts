/**
 * A chat agent that can generate training data: it calls CodecLM as a tool when asked for
 * "N training examples like these", and tells the user where the data went.
 *
 *   OPENAI_API_KEY=sk-... npx tsx examples/agent.ts
 *
 * (Installed from npm, import from "codeclm" instead of "../index.js".)
 */
import { HumanMessage } from "@langchain/core/messages";
import { createReactAgent } from "@langchain/langgraph/prebuilt";
import { ChatOpenAI } from "@langchain/openai";
import { createCodecTool } from "../index.js";

const generateExamples = createCodecTool({
  outputDir: "out/agent",
  // The models CodecLM uses, whatever model drives the agent.
  config: { strong: { model: "openai:gpt-4o" }, target: { model: "openai:gpt-4o-mini" }, poolSize: 20 },
  maxCount: 50,
});

const agent = createReactAgent({
  llm: new ChatOpenAI({ model: "gpt-4o-mini", temperature: 0 }),
  tools: [generateExamples],
});

const result = await agent.invoke({
  messages: [
    new HumanMessage(
      "I am fine-tuning a support bot. Generate 10 training examples like these: " +
        '"How do I reset my password?", "Why was I charged twice this month?", "Can I export my data as CSV?"',
    ),
  ],
});
console.log(result.messages.at(-1)?.content);

import { ChatOpenAI } from "@langchain/openai";
import type { ChatModelBuilder } from "./types.js";

export const build: ChatModelBuilder = ({ model, temperature, maxTokens, maxRetries, apiKey, baseUrl, fetch }) =>
  new ChatOpenAI({
    model,
    temperature,
    maxTokens,
    apiKey,
    maxRetries,
    configuration: { ...(baseUrl ? { baseURL: baseUrl } : {}), ...(fetch ? { fetch } : {}) },
  });

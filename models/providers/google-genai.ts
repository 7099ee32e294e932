import { ChatGoogleGenerativeAI } from "@langchain/google-genai";
import type { ChatModelBuilder } from "./types.js";

export const build: ChatModelBuilder = ({ model, temperature, maxTokens, maxRetries, apiKey, baseUrl }) =>
  new ChatGoogleGenerativeAI({
    model,
    temperature,
    maxOutputTokens: maxTokens,
    apiKey,
    maxRetries,
    ...(baseUrl ? { baseUrl } : {}),
  });

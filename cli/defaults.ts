import type { RoleSettings } from "../lib/config.js";
import type { Env } from "../models/factory.js";

export interface DefaultRoles {
  strong: RoleSettings;
  target: RoleSettings;
  /** Why these were chosen, for the CLI to tell the user. */
  because: string;
}

/**
 * Roles when the user names none: a hosted pair when a key is in the environment, else the embedded
 * local model (downloaded once into the cache) for both roles.
 */
export function defaultRoles(env: Env): DefaultRoles {
  if (env.OPENAI_API_KEY?.trim() || env.OPENAI_BASE_URL?.trim()) {
    return {
      strong: { model: "openai:gpt-4o" },
      target: { model: "openai:gpt-4o-mini" },
      because: env.OPENAI_API_KEY?.trim() ? "OPENAI_API_KEY is set" : "OPENAI_BASE_URL is set",
    };
  }
  if (env.GOOGLE_API_KEY?.trim() || env.GEMINI_API_KEY?.trim()) {
    return {
      strong: { model: "google-genai:gemini-2.5-pro" },
      target: { model: "google-genai:gemini-2.5-flash-lite" },
      because: "GOOGLE_API_KEY is set",
    };
  }
  return {
    strong: { model: "local:default" },
    target: { model: "local:default" },
    because: "no API key is set, so the embedded local model is used",
  };
}

export const NO_PROVIDER_MESSAGE = `No model to use. Either:
  - name the models: --strong openai:gpt-4o --target openai:gpt-4o-mini (needs OPENAI_API_KEY), or
    --strong google-genai:gemini-2.5-pro (needs GOOGLE_API_KEY);
  - point at an OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio):
    OPENAI_BASE_URL=http://localhost:8000/v1 codeclm generate --strong openai:MODEL --target openai:MODEL ...;
  - or set OPENAI_API_KEY / GOOGLE_API_KEY to use the default hosted pair.`;

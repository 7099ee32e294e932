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
 * local pair (downloaded once into the cache): a larger strong model and a smaller target of one family.
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
  // A pair, not one model twice: Contrastive Filtering needs a strong model that beats the target.
  return {
    strong: { model: "local:default-strong" },
    target: { model: "local:default-target" },
    because: "no API key is set, so the embedded local pair is used (Qwen2.5 1.5B strong, 0.5B target)",
  };
}

export const NO_PROVIDER_MESSAGE = `No model to use. Either:
  - name the models: --strong openai:gpt-4o --target openai:gpt-4o-mini (needs OPENAI_API_KEY), or
    --strong google-genai:gemini-2.5-pro (needs GOOGLE_API_KEY);
  - point at an OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio):
    OPENAI_BASE_URL=http://localhost:8000/v1 codeclm generate --strong openai:MODEL --target openai:MODEL ...;
  - or set OPENAI_API_KEY / GOOGLE_API_KEY to use the default hosted pair.`;

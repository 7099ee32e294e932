export const PROVIDERS = ["openai", "google-genai", "local"] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface ModelSpec {
  provider: Provider;
  model: string;
}

/** `provider:model` → parts. The model part may itself hold colons (`local:hf:owner/repo/file.gguf`). */
export function parseModelSpec(spec: string): ModelSpec {
  const colon = spec.indexOf(":");
  const provider = colon < 0 ? "" : spec.slice(0, colon);
  const model = colon < 0 ? "" : spec.slice(colon + 1).trim();
  if (!(PROVIDERS as readonly string[]).includes(provider) || model === "") {
    throw new Error(
      `Model spec "${spec}" is not of the form provider:model, with provider one of ${PROVIDERS.join(", ")} ` +
        `(e.g. openai:gpt-4o-mini, google-genai:gemini-2.5-flash, local:./model.gguf)`,
    );
  }
  return { provider: provider as Provider, model };
}

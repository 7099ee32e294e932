/**
 * Secrets must never reach outputs, logs, checkpoints or traces. Errors from provider SDKs can quote
 * a key (masked or not), so every error message is passed through here before it is recorded.
 */
const KEY_PATTERNS: RegExp[] = [
  /(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-*]{8,}/g, // OpenAI-style keys (not "risk-…"), including the SDK's masked echo
  /(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /lsv2_[A-Za-z0-9_]{10,}/g, // LangSmith keys
  /(Bearer\s+)[A-Za-z0-9._-]{8,}/gi,
  /([?&]key=)[^&\s"']+/gi, // Gemini passes its key as a query parameter
];

const knownSecrets = new Set<string>();

/** Register a secret value (an API key read from the environment) so it is scrubbed wherever it appears. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) knownSecrets.add(value);
}

export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.split(secret).join("[redacted]");
  for (const pattern of KEY_PATTERNS) {
    out = out.replace(pattern, (match, prefix: unknown) =>
      typeof prefix === "string" ? `${prefix}[redacted]` : "[redacted]",
    );
  }
  return out;
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return redactSecrets(text);
}

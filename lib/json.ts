/**
 * Parse JSON a model wrote as text: tolerate a ```json fence or prose around one object or array.
 * Throws when no JSON value can be found.
 */
export function parseJsonLoose(text: string): unknown {
  const trimmed = text.trim();
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed);
  const candidates = [trimmed, fenced?.[1]?.trim()];
  const firstBrace = trimmed.search(/[{[]/);
  if (firstBrace >= 0) {
    const open = trimmed[firstBrace]!;
    const close = open === "{" ? "}" : "]";
    const lastClose = trimmed.lastIndexOf(close);
    if (lastClose > firstBrace) candidates.push(trimmed.slice(firstBrace, lastClose + 1));
  }
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      return JSON.parse(candidate);
    } catch {
      // try the next reading
    }
  }
  throw new Error(`no JSON value in the reply: ${JSON.stringify(trimmed.slice(0, 200))}`);
}

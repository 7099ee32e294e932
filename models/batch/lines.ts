/** What a batch line came back as, and OpenAI batch output files read into it. */

/** What a batch line came back as: the response the endpoint gave the request, or why there is none. */
export type LineResult = { status: number; body: unknown } | { error: string };

/** Lines of a batch's output or error file, by custom_id. */
export function parseBatchLines(text: string, into: Map<string, LineResult>): void {
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    const line = JSON.parse(raw) as {
      custom_id?: string;
      response?: { status_code?: number; body?: unknown } | null;
      error?: { code?: string; message?: string } | null;
    };
    if (!line.custom_id) continue;
    const status = line.response?.status_code ?? 0;
    if (line.error || status < 200 || status >= 300) {
      const body = line.response?.body as { error?: { message?: string } } | undefined;
      const detail = line.error?.message ?? body?.error?.message ?? "no response";
      into.set(line.custom_id, { error: `batch line failed${status ? ` (HTTP ${status})` : ""}: ${detail}` });
    } else {
      into.set(line.custom_id, { status, body: line.response?.body });
    }
  }
}

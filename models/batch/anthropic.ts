/**
 * Anthropic's Message Batches API for the collector: the lines are posted as one batch
 * (`POST /v1/messages/batches`, each line `{custom_id, params}` with the Messages request the single call
 * sends), polled (`GET /v1/messages/batches/{id}` until `processing_status` is `ended`), and the results file
 * (`results_url`, JSONL) mapped back by custom_id. Plain fetch with the headers the client itself sent
 * (key, version, betas): no second SDK.
 */
import type { LineResult } from "./lines.js";

/** Where a Message Batch goes: the base URL and the client's own headers (never stored, never logged). */
export interface AnthropicTarget {
  baseURL: string;
  headers: Record<string, string>;
}

const FORWARDED = ["x-api-key", "authorization", "anthropic-version", "anthropic-beta"];

export function anthropicHeaders(init: RequestInit | undefined): Record<string, string> {
  const given = new Headers(init?.headers);
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const name of FORWARDED) {
    const value = given.get(name);
    if (value !== null) headers[name] = value;
  }
  headers["anthropic-version"] ??= "2023-06-01";
  return headers;
}

/** An HTTP failure with its status, classified like the SDKs' errors (lib/faults.ts reads `status`). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function request(target: AnthropicTarget, path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith("http") ? path : `${target.baseURL.replace(/\/+$/, "")}${path}`;
  const response = await fetch(url, { ...init, headers: target.headers });
  if (!response.ok) throw new HttpError(response.status, `HTTP ${response.status}: ${await response.text()}`);
  return response;
}

export async function submitAnthropic(
  target: AnthropicTarget,
  lines: ReadonlyArray<{ customId: string; body: Record<string, unknown> }>,
): Promise<string> {
  const requests = lines.map(({ customId, body }) => {
    const { stream: _stream, ...params } = body; // a batch line is never streamed
    return { custom_id: customId, params };
  });
  const response = await request(target, "/v1/messages/batches", {
    method: "POST",
    body: JSON.stringify({ requests }),
  });
  return ((await response.json()) as { id: string }).id;
}

/** The batch's results once it has ended; undefined while it is still processing. */
export async function pollAnthropic(
  target: AnthropicTarget,
  batchId: string,
): Promise<Map<string, LineResult> | undefined> {
  const response = await request(target, `/v1/messages/batches/${encodeURIComponent(batchId)}`);
  const batch = (await response.json()) as { processing_status: string; results_url?: string | null };
  if (batch.processing_status !== "ended") return undefined;
  const results = new Map<string, LineResult>();
  if (!batch.results_url) return results;
  const text = await (await request(target, batch.results_url)).text();
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    const line = JSON.parse(raw) as {
      custom_id?: string;
      result?: { type?: string; message?: unknown; error?: { error?: { message?: string } } };
    };
    if (!line.custom_id) continue;
    const result = line.result;
    if (result?.type === "succeeded") results.set(line.custom_id, { status: 200, body: result.message });
    else {
      const detail = result?.error?.error?.message ?? result?.type ?? "no result";
      results.set(line.custom_id, { error: `batch line ${result?.type ?? "failed"}: ${detail}` });
    }
  }
  return results;
}

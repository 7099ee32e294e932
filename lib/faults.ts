/**
 * Transport faults of a model call: what kind of failure an error is, whether another try can help,
 * and how long to wait before it. Pure: the clock and the randomness are passed in.
 */

/** `rate-limit` (429), `server` (5xx, 408), `timeout`, `connection` (reset, refused, dropped) are worth retrying. */
export type FaultKind = "rate-limit" | "server" | "timeout" | "connection" | "fatal";

export interface Fault {
  kind: FaultKind;
  status?: number;
  /** What the server asked for in `Retry-After` / `retry-after-ms`, in milliseconds. */
  retryAfterMs?: number;
}

export const RETRYABLE_FAULTS: ReadonlySet<FaultKind> = new Set(["rate-limit", "server", "timeout", "connection"]);

const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);

type HeaderBag = { get?: (name: string) => string | null } | Record<string, unknown> | undefined;

function header(headers: HeaderBag, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  if (typeof (headers as { get?: unknown }).get === "function") {
    const value = (headers as { get: (name: string) => string | null }).get(name);
    return value ?? undefined;
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && (typeof value === "string" || typeof value === "number")) return String(value);
  }
  return undefined;
}

/** `retry-after-ms`, else `Retry-After` as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(headers: HeaderBag, now: number = Date.now()): number | undefined {
  const ms = Number(header(headers, "retry-after-ms"));
  if (Number.isFinite(ms) && ms >= 0 && header(headers, "retry-after-ms") !== undefined) return ms;
  const raw = header(headers, "retry-after")?.trim();
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(raw);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

function statusOf(error: Record<string, unknown>): number | undefined {
  for (const candidate of [
    error.status,
    error.statusCode,
    (error.response as Record<string, unknown> | undefined)?.status,
  ]) {
    if (typeof candidate === "number" && candidate >= 100 && candidate < 600) return candidate;
  }
  // Gemini's fetch errors carry the status only in the message: "[429 Too Many Requests]".
  const match = typeof error.message === "string" ? /\[(\d{3})(?: [A-Za-z ]+)?\]/.exec(error.message) : null;
  return match ? Number(match[1]) : undefined;
}

function codeOf(error: Record<string, unknown>): string | undefined {
  const cause = error.cause as Record<string, unknown> | undefined;
  for (const candidate of [error.code, cause?.code, (cause?.cause as Record<string, unknown> | undefined)?.code]) {
    if (typeof candidate === "string") return candidate;
  }
  return undefined;
}

/** What kind of transport failure an error from a chat-model client is. Anything unrecognised is fatal. */
export function classifyFault(error: unknown, now: number = Date.now()): Fault {
  if (!error || typeof error !== "object") return { kind: "fatal" };
  const record = error as Record<string, unknown>;
  const status = statusOf(record);
  if (status !== undefined) {
    if (status === 429) {
      const after = retryAfterMs(record.headers as HeaderBag, now);
      return { kind: "rate-limit", status, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    }
    if (status >= 500 || status === 408 || status === 409) {
      const after = retryAfterMs(record.headers as HeaderBag, now);
      return { kind: "server", status, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    }
    return { kind: "fatal", status };
  }
  const name = `${String(record.name ?? "")} ${(error as object).constructor?.name ?? ""}`;
  const message = typeof record.message === "string" ? record.message : "";
  if (/Timeout/i.test(name) || /timed? ?out/i.test(message)) return { kind: "timeout" };
  const code = codeOf(record);
  if ((code && CONNECTION_CODES.has(code)) || /APIConnectionError|FetchError/.test(name)) return { kind: "connection" };
  if (/connection error|fetch failed|socket hang up|other side closed|network|ECONNRESET/i.test(message))
    return { kind: "connection" };
  return { kind: "fatal" };
}

export interface BackoffPolicy {
  /** First retry waits up to this long (before jitter). */
  baseDelayMs: number;
  /** No computed wait is longer than this. */
  maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Wait before retry number `retry` (1-based). When the server said how long to wait (Retry-After), that,
 * plus a little jitter so a crowd of callers does not return at the same instant; otherwise exponential
 * backoff with "equal jitter" (half fixed, half random, so waits never collapse to zero), capped.
 */
export function retryDelayMs(retry: number, fault: Fault, policy: BackoffPolicy, random: () => number): number {
  if (fault.retryAfterMs !== undefined) {
    return Math.min(fault.retryAfterMs, 10 * policy.maxDelayMs) + (random() * policy.baseDelayMs) / 2;
  }
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return exponential / 2 + (random() * exponential) / 2;
}

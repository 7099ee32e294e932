/**
 * Turns a `local:` model spec into a checked GGUF file path, downloading into a cache directory when the spec is a
 * URI.
 *
 * Specs (the `local:` prefix is optional here):
 * - a path: `./model.gguf`, `/abs/model.gguf`, `~/models/model.gguf`;
 * - `hf:OWNER/REPO/PATH/FILE.gguf` (optionally `#REVISION`): Hugging Face's `resolve/<revision>/<path>` URL;
 * - `https://...` / `http://...`: any URL serving a GGUF;
 * - any other node-llama-cpp model URI (e.g. `hf:OWNER/REPO:Q4_K_M`, which needs the Hugging Face API to pick a
 *   file): handed to node-llama-cpp's `resolveModelFile`, after a reachability probe.
 *
 * Why the project downloads files itself rather than through node-llama-cpp's downloader (ipull): measured with
 * node-llama-cpp 3.22, (1) a refused connection is retried about 150 times with back-off, so an offline run hangs for
 * minutes (a test against 127.0.0.1:1 was still waiting after 120 s), and node-llama-cpp exposes no option to bound
 * it; (2) aborting a download through its `signal` makes `resolveModelFile` resolve successfully with the path of a
 * file that does not exist, and the partial file is deleted, so nothing resumes. The downloader here fails fast
 * (connect timeout, stall timeout, a refused/unresolvable host is reported at once), resumes byte-exactly from
 * `<file>.part` with an HTTP Range request (both after a dropped connection within a run and in the next run), and
 * checks the finished file with `checkGguf` before it is used. Concurrent resolutions of one file share a single
 * download within a process; two processes downloading the same file at the same time are not coordinated.
 */
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolveModelFile } from "node-llama-cpp";
import { assertLoadableGguf, LocalModelError, type GgufSummary } from "./gguf-check.js";

/**
 * The embedded default strong model: Qwen2.5-1.5B-Instruct, Q4_K_M, from Qwen's own GGUF repository
 * (1,117,320,736 bytes, ~1.1 GB; architecture `qwen2`, 28 blocks, 32 K trained context).
 *
 * Why this one:
 * - CPU speed: 1.5 B parameters at ~4.8 bits/weight run at usable speed on a laptop CPU (roughly 10–25 tokens/s on
 *   4 cores; a 3 B model is about half that, a 7 B model a quarter) and fit in ~2 GB of RAM with a 4 K context.
 * - JSON following: the Qwen2.5 instruct models were tuned for structured output and follow JSON schemas and long
 *   system prompts markedly better than other models of this size (Llama-3.2-1B, SmolLM2-1.7B, Gemma-2-2B); with the
 *   JSON-schema grammar the output is always syntactically valid, and 1.5 B is the smallest Qwen2.5 whose field
 *   contents are consistently sensible (0.5 B often fills fields with echoes of the prompt).
 * - Size: Q4_K_M is the usual quality/size sweet spot (little loss against Q8_0 at 60% of the size).
 * - Licence: Apache-2.0 (Qwen2.5 0.5 B/1.5 B/7 B; the 3 B model has a more restrictive research licence).
 * - Chat template: ChatML, which node-llama-cpp recognises (QwenChatWrapper).
 * The full-file URI needs no network call to find a cached copy.
 */
export const DEFAULT_LOCAL_STRONG_MODEL = "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF/qwen2.5-1.5b-instruct-q4_k_m.gguf";

/**
 * The embedded default target: Qwen2.5-0.5B-Instruct, Q4_K_M (~0.49 GB), from the same family and repository
 * layout. CodecLM needs f_s stronger than f_t (the gap between their answers decides what is kept); one family
 * shares a tokenizer and chat template, so the gap comes from size alone. The target only answers in free text,
 * where 0.5 B's weakness at filling JSON fields does not matter.
 */
export const DEFAULT_LOCAL_TARGET_MODEL = "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf";

/** `local:default` (kept for existing configurations) is the strong model of the default pair. */
export const DEFAULT_LOCAL_MODEL = DEFAULT_LOCAL_STRONG_MODEL;

/** Names for the embedded models: `local:default`, `local:default-strong`, `local:default-target`. */
const DEFAULT_NAMES: Readonly<Record<string, string>> = {
  "": DEFAULT_LOCAL_STRONG_MODEL,
  default: DEFAULT_LOCAL_STRONG_MODEL,
  "default-strong": DEFAULT_LOCAL_STRONG_MODEL,
  "default-target": DEFAULT_LOCAL_TARGET_MODEL,
};

/** A local spec with the embedded names replaced by their model URIs (and the `local:` prefix stripped). */
export function expandLocalDefault(spec: string): string {
  const s = stripLocalPrefix(spec.trim());
  return DEFAULT_NAMES[s] ?? s;
}

export interface DownloadProgress {
  downloadedBytes: number;
  /** 0 while unknown (no Content-Length). */
  totalBytes: number;
}

export interface ResolveLocalModelOptions {
  /** Where downloads go. Default: `$CODECLM_CACHE_DIR`, else `$XDG_CACHE_HOME/codeclm/models`, else `~/.cache/codeclm/models`. */
  cacheDir?: string;
  /** Called as a download progresses (not called for a cache hit or a plain path). */
  onProgress?: (progress: DownloadProgress) => void;
  /** Cancels a download (the partial file is kept for resuming). */
  signal?: AbortSignal;
  /** Time allowed to connect and receive response headers (default 15 s). */
  connectTimeoutMs?: number;
  /** Time allowed without receiving any data once the transfer has started (default 60 s). */
  stallTimeoutMs?: number;
  /** Times a connection that broke after making progress is resumed within one call (default 5; a stall is not). */
  maxResumes?: number;
  /** Extra request headers (an `Authorization` header for Hugging Face is added from `HF_TOKEN` automatically). */
  headers?: Readonly<Record<string, string>>;
}

export interface ResolvedLocalModel {
  /** Absolute path of the checked GGUF file. */
  path: string;
  /** What the check read from the file. */
  summary: GgufSummary;
  /** How it was found: a plain path, a cached download, or a download made by this call. */
  source: "path" | "cache" | "download";
}

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** Strips an optional `local:` prefix. */
export function stripLocalPrefix(spec: string): string {
  return spec.startsWith("local:") ? spec.slice("local:".length) : spec;
}

/** Whether the spec is a URL or a model URI (as opposed to a file path). */
export function isModelUri(spec: string): boolean {
  return /^(hf|huggingface):/i.test(spec) || /^https?:\/\//i.test(spec);
}

/** The cache directory: option, then `CODECLM_CACHE_DIR`, then the XDG cache dir, then `~/.cache/codeclm/models`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env["CODECLM_CACHE_DIR"];
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(expandHome(fromEnv));
  const xdg = env["XDG_CACHE_HOME"];
  const base = xdg !== undefined && xdg !== "" ? xdg : path.join(os.homedir(), ".cache");
  return path.join(base, "codeclm", "models");
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

/**
 * The file a local spec ends up loading, for telling two specs apart without touching the network: the embedded
 * names expand to their URIs, a downloadable URI maps to its cache file, a path is resolved (symlinks followed
 * when the file exists). Two specs with the same identity load the same weights.
 */
export function localModelIdentity(spec: string, env: NodeJS.ProcessEnv = process.env): string {
  const s = expandLocalDefault(spec);
  if (isModelUri(s)) {
    const target = downloadTargetFor(s, env);
    return target !== undefined ? path.join(defaultCacheDir(env), target.fileName) : s;
  }
  const filePath = path.resolve(expandHome(s));
  try {
    return realpathSync(filePath);
  } catch {
    return filePath;
  }
}

/** The message listing the ways forward when no local model can be obtained. */
export function waysForwardMessage(reason: string, cacheDir?: string): string {
  return [
    `No local model is available: ${reason}.`,
    "Ways forward:",
    "  - use a GGUF file you already have: --strong local:/path/model.gguf --target local:/path/model.gguf",
    "  - use an OpenAI-compatible server (llama.cpp server, vLLM, Ollama, LM Studio): --strong openai:MODEL " +
      "--target openai:MODEL with OPENAI_BASE_URL=http://HOST:PORT/v1",
    "  - use a hosted API: set OPENAI_API_KEY or GOOGLE_API_KEY",
    `  - or run once with network access: the default pair (strong ${DEFAULT_LOCAL_STRONG_MODEL}, target ` +
      `${DEFAULT_LOCAL_TARGET_MODEL}) is downloaded once` +
      (cacheDir !== undefined ? ` into ${cacheDir}` : "") +
      " and reused offline",
  ].join("\n");
}

interface DownloadTarget {
  url: string;
  fileName: string;
  headers: Record<string, string>;
}

/** Maps `hf:OWNER/REPO/PATH.gguf[#REV]` and http(s) URLs to a URL and a cache file name; undefined otherwise. */
export function downloadTargetFor(spec: string, env: NodeJS.ProcessEnv = process.env): DownloadTarget | undefined {
  const hf = /^(?:hf|huggingface):([^/\s]+)\/([^/\s:]+)\/([^#\s]+\.gguf)(?:#(.+))?$/i.exec(spec);
  if (hf !== null) {
    const [, owner = "", repo = "", filePath = "", revision = "main"] = hf;
    const endpoint = huggingFaceEndpoint(env);
    const encodedPath = filePath.split("/").map(encodeURIComponent).join("/");
    const url = `${endpoint}/${owner}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
    const headers: Record<string, string> = {};
    const token = env["HF_TOKEN"] ?? env["HUGGING_FACE_HUB_TOKEN"];
    if (token !== undefined && token !== "") headers["Authorization"] = `Bearer ${token}`;
    const suffix = revision === "main" ? "" : `_${sanitize(revision)}`;
    return {
      url,
      fileName: `hf_${sanitize(owner)}_${sanitize(repo)}${suffix}_${sanitize(path.posix.basename(filePath))}`,
      headers,
    };
  }
  if (/^https?:\/\//i.test(spec)) {
    let parsed: URL;
    try {
      parsed = new URL(spec);
    } catch {
      return undefined;
    }
    const base = path.posix.basename(decodeURIComponent(parsed.pathname)) || "model.gguf";
    const name = base.toLowerCase().endsWith(".gguf") ? base : `${base}.gguf`;
    // The host and a short hash of the full URL keep two "model.gguf" from different places apart.
    const hash = createHash("sha256").update(spec).digest("hex").slice(0, 8);
    return { url: spec, fileName: `${sanitize(parsed.host)}_${hash}_${sanitize(name)}`, headers: {} };
  }
  return undefined;
}

/** Hugging Face endpoint: `HF_ENDPOINT` or `MODEL_ENDPOINT` (as node-llama-cpp reads them), else huggingface.co. */
function huggingFaceEndpoint(env: NodeJS.ProcessEnv): string {
  const fromEnv = env["HF_ENDPOINT"] || env["MODEL_ENDPOINT"];
  return (fromEnv !== undefined && fromEnv !== "" ? fromEnv : "https://huggingface.co").replace(/\/+$/, "");
}

function sanitize(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_");
}

const NETWORK_ERROR_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_SOCKET",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
]);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 4 && e !== null && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeNetworkError(err: unknown, host: string): string {
  const code = errorCode(err);
  switch (code) {
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `the host ${host} cannot be resolved (no network?)`;
    case "ECONNREFUSED":
      return `the connection to ${host} was refused`;
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return `the network to ${host} is unreachable`;
    default: {
      const cause = (err as { cause?: unknown } | null)?.cause;
      const detail =
        code ?? (cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err));
      return `${host} cannot be reached (${detail})`;
    }
  }
}

class TimeoutSignal {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  reason: "connect" | "stall" | "cancel" | undefined;
  private readonly onOuterAbort = (): void => {
    this.reason = "cancel";
    this.controller.abort();
  };
  constructor(private readonly outer: AbortSignal | undefined) {
    if (outer?.aborted === true) this.onOuterAbort();
    else outer?.addEventListener("abort", this.onOuterAbort, { once: true });
  }
  arm(kind: "connect" | "stall", ms: number): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.reason = kind;
      this.controller.abort();
    }, ms);
  }
  disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
  dispose(): void {
    this.disarm();
    this.outer?.removeEventListener("abort", this.onOuterAbort);
  }
}

interface DownloadOptions {
  headers: Record<string, string>;
  onProgress: ((p: DownloadProgress) => void) | undefined;
  signal: AbortSignal | undefined;
  connectTimeoutMs: number;
  stallTimeoutMs: number;
  maxResumes: number;
  cacheDir: string;
  spec: string;
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await stat(p)).size;
  } catch {
    return 0;
  }
}

/** One attempt at the download: what the part file held when it began and what came since. */
interface Attempt {
  url: string;
  part: string;
  have: number;
  received: number;
  responded: boolean;
}

/** The refusal of an HTTP error status, with a hint for the usual causes. */
function httpError(status: number, url: string, spec: string): LocalModelError {
  const hint =
    status === 401 || status === 403
      ? " (the model may be gated or private: accept its licence on the website and set HF_TOKEN)"
      : status === 404
        ? " (check the owner, repository and file name)"
        : "";
  return new LocalModelError(`Cannot download ${spec}: HTTP ${status} from ${url}${hint}`, { code: "download-failed" });
}

type Opened = { body: AsyncIterable<Uint8Array>; start: number; total: number } | "restart" | "restart-416";

/**
 * Requests the file, resuming with a Range request from the bytes the part file holds. "restart": the server
 * answered another range; "restart-416": the range was not satisfiable (the part is complete or stale).
 */
async function openDownload(a: Attempt, o: DownloadOptions, guard: TimeoutSignal): Promise<Opened> {
  guard.arm("connect", o.connectTimeoutMs);
  const headers: Record<string, string> = { ...o.headers, "Accept-Encoding": "identity" };
  if (a.have > 0) headers["Range"] = `bytes=${a.have}-`;
  const res = await fetch(a.url, { headers, redirect: "follow", signal: guard.controller.signal });
  a.responded = true;
  let start = 0; // a 200 when a range was asked: the server ignored it, the body is the whole file
  let total = Number(res.headers.get("content-length") ?? 0);
  if (res.status === 206) {
    const m = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(res.headers.get("content-range") ?? "");
    if (m === null || Number(m[1]) !== a.have) {
      await res.body?.cancel();
      return "restart";
    }
    start = a.have;
    total = m[3] === "*" ? 0 : Number(m[3]);
  } else if (res.status === 416 && a.have > 0) {
    await res.body?.cancel();
    return "restart-416";
  } else if (!res.ok) {
    await res.body?.cancel();
    throw httpError(res.status, a.url, o.spec);
  }
  if (res.body === null)
    throw new LocalModelError(`Cannot download ${o.spec}: empty response from ${a.url}`, { code: "download-failed" });
  return { body: res.body as unknown as AsyncIterable<Uint8Array>, start, total };
}

/** Streams the body into the part file (appending from `start`), re-arming the stall timer on every chunk. */
async function writeBody(
  opened: Exclude<Opened, string>,
  a: Attempt,
  o: DownloadOptions,
  guard: TimeoutSignal,
): Promise<void> {
  const { body, start, total } = opened;
  const fh = await open(a.part, start === 0 ? "w" : "a");
  try {
    let written = start;
    o.onProgress?.({ downloadedBytes: written, totalBytes: total });
    guard.arm("stall", o.stallTimeoutMs);
    for await (const chunk of body) {
      guard.arm("stall", o.stallTimeoutMs);
      await fh.write(chunk);
      written += chunk.byteLength;
      a.received += chunk.byteLength;
      o.onProgress?.({ downloadedBytes: written, totalBytes: total });
    }
    guard.disarm();
    if (total > 0 && written !== total)
      throw Object.assign(new Error(`connection closed at ${written} of ${total} bytes`), { code: "ECONNRESET" });
  } finally {
    await fh.close();
  }
}

/** The LocalModelError for an attempt that failed for good: stalled, offline, or another failure. */
async function downloadError(
  err: unknown,
  reason: string | undefined,
  a: Attempt,
  o: DownloadOptions,
): Promise<LocalModelError> {
  const host = new URL(a.url).host;
  const kept = await fileSize(a.part);
  const partNote =
    kept > 0 ? ` The ${kept} bytes received so far are kept in ${a.part}; the next run resumes from there.` : "";
  if (reason === "stall")
    return new LocalModelError(
      `The download of ${o.spec} stalled: no data from ${host} for ${Math.round(o.stallTimeoutMs / 1000)} s.${partNote}`,
      { code: "download-failed", cause: err },
    );
  if (reason === "connect" && a.have === 0 && a.received === 0)
    return new LocalModelError(
      waysForwardMessage(`${host} did not answer within ${Math.round(o.connectTimeoutMs / 1000)} s`, o.cacheDir),
      { code: "offline", cause: err },
    );
  const code = errorCode(err);
  // fetch rejects before any response only for network-level failures (DNS, refused, TLS, bad port...).
  if (
    a.received === 0 &&
    (!a.responded || reason === "connect" || (code !== undefined && NETWORK_ERROR_CODES.has(code)))
  )
    return new LocalModelError(
      waysForwardMessage(`downloading ${o.spec} failed because ${describeNetworkError(err, host)}`, o.cacheDir) +
        (kept > 0 ? `\n(${kept} bytes of an earlier attempt are kept in ${a.part} and will be resumed.)` : ""),
      { code: "offline", cause: err },
    );
  return new LocalModelError(
    `The download of ${o.spec} failed: ${err instanceof Error ? err.message : String(err)}.${partNote}`,
    {
      code: "download-failed",
      cause: err,
    },
  );
}

/**
 * Downloads `url` to `dest` through `dest + ".part"`, resuming from the part file's size with a Range request.
 * Throws a LocalModelError: code "offline" when the host cannot be reached at all, "download-failed" otherwise.
 */
async function download(url: string, dest: string, o: DownloadOptions): Promise<void> {
  const part = `${dest}.part`;
  let resumes = 0;
  for (;;) {
    const a: Attempt = { url, part, have: await fileSize(part), received: 0, responded: false };
    const guard = new TimeoutSignal(o.signal);
    try {
      const opened = await openDownload(a, o, guard);
      if (opened === "restart" || opened === "restart-416") {
        await rm(part, { force: true });
        if (opened === "restart-416" && resumes++ >= o.maxResumes)
          throw new LocalModelError(`The download of ${url} keeps failing (HTTP 416)`, { code: "download-failed" });
        continue;
      }
      await writeBody(opened, a, o, guard);
      await rename(part, dest);
      return;
    } catch (err) {
      if (err instanceof LocalModelError) throw err;
      if (guard.reason === "cancel") throw o.signal?.reason ?? err;
      // The connection broke after making progress: resume at once from the bytes received.
      if (guard.reason !== "stall" && a.received > 0 && resumes < o.maxResumes) {
        resumes++;
        continue;
      }
      throw await downloadError(err, guard.reason, a, o);
    } finally {
      guard.dispose();
    }
  }
}

/** Probes that `url` answers at all, within the connect timeout (for URIs handed to node-llama-cpp). */
async function probe(url: string, o: DownloadOptions): Promise<void> {
  const guard = new TimeoutSignal(o.signal);
  const host = new URL(url).host;
  try {
    guard.arm("connect", o.connectTimeoutMs);
    const res = await fetch(url, {
      method: "HEAD",
      headers: o.headers,
      redirect: "follow",
      signal: guard.controller.signal,
    });
    await res.body?.cancel();
  } catch (err) {
    if (guard.reason === "cancel") throw o.signal?.reason ?? err;
    const why =
      guard.reason === "connect"
        ? `${host} did not answer within ${Math.round(o.connectTimeoutMs / 1000)} s`
        : `resolving ${o.spec} failed because ${describeNetworkError(err, host)}`;
    throw new LocalModelError(waysForwardMessage(why, o.cacheDir), { code: "offline", cause: err });
  } finally {
    guard.dispose();
  }
}

const inFlight = new Map<string, Promise<ResolvedLocalModel>>();

/**
 * Resolves a local model spec (see the module comment) to a checked GGUF path. Downloads at most once per file and
 * process (concurrent callers share the download). Throws `LocalModelError`:
 * - "not-found" / "invalid-gguf" for a bad path or file (the message says what is wrong and which file);
 * - "offline" (with the ways forward) when the model must be downloaded and the host is unreachable;
 * - "download-failed" for HTTP errors, stalls and broken transfers (the partial file is kept for resuming).
 */
export async function resolveLocalModel(
  spec: string,
  options: ResolveLocalModelOptions = {},
): Promise<ResolvedLocalModel> {
  const s = stripLocalPrefix(spec.trim());
  if (s === "")
    throw new LocalModelError(
      "The local model spec is empty: pass local:/path/model.gguf or local:hf:OWNER/REPO/FILE.gguf",
      { code: "not-found" },
    );
  if (!isModelUri(s)) {
    const filePath = path.resolve(expandHome(s));
    return { path: filePath, summary: await assertLoadableGguf(filePath), source: "path" };
  }
  const cacheDir = path.resolve(expandHome(options.cacheDir ?? defaultCacheDir()));
  const key = `${cacheDir}\u0000${s}`;
  let pending = inFlight.get(key);
  if (pending === undefined) {
    pending = resolveUri(s, cacheDir, options).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function resolveUri(
  spec: string,
  cacheDir: string,
  options: ResolveLocalModelOptions,
): Promise<ResolvedLocalModel> {
  const target = downloadTargetFor(spec);
  const o: DownloadOptions = {
    headers: { ...(target?.headers ?? {}), ...(options.headers ?? {}) },
    onProgress: options.onProgress,
    signal: options.signal,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    maxResumes: options.maxResumes ?? 5,
    cacheDir,
    spec,
  };

  if (target === undefined) {
    // Other node-llama-cpp URIs (e.g. hf:OWNER/REPO:QUANT): look in the cache without network first, then probe the
    // host so that an offline machine fails at once, then let node-llama-cpp resolve and download.
    try {
      const cached = await resolveModelFile(spec, { directory: cacheDir, download: false, cli: false });
      return { path: cached, summary: await assertLoadableGguf(cached), source: "cache" };
    } catch (err) {
      if (err instanceof LocalModelError) throw err;
    }
    const m = /^(?:hf|huggingface):([^/\s]+)\/([^/\s:#]+)/i.exec(spec);
    const endpoint = huggingFaceEndpoint(process.env);
    await probe(m !== null ? `${endpoint}/api/models/${m[1]}/${m[2]}` : endpoint, o);
    await mkdir(cacheDir, { recursive: true });
    let resolved: string;
    try {
      resolved = await resolveModelFile(spec, {
        directory: cacheDir,
        cli: false,
        signal: options.signal,
        deleteTempFileOnCancel: false,
        onProgress: ({ downloadedSize, totalSize }) =>
          options.onProgress?.({ downloadedBytes: downloadedSize, totalBytes: totalSize }),
      });
    } catch (err) {
      throw new LocalModelError(
        `Cannot resolve the model URI ${spec}: ${err instanceof Error ? err.message : String(err)}`,
        {
          code: "download-failed",
          cause: err,
        },
      );
    }
    return { path: resolved, summary: await assertLoadableGguf(resolved), source: "download" };
  }

  const dest = path.join(cacheDir, target.fileName);
  if ((await fileSize(dest)) > 0) {
    const check = await assertLoadableGguf(dest).catch(async (err: unknown) => {
      // A corrupt cached file (e.g. edited or cut by hand) is moved aside and downloaded again.
      await rename(dest, `${dest}.broken`).catch(() => undefined);
      if (err instanceof LocalModelError) return undefined;
      throw err;
    });
    if (check !== undefined) return { path: dest, summary: check, source: "cache" };
  }
  await mkdir(cacheDir, { recursive: true });
  await download(target.url, dest, o);
  try {
    return { path: dest, summary: await assertLoadableGguf(dest), source: "download" };
  } catch (err) {
    if (err instanceof LocalModelError)
      throw new LocalModelError(
        `${err.message}\nThe file was downloaded from ${target.url}; is it really a GGUF model?`,
        {
          code: "invalid-gguf",
          file: dest,
          cause: err,
        },
      );
    throw err;
  }
}

import { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";

/** Statuses whose response has no body (a `Response` refuses one). */
const NO_BODY = new Set([204, 205, 304]);

const loadUndici = () => import("undici");
let undici: ReturnType<typeof loadUndici> | undefined;

/**
 * The fetch under the OpenAI and Anthropic clients: undici's `request`, the HTTP client Node's own fetch is
 * built on, without the fetch layer's web streams and per-request spec machinery, which cost about 0.2 ms of
 * CPU per call (a third or more of a bare client call) and serve nothing for a JSON request and a JSON reply. It goes
 * through undici's global dispatcher, as Node's fetch does (a proxy agent set there applies). Anything but a
 * plain request (a `Request` object, a form or stream body) goes to Node's fetch; an event stream is passed
 * through as a stream; a compressed reply is decoded. `CODECLM_FETCH=global` uses Node's fetch throughout.
 */
export async function leanFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const { body } = init;
  if (input instanceof Request || !(body == null || typeof body === "string" || body instanceof Uint8Array))
    return fetch(input, init);
  const { request } = await (undici ??= loadUndici());
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => {
    headers[name] = value;
  });
  const reply = await request(String(input), {
    method: (init.method ?? "GET") as "GET",
    headers,
    body: body ?? undefined,
    signal: init.signal ?? undefined,
    maxRedirections: init.redirect === "manual" || init.redirect === "error" ? 0 : 20,
  });
  const replyHeaders = new Headers();
  for (const [name, value] of Object.entries(reply.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) replyHeaders.append(name, item);
  }
  const status = reply.statusCode;
  if (NO_BODY.has(status)) {
    await reply.body.dump();
    return new Response(null, { status, headers: replyHeaders });
  }
  if (replyHeaders.get("content-type")?.includes("text/event-stream") && !replyHeaders.has("content-encoding"))
    return new Response(Readable.toWeb(reply.body) as ReadableStream, { status, headers: replyHeaders });
  const bytes = decode(Buffer.from(await reply.body.arrayBuffer()), replyHeaders);
  return new Response(bytes, { status, headers: replyHeaders });
}

const DECODERS: Record<string, (raw: Buffer) => Buffer> = {
  gzip: gunzipSync,
  "x-gzip": gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/** The reply's bytes without their content encoding (Node's fetch decodes these too). */
function decode(bytes: Buffer, headers: Headers): Buffer {
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  const decoder = encoding ? DECODERS[encoding] : undefined;
  if (!decoder || bytes.length === 0) return bytes;
  headers.delete("content-encoding");
  headers.delete("content-length");
  return decoder(bytes);
}

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

/** Upper bound for "fails fast": under the 15 s default connect timeout, generous for a loaded machine. */
const FAST_MS = 10_000;
import {
  DEFAULT_LOCAL_MODEL,
  defaultCacheDir,
  disposeLocalModels,
  downloadTargetFor,
  LocalChatModel,
  LocalModelError,
  resolveLocalModel,
  waysForwardMessage,
  type DownloadProgress,
} from "../../models/local/index.js";
import { writeTinyLlamaGguf } from "../support/gguf-writer.js";

let dir: string;
let gguf: Buffer;
let bigGguf: Buffer;

/** How the test server answers GET requests. */
type Behaviour =
  | { kind: "ok" }
  /** Send this many bytes of the body, then destroy the socket. */
  | { kind: "drop"; after: number }
  /** Send this many bytes of the body, then go silent (keep the socket open). */
  | { kind: "stall"; after: number }
  | { kind: "status"; status: number }
  /** Ignore any Range header and send the whole file with 200. */
  | { kind: "ignore-range" };

interface TestServer {
  url: (p: string) => string;
  port: number;
  requests: Array<{ method: string; url: string; range: string | undefined }>;
  /** Behaviours for the next GET requests, in order; afterwards "ok". */
  plan: Behaviour[];
  close: () => Promise<void>;
}

const servers: TestServer[] = [];

async function startServer(files: Record<string, Buffer>): Promise<TestServer> {
  const requests: TestServer["requests"] = [];
  const plan: Behaviour[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", range: req.headers.range });
    const file = files[(req.url ?? "").split("?")[0] ?? ""];
    const behaviour = req.method === "GET" ? (plan.shift() ?? { kind: "ok" }) : { kind: "ok" as const };
    if (behaviour.kind === "status") {
      res.writeHead(behaviour.status).end("nope");
      return;
    }
    if (file === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    const m = behaviour.kind === "ignore-range" ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const start = m !== null ? Number(m[1]) : 0;
    if (start >= file.length) {
      res.writeHead(416, { "Content-Range": `bytes */${file.length}` }).end();
      return;
    }
    const body = file.subarray(start);
    res.writeHead(m !== null ? 206 : 200, {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
      "Content-Length": body.length,
      ...(m !== null ? { "Content-Range": `bytes ${start}-${file.length - 1}/${file.length}` } : {}),
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    if (behaviour.kind === "drop") {
      res.write(body.subarray(0, behaviour.after), () => setTimeout(() => req.socket.destroy(), 20));
      return;
    }
    if (behaviour.kind === "stall") {
      res.write(body.subarray(0, behaviour.after));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const s: TestServer = {
    port,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    requests,
    plan,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(s);
  return s;
}

/** A port on which nothing listens (connection refused). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "codeclm-resolve-"));
  gguf = await readFile((await writeTinyLlamaGguf(path.join(dir, "src", "tiny.gguf"))).path);
  // ~3 MB: large enough for the transfer to span many chunks.
  bigGguf = await readFile(
    (
      await writeTinyLlamaGguf(path.join(dir, "src", "big.gguf"), {
        layers: 4,
        embeddingLength: 128,
        feedForwardLength: 512,
        seed: 7,
      })
    ).path,
  );
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await disposeLocalModels();
  await rm(dir, { recursive: true, force: true });
});

const freshCache = (): Promise<string> => mkdtemp(path.join(dir, "cache-"));

describe("resolveLocalModel: paths", () => {
  it("checks a plain path (with or without local:) and reports a missing or broken one", async () => {
    const p = path.join(dir, "src", "tiny.gguf");
    await expect(resolveLocalModel(p)).resolves.toMatchObject({
      path: p,
      source: "path",
      summary: { architecture: "llama" },
    });
    await expect(resolveLocalModel(`local:${p}`)).resolves.toMatchObject({ path: p });
    const missing = await resolveLocalModel(path.join(dir, "nope.gguf")).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(LocalModelError);
    expect((missing as LocalModelError).code).toBe("not-found");
    const broken = path.join(dir, "broken.gguf");
    await writeFile(broken, gguf.subarray(0, 1000));
    const err = await resolveLocalModel(broken).catch((e: unknown) => e);
    expect((err as LocalModelError).code).toBe("invalid-gguf");
  });
});

describe("resolveLocalModel: downloads", () => {
  it("downloads a URL into the cache with progress, then finds it there offline", async () => {
    const server = await startServer({ "/models/tiny.gguf": gguf });
    const cacheDir = await freshCache();
    const progress: DownloadProgress[] = [];
    const url = server.url("/models/tiny.gguf");
    const first = await resolveLocalModel(`local:${url}`, { cacheDir, onProgress: (p) => progress.push(p) });
    expect(first.source).toBe("download");
    expect(path.dirname(first.path)).toBe(cacheDir);
    expect((await readFile(first.path)).equals(gguf)).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ downloadedBytes: gguf.length, totalBytes: gguf.length });
    expect(progress.every((p, i) => i === 0 || p.downloadedBytes >= (progress[i - 1]?.downloadedBytes ?? 0))).toBe(
      true,
    );

    await server.close();
    const second = await resolveLocalModel(url, { cacheDir });
    expect(second).toMatchObject({ source: "cache", path: first.path });
    expect(await readdir(cacheDir)).toEqual([path.basename(first.path)]);
  });

  it("resumes with a Range request when the server drops the connection halfway", async () => {
    const server = await startServer({ "/big.gguf": bigGguf });
    const half = Math.floor(bigGguf.length / 2);
    server.plan.push({ kind: "drop", after: half });
    const cacheDir = await freshCache();
    const r = await resolveLocalModel(server.url("/big.gguf"), { cacheDir });
    expect(r.source).toBe("download");
    expect((await readFile(r.path)).equals(bigGguf)).toBe(true);
    const gets = server.requests.filter((q) => q.method === "GET");
    expect(gets).toHaveLength(2);
    expect(gets[0]?.range).toBeUndefined();
    const resumedFrom = Number(/bytes=(\d+)-/.exec(gets[1]?.range ?? "")?.[1]);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(half);
  });

  it("gives up on a stalled transfer, keeps the partial file, and the next run resumes it", async () => {
    const server = await startServer({ "/big.gguf": bigGguf });
    const third = Math.floor(bigGguf.length / 3);
    server.plan.push({ kind: "stall", after: third });
    const cacheDir = await freshCache();
    const started = Date.now();
    const err = await resolveLocalModel(server.url("/big.gguf"), { cacheDir, stallTimeoutMs: 400 }).catch(
      (e: unknown) => e,
    );
    // Generous on a loaded machine, yet far below the 60 s default stall timeout a regression would wait.
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("download-failed");
    expect((err as Error).message).toContain("stalled");
    expect((err as Error).message).toContain("resumes");
    const [part] = (await readdir(cacheDir)).filter((f) => f.endsWith(".part"));
    expect(part).toBeDefined();
    const kept = (await stat(path.join(cacheDir, part ?? ""))).size;
    expect(kept).toBeGreaterThan(0);

    const r = await resolveLocalModel(server.url("/big.gguf"), { cacheDir });
    expect((await readFile(r.path)).equals(bigGguf)).toBe(true);
    const lastGet = server.requests.filter((q) => q.method === "GET").at(-1);
    expect(lastGet?.range).toBe(`bytes=${kept}-`);
    expect((await readdir(cacheDir)).some((f) => f.endsWith(".part"))).toBe(false);
  });

  it("starts over when the server ignores the Range header or the partial file does not fit", async () => {
    const server = await startServer({ "/tiny.gguf": gguf });
    const target = downloadTargetFor(server.url("/tiny.gguf"));
    const partName = `${target?.fileName ?? ""}.part`;

    const cacheA = await freshCache();
    await writeFile(path.join(cacheA, partName), Buffer.alloc(1000, 1)); // garbage that must not end up in the file
    server.plan.push({ kind: "ignore-range" });
    const a = await resolveLocalModel(server.url("/tiny.gguf"), { cacheDir: cacheA });
    expect((await readFile(a.path)).equals(gguf)).toBe(true);

    const cacheB = await freshCache();
    await writeFile(path.join(cacheB, partName), Buffer.alloc(gguf.length + 10, 1)); // longer than the file: HTTP 416
    const b = await resolveLocalModel(server.url("/tiny.gguf"), { cacheDir: cacheB });
    expect((await readFile(b.path)).equals(gguf)).toBe(true);
  });

  it("maps hf: URIs to Hugging Face resolve URLs (HF_ENDPOINT honoured) and downloads them", async () => {
    const server = await startServer({ "/acme/tiny-GGUF/resolve/main/tiny-q8.gguf": gguf });
    const saved = process.env["HF_ENDPOINT"];
    process.env["HF_ENDPOINT"] = server.url("");
    try {
      const target = downloadTargetFor("hf:acme/tiny-GGUF/tiny-q8.gguf");
      expect(target?.url).toBe(server.url("/acme/tiny-GGUF/resolve/main/tiny-q8.gguf"));
      const cacheDir = await freshCache();
      const r = await resolveLocalModel("hf:acme/tiny-GGUF/tiny-q8.gguf", { cacheDir });
      expect(r.source).toBe("download");
      expect(path.basename(r.path)).toBe("hf_acme_tiny-GGUF_tiny-q8.gguf");
    } finally {
      if (saved === undefined) delete process.env["HF_ENDPOINT"];
      else process.env["HF_ENDPOINT"] = saved;
    }
    expect(downloadTargetFor("hf:o/r/sub/dir/m.gguf#v2", {})?.url).toBe(
      "https://huggingface.co/o/r/resolve/v2/sub/dir/m.gguf",
    );
    expect(downloadTargetFor("hf:o/r/m.gguf", { HF_TOKEN: "secret" })?.headers).toEqual({
      Authorization: "Bearer secret",
    });
    expect(downloadTargetFor(DEFAULT_LOCAL_MODEL, {})?.url).toBe(
      "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/main/qwen2.5-1.5b-instruct-q4_k_m.gguf",
    );
  });

  it("reports HTTP errors with a hint, and a downloaded non-GGUF as invalid", async () => {
    const server = await startServer({ "/page.gguf": Buffer.from("<html>login required</html>".repeat(4)) });
    const cacheDir = await freshCache();
    const e404 = (await resolveLocalModel(server.url("/missing.gguf"), { cacheDir }).catch(
      (e: unknown) => e,
    )) as LocalModelError;
    expect(e404.code).toBe("download-failed");
    expect(e404.message).toContain("HTTP 404");
    server.plan.push({ kind: "status", status: 401 });
    const e401 = (await resolveLocalModel(server.url("/page.gguf"), { cacheDir }).catch(
      (e: unknown) => e,
    )) as LocalModelError;
    expect(e401.message).toContain("HF_TOKEN");
    const html = (await resolveLocalModel(server.url("/page.gguf"), { cacheDir }).catch(
      (e: unknown) => e,
    )) as LocalModelError;
    expect(html.code).toBe("invalid-gguf");
    expect(html.message).toContain("not a GGUF file");
  });
});

describe("resolveLocalModel: offline", () => {
  /**
   * "Fast": well below the 15 s default connect timeout (and the retries) that a regression would wait, yet
   * generous enough for a loaded 2-core machine.
   */
  const expectWaysForward = (message: string): void => {
    expect(message).toContain("No local model is available");
    expect(message).toContain("--strong local:/path/model.gguf");
    expect(message).toContain("OPENAI_BASE_URL");
    expect(message).toContain("--strong openai:MODEL");
    expect(message).toContain("OPENAI_API_KEY");
    expect(message).toContain("GOOGLE_API_KEY");
  };

  it("fails fast with the ways forward when the host refuses connections", async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await resolveLocalModel(`http://127.0.0.1:${port}/m.gguf`, { cacheDir: await freshCache() }).catch(
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(FAST_MS);
    expect(err).toBeInstanceOf(LocalModelError);
    expect((err as LocalModelError).code).toBe("offline");
    expectWaysForward((err as Error).message);
    expect((err as Error).message).toContain("refused");
  });

  it("fails fast when the host accepts but never answers (connect timeout)", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const err = await resolveLocalModel(`http://127.0.0.1:${port}/m.gguf`, {
        cacheDir: await freshCache(),
        connectTimeoutMs: 300,
      }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(FAST_MS);
      expect((err as LocalModelError).code).toBe("offline");
      expectWaysForward((err as Error).message);
      expect((err as Error).message).toContain("did not answer");
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("makes the default model fail fast with the ways forward when it is not cached and the hub is unreachable", async () => {
    const port = await closedPort();
    const saved = process.env["HF_ENDPOINT"];
    process.env["HF_ENDPOINT"] = `http://127.0.0.1:${port}`;
    try {
      const cacheDir = await freshCache();
      const model = new LocalChatModel({ model: DEFAULT_LOCAL_MODEL, cacheDir, gpu: false });
      const started = Date.now();
      const err = await model.invoke("hi").catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(FAST_MS);
      expect((err as LocalModelError).code).toBe("offline");
      expectWaysForward((err as Error).message);
      expect((err as Error).message).toContain(cacheDir);
    } finally {
      if (saved === undefined) delete process.env["HF_ENDPOINT"];
      else process.env["HF_ENDPOINT"] = saved;
    }
  });

  it("fails fast for URIs handed to node-llama-cpp (hf:OWNER/REPO:QUANT) too", async () => {
    const port = await closedPort();
    const saved = process.env["HF_ENDPOINT"];
    process.env["HF_ENDPOINT"] = `http://127.0.0.1:${port}`;
    try {
      const started = Date.now();
      const err = await resolveLocalModel("hf:acme/some-model-GGUF:Q4_K_M", { cacheDir: await freshCache() }).catch(
        (e: unknown) => e,
      );
      expect(Date.now() - started).toBeLessThan(FAST_MS);
      expect((err as LocalModelError).code).toBe("offline");
      expectWaysForward((err as Error).message);
    } finally {
      if (saved === undefined) delete process.env["HF_ENDPOINT"];
      else process.env["HF_ENDPOINT"] = saved;
    }
  });

  it("uses CODECLM_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache for the cache directory", () => {
    expect(defaultCacheDir({ CODECLM_CACHE_DIR: "/x/models" })).toBe("/x/models");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/codeclm/models");
    expect(defaultCacheDir({})).toBe(path.join(os.homedir(), ".cache", "codeclm", "models"));
    expect(waysForwardMessage("test")).toContain("No local model is available: test.");
  });

  it("serves a cached default model without any network", async () => {
    const port = await closedPort();
    const saved = process.env["HF_ENDPOINT"];
    process.env["HF_ENDPOINT"] = `http://127.0.0.1:${port}`;
    try {
      const cacheDir = await freshCache();
      const name = downloadTargetFor(DEFAULT_LOCAL_MODEL)?.fileName ?? "";
      await writeFile(path.join(cacheDir, name), gguf); // stands in for the real download
      const model = new LocalChatModel({
        model: DEFAULT_LOCAL_MODEL,
        cacheDir,
        gpu: false,
        threads: 1,
        maxTokens: 4,
        temperature: 0,
      });
      const loaded = await model.load();
      expect(loaded.path).toBe(path.join(cacheDir, name));
      const answer = await model.invoke("hi");
      expect(answer.usage_metadata?.output_tokens).toBeGreaterThan(0);
    } finally {
      if (saved === undefined) delete process.env["HF_ENDPOINT"];
      else process.env["HF_ENDPOINT"] = saved;
    }
  });
});

/**
 * In-process stand-in for the LangSmith API, enough for the `langsmith` client (0.12) to trace runs and
 * upload a dataset to it offline: `/info`, run ingestion (`/runs/multipart`, `/runs/batch`, `/runs`,
 * `PATCH /runs/:id`), and datasets (`/datasets`, `/v1/platform/datasets/:id/examples`, `/examples/:id`).
 * Runs are merged by id (a create, then its update) so a test can rebuild the run tree.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface TracedRun {
  id: string;
  name?: string;
  run_type?: string;
  parent_run_id?: string;
  trace_id?: string;
  dotted_order?: string;
  session_name?: string;
  tags?: string[];
  extra?: { metadata?: Record<string, unknown> } & Record<string, unknown>;
  inputs?: unknown;
  outputs?: unknown;
  error?: unknown;
  start_time?: unknown;
  end_time?: unknown;
}

export interface StoredExample {
  id: string;
  dataset_id: string;
  inputs?: unknown;
  outputs?: unknown;
  metadata?: Record<string, unknown>;
}

export interface FakeLangSmith {
  url: string;
  runs: Map<string, TracedRun>;
  datasets: Array<{ id: string; name: string; description?: string }>;
  examples: StoredExample[];
  /** Every request body as received (decompressed), to check that no secret was sent. */
  bodies: string[];
  /** The API keys presented (header `x-api-key`). */
  apiKeys: Set<string>;
  close(): Promise<void>;
}

function merge(runs: Map<string, TracedRun>, run: TracedRun): void {
  const existing = runs.get(run.id) ?? { id: run.id };
  runs.set(run.id, {
    ...existing,
    ...Object.fromEntries(Object.entries(run).filter(([, value]) => value !== undefined)),
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Parts of a multipart body, by name, as text. */
async function multipart(body: Buffer, contentType: string): Promise<Map<string, string>> {
  const form = await new Response(body, { headers: { "content-type": contentType } }).formData();
  const parts = new Map<string, string>();
  for (const [name, value] of form.entries()) parts.set(name, typeof value === "string" ? value : await value.text());
  return parts;
}

export async function startFakeLangSmith(): Promise<FakeLangSmith> {
  const runs = new Map<string, TracedRun>();
  const datasets: FakeLangSmith["datasets"] = [];
  const examples: StoredExample[] = [];
  const bodies: string[] = [];
  const apiKeys = new Set<string>();

  const ingestMultipart = (parts: Map<string, string>) => {
    const byRun = new Map<string, TracedRun>();
    for (const [name, text] of parts) {
      const match = /^(post|patch)\.([^.]+)(?:\.(\w+))?$/.exec(name);
      if (!match) continue;
      const [, , id, field] = match;
      const run = byRun.get(id!) ?? { id: id! };
      if (field) (run as unknown as Record<string, unknown>)[field] = JSON.parse(text);
      else Object.assign(run, JSON.parse(text));
      byRun.set(id!, run);
    }
    for (const run of byRun.values()) merge(runs, run);
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname;
      const key = req.headers["x-api-key"];
      if (typeof key === "string") apiKeys.add(key);
      const body = await readBody(req);
      const text = body.toString("utf8");
      bodies.push(text);
      const method = req.method ?? "GET";

      if (method === "GET" && path === "/info") {
        return send(res, 200, {
          version: "0.10.0",
          instance_flags: { dataset_examples_multipart_enabled: true },
          batch_ingest_config: {
            use_multipart_endpoint: true,
            size_limit: 100,
            size_limit_bytes: 20_971_520,
            scale_up_nthreads_limit: 16,
            scale_up_qsize_trigger: 1000,
            scale_down_nempty_trigger: 4,
          },
        });
      }
      if (method === "POST" && path === "/runs/multipart") {
        ingestMultipart(await multipart(body, String(req.headers["content-type"])));
        return send(res, 202, {});
      }
      if (method === "POST" && path === "/runs/batch") {
        const batch = JSON.parse(text) as { post?: TracedRun[]; patch?: TracedRun[] };
        for (const run of [...(batch.post ?? []), ...(batch.patch ?? [])]) merge(runs, run);
        return send(res, 202, {});
      }
      if (method === "POST" && path === "/runs") {
        merge(runs, JSON.parse(text) as TracedRun);
        return send(res, 202, {});
      }
      const runPatch = /^\/runs\/([^/]+)$/.exec(path);
      if (method === "PATCH" && runPatch) {
        merge(runs, { ...(JSON.parse(text) as TracedRun), id: runPatch[1]! });
        return send(res, 202, {});
      }
      if (method === "GET" && path === "/datasets") {
        const name = url.searchParams.get("name");
        return send(
          res,
          200,
          datasets.filter((dataset) => name === null || dataset.name === name),
        );
      }
      if (method === "POST" && path === "/datasets") {
        const request = JSON.parse(text) as { name: string; description?: string };
        if (datasets.some((dataset) => dataset.name === request.name))
          return send(res, 409, { detail: "Dataset already exists" });
        const dataset = {
          id: randomUUID(),
          name: request.name,
          description: request.description,
          created_at: new Date().toISOString(),
        };
        datasets.push(dataset);
        return send(res, 200, dataset);
      }
      const upload = /^\/v1\/platform\/datasets\/([^/]+)\/examples$/.exec(path);
      if (method === "POST" && upload) {
        const parts = await multipart(body, String(req.headers["content-type"]));
        const ids: string[] = [];
        for (const [name, value] of parts) {
          if (name.includes(".")) continue;
          const main = JSON.parse(value) as { metadata?: Record<string, unknown> };
          const inputs = parts.get(`${name}.inputs`);
          const outputs = parts.get(`${name}.outputs`);
          examples.push({
            id: name,
            dataset_id: upload[1]!,
            metadata: main.metadata,
            ...(inputs ? { inputs: JSON.parse(inputs) } : {}),
            ...(outputs ? { outputs: JSON.parse(outputs) } : {}),
          });
          ids.push(name);
        }
        return send(res, 201, { example_ids: ids, count: ids.length });
      }
      const example = /^\/examples\/([^/]+)$/.exec(path);
      if (method === "GET" && example) {
        const found = examples.find((item) => item.id === example[1]);
        return found
          ? send(res, 200, { ...found, created_at: new Date().toISOString() })
          : send(res, 404, { detail: "not found" });
      }
      send(res, 404, { detail: `no route for ${method} ${path}` });
    } catch (error) {
      send(res, 500, { detail: (error as Error).message });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    runs,
    datasets,
    examples,
    bodies,
    apiKeys,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

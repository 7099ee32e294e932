/**
 * The LangGraph dev server (what `npm run dev` and Studio use) serving langgraph.json's graph: found by
 * the SDK's Client, its schemas read, and a run on a few seeds against the local OpenAI-protocol server,
 * its events streamed and its final state read. The models come from the run's context, since the
 * server runs the graph in its own process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeptPairSchema } from "../../lib/records.js";
import { freePort } from "../../scripts/dev.js";
import { startCodecServer } from "../support/codec-server.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { stopProcessGroup } from "../support/process-group.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const READY_MS = 45_000;

interface DevServer {
  child: ChildProcess;
  url: string;
  log: () => string;
}

/** A port taken between choosing it and binding it: tried again on another port, never a skip. */
const PORT_RACE = /EADDRINUSE/;
const PORT_ATTEMPTS = 3;

async function startDevServer(): Promise<DevServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts/dev.ts"), "--port", String(port)], {
    cwd: root,
    detached: true, // its own process group: the CLI starts the API server as a grandchild
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1", BROWSER: "none" },
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, url: `http://127.0.0.1:${port}`, log: () => output };
}

async function waitReady(server: DevServer): Promise<"ready" | "exited" | "timeout"> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return "exited";
    try {
      const response = await fetch(`${server.url}/ok`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return "ready";
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return "timeout";
}

const stopDevServer = (server: DevServer | undefined): Promise<void> => stopProcessGroup(server?.child);

describe("LangGraph dev server (npm run dev)", () => {
  let models: FakeOpenAIServer;
  let server: DevServer | undefined;
  const hadApiDir = existsSync(join(root, ".langgraph_api"));
  const hadEnv = existsSync(join(root, ".env"));

  beforeAll(
    async () => {
      models = await startCodecServer();
      // A missing CLI or any other failure to start fails the test (it used to skip); a port race is retried.
      for (let attempt = 1; ; attempt++) {
        server = await startDevServer();
        const state = await waitReady(server);
        if (state === "ready") return;
        const log = server.log();
        await stopDevServer(server);
        if (!PORT_RACE.test(log) || attempt === PORT_ATTEMPTS) {
          throw new Error(`the dev server did not come up (${state}, attempt ${attempt}):\n${log.slice(-4000)}`);
        }
      }
    },
    PORT_ATTEMPTS * (READY_MS + 15_000),
  );

  afterAll(async () => {
    await stopDevServer(server);
    await models?.close();
    if (!hadApiDir) await rm(join(root, ".langgraph_api"), { recursive: true, force: true });
    if (!hadEnv) await rm(join(root, ".env"), { force: true });
  }, 20_000);

  it("serves the graph: assistant, schemas, drawing, and a streamed run read back from the thread", async () => {
    const client = new Client({ apiUrl: server!.url });

    const assistants = await client.assistants.search({ graphId: "codeclm" });
    expect(assistants).toHaveLength(1);
    const assistant = assistants[0]!;

    // Schemas: the input (seeds or metadata) and the config form with its descriptions and defaults.
    const schemas = await client.assistants.getSchemas(assistant.assistant_id);
    const input = schemas.input_schema as { properties: Record<string, { description?: string }> };
    expect(Object.keys(input.properties).sort()).toEqual(["metadata", "runId", "seeds"]);
    expect(input.properties.seeds!.description).toMatch(/seed instructions/i);
    const config = (schemas.context_schema ?? schemas.config_schema) as {
      properties: Record<string, { description?: string; default?: unknown }>;
    };
    expect(config.properties.size).toMatchObject({ default: 100 });
    expect(config.properties.theta).toMatchObject({ default: 3 });
    expect(config.properties.theta!.description).toMatch(/threshold/i);
    expect(config.properties.dedupeThreshold).toMatchObject({ default: 0.7 });
    expect(config.properties.strong!.description).toMatch(/strong LLM/);

    // The drawing, with the per-instruction loop visible.
    const drawn = await client.assistants.getGraph(assistant.assistant_id, { xray: 1 });
    const ids = drawn.nodes.map((node) => String(node.id));
    for (const name of [
      "encode",
      "build-pool",
      "review-pool",
      "decode",
      "instruction:answer",
      "instruction:contrastive-judge",
      "instruction:rubric-generate",
      "instruction:action-apply",
    ]) {
      expect(ids).toContain(name);
    }

    // A run on three seeds, models from the run's context.
    const thread = await client.threads.create();
    const role = (model: string) => ({ model: `openai:${model}`, baseUrl: models.url });
    const events: Array<{ event: string; data: unknown }> = [];
    for await (const chunk of client.runs.stream(thread.thread_id, assistant.assistant_id, {
      input: {
        seeds: [
          { id: "s1", instruction: "Write a short poem about the sea." },
          { id: "s2", instruction: "Explain how a hash map works, with a Python example." },
          { id: "s3", instruction: "Give three tips for saving money on groceries." },
        ],
      },
      context: { strong: role("strong-model"), target: role("target-model"), size: 4, poolSize: 4, seed: 3 },
      streamMode: ["updates", "values"],
    })) {
      events.push({ event: chunk.event, data: chunk.data });
    }
    const errors = events.filter((event) => event.event === "error");
    expect(errors).toEqual([]);
    const updatedNodes = new Set(
      events.filter((event) => event.event === "updates").flatMap((event) => Object.keys(event.data as object)),
    );
    for (const node of [
      "prepare",
      "encode",
      "build-pool",
      "decode",
      "schedule",
      "instruction",
      "collect",
      "finalize",
    ]) {
      expect(updatedNodes).toContain(node);
    }

    const state = await client.threads.getState<{ kept: unknown[]; summary: Record<string, unknown> }>(
      thread.thread_id,
    );
    const kept = state.values.kept.map((pair) => KeptPairSchema.parse(pair));
    expect(kept).toHaveLength(4);
    expect(state.values.summary).toMatchObject({ status: "complete", kept: 4, requested: 4 });
    expect(models.counters.completed).toBeGreaterThan(0);
  });

  it("gives each run its own budget: the same settings and a small call budget, twice", async () => {
    const client = new Client({ apiUrl: server!.url });
    const [assistant] = await client.assistants.search({ graphId: "codeclm" });
    const role = (model: string) => ({ model: `openai:${model}`, baseUrl: models.url });
    const input = {
      seeds: [
        { id: "s1", instruction: "Write a short poem about the sea." },
        { id: "s2", instruction: "Explain how a hash map works, with a Python example." },
      ],
    };
    const base = { strong: role("strong-model"), target: role("target-model"), size: 2, poolSize: 2, seed: 9 };
    const run = async (context: Record<string, unknown>) => {
      const thread = await client.threads.create();
      const before = models.counters.completed;
      const result = await client.runs.wait(thread.thread_id, assistant!.assistant_id, { input, context });
      const state = await client.threads.getState<{ summary?: { status: string; spend?: { calls: number } } }>(
        thread.thread_id,
      );
      return { calls: models.counters.completed - before, summary: state.values.summary, result };
    };
    // What one run needs, then a budget that holds one run but not two.
    const whole = await run(base);
    expect(whole.summary?.status).toBe("complete");
    const budget = { maxCalls: whole.calls + 2 };
    const first = await run({ ...base, budget });
    const second = await run({ ...base, budget });
    expect(first.summary?.status).toBe("complete");
    expect(second.summary?.status).toBe("complete");
    expect([first.calls, second.calls]).toEqual([whole.calls, whole.calls]);
    expect(second.summary?.spend?.calls).toBe(whole.calls);
  }, 120_000);

  it("stops for the pool's review with reviewPool on, and resumed with a 3-metadata pool keeps its size from those 3", async () => {
    const client = new Client({ apiUrl: server!.url });
    const [assistant] = await client.assistants.search({ graphId: "codeclm" });
    const role = (model: string) => ({ model: `openai:${model}`, baseUrl: models.url });
    const context = {
      strong: role("strong-model"),
      target: role("target-model"),
      size: 6,
      poolSize: 6,
      seed: 4,
      reviewPool: true,
    };
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, assistant!.assistant_id, {
      input: {
        seeds: [
          { id: "s1", instruction: "Write a short poem about the sea." },
          { id: "s2", instruction: "Explain how a hash map works, with a Python example." },
          { id: "s3", instruction: "Give three tips for saving money on groceries." },
        ],
      },
      context,
    });
    type Entry = { id: string; useCase: string; skills: string[] };
    const waiting = await client.threads.getState<{ kept?: unknown[] }>(thread.thread_id);
    expect(waiting.next).toEqual(["review-pool"]);
    const interrupts = waiting.tasks.flatMap((task) => task.interrupts) as Array<{ value: { pool: Entry[] } }>;
    const pool = interrupts[0]!.value.pool;
    expect(pool).toHaveLength(6);
    expect(waiting.values.kept ?? []).toHaveLength(0);

    const reviewed = [pool[0]!, pool[1]!, { useCase: "Explaining tax forms", skills: ["plain language"] }];
    await client.runs.wait(thread.thread_id, assistant!.assistant_id, {
      command: { resume: { pool: reviewed } },
      context,
    });
    const state = await client.threads.getState<{ kept: unknown[]; pool: Entry[]; summary: Record<string, unknown> }>(
      thread.thread_id,
    );
    expect(state.values.summary).toMatchObject({ status: "complete", kept: 6 });
    expect(state.values.pool.map((entry) => entry.useCase)).toEqual(reviewed.map((entry) => entry.useCase));
    const kept = state.values.kept.map((pair) => KeptPairSchema.parse(pair));
    expect(kept).toHaveLength(6);
    const ids = new Set(state.values.pool.map((entry) => entry.id));
    for (const pair of kept) expect(ids.has(pair.lineage.metadataId)).toBe(true);
  }, 120_000);
});

/**
 * Runs through the real ChatOpenAI client against a server that misbehaves: rate limits with
 * Retry-After, 500s and 503s, malformed JSON, dropped connections and hanging requests; an endpoint
 * that goes down for good (the run stops resumably) and comes back; and files that lost records in a
 * crash, restored from the checkpoints on resume.
 */
import { appendFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputPathsFor } from "../../runner/output.js";
import { type RunOptions, runToFiles } from "../../runner/run.js";
import type { CodecConfigInput } from "../../lib/config.js";
import type { Seed } from "../../lib/records.js";
import { codecReply, hashText } from "../support/codec-responder.js";
import type { FakeOpenAIServer, FaultKind } from "../support/openai-server.js";
import { ScriptedChatModel } from "../support/scripted-model.js";
import { keptIds, readJson, readJsonl, readRecords, startCodecServer } from "./support.js";

const seeds: Seed[] = Array.from({ length: 12 }, (_, i) => ({
  id: `s${i}`,
  instruction: `Seed ${i}: write about topic ${i % 5} in style ${i}`,
}));
const KEY = "sk-test-faults-0123456789abcdef";
const waitUntil = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
};

const config = (extra: CodecConfigInput = {}): CodecConfigInput => ({
  size: 60,
  poolSize: 14,
  seed: 11,
  concurrency: 12,
  strong: { model: "openai:strong-model" },
  target: { model: "openai:target-model" },
  ...extra,
});

function options(server: FakeOpenAIServer, dir: string, name: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    input: { seeds },
    config: config(),
    paths: outputPathsFor(join(dir, `${name}.jsonl`)),
    graph: { env: { OPENAI_BASE_URL: server.url, OPENAI_API_KEY: KEY } },
    random: () => 0.5,
    ...extra,
  };
}

describe("runs under faults", () => {
  let dir: string;
  let clean: FakeOpenAIServer;
  const reference = { kept: [] as unknown[], dropped: [] as unknown[], calls: 0 };
  /** The output equals the reference run's, record for record in file order (all fields but run ids and timings). */
  const expectReferenceOutput = async (name: string) => {
    expect(await readRecords(join(dir, `${name}.jsonl`))).toEqual(reference.kept);
    expect(await readRecords(join(dir, `${name}.dropped.jsonl`))).toEqual(reference.dropped);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codeclm-faults-"));
    clean = await startCodecServer({ recordRequests: false });
    const summary = await runToFiles(options(clean, dir, "reference"));
    expect(summary.status).toBe("complete");
    reference.kept = await readRecords(join(dir, "reference.jsonl"));
    reference.dropped = await readRecords(join(dir, "reference.dropped.jsonl"));
    expect(reference.kept).toHaveLength(60);
    reference.calls = clean.counters.completed;
  }, 180_000);
  afterAll(async () => clean?.close());

  it("429s (Retry-After honoured), 500s, 503s, malformed JSON, drops and hangs: exactly N kept, no duplicates, every failure counted", async () => {
    const kinds: FaultKind[] = ["429", "500", "malformed-json", "drop", "503", "hang"];
    const arrivals = new Map<string, number[]>();
    const rateLimited: Array<{ key: string; at: number }> = [];
    const server = await startCodecServer({
      retryAfterSeconds: 0.25,
      latencyMs: { mean: 3, jitter: 2 },
      fault: (request, index) => {
        const key = `${request.model}|${request.messages.map((message) => message.content).join("\n")}`;
        const now = performance.now();
        arrivals.set(key, [...(arrivals.get(key) ?? []), now]);
        if (index % 5 !== 2) return undefined;
        const kind = kinds[Math.floor(index / 5) % kinds.length]!;
        // Truncated free text cannot be told from a short answer: malformed JSON only where JSON is asked for.
        if (kind === "malformed-json" && request.mode === "text") return undefined;
        if (kind === "429") rateLimited.push({ key, at: now });
        return kind;
      },
    });
    try {
      // Long enough that a loaded machine does not turn a slow answer into a timeout; every hang still times out.
      const summary = await runToFiles(options(server, dir, "faults", { config: config({ timeoutSeconds: 2 }) }));
      expect(summary.status).toBe("complete");
      const kept = await keptIds(join(dir, "faults.jsonl"));
      expect(kept).toHaveLength(60);
      expect(new Set(kept).size).toBe(60);
      await expectReferenceOutput("faults");

      const injected = server.counters.faults;
      expect(
        injected["429"] +
          injected["500"] +
          injected["503"] +
          injected.drop +
          injected.hang +
          injected["malformed-json"],
      ).toBeGreaterThan(60);
      for (const kind of kinds) expect(injected[kind]).toBeGreaterThan(0);
      const { transport, spend } = summary;
      expect(transport?.faults["rate-limit"] ?? 0).toBe(injected["429"]);
      expect(transport?.faults.server ?? 0).toBe(injected["500"] + injected["503"]);
      expect(transport?.faults.connection ?? 0).toBe(injected.drop);
      expect(transport?.faults.timeout ?? 0).toBeGreaterThanOrEqual(injected.hang);
      expect(transport?.malformed).toBe(injected["malformed-json"]);
      expect(transport?.givenUp).toBe(0);
      // Every answered request is accounted for, malformed ones included; nothing else was paid.
      expect(spend?.calls).toBe(server.counters.completed);
      expect(summary.calls.total.failedCalls).toBe(injected["malformed-json"]);
      // A 429 asked for 250 ms: the same call did not come back sooner.
      expect(rateLimited.length).toBe(injected["429"]);
      for (const { key, at } of rateLimited) {
        const next = arrivals.get(key)!.find((time) => time > at);
        expect(next).toBeDefined();
        expect(next! - at).toBeGreaterThanOrEqual(249);
      }
    } finally {
      await server.close();
    }
  }, 180_000);

  it("under a server-side limit of 8 calls in flight, adaptive concurrency backs off (fewer 429s than a fixed limit) and recovers", async () => {
    const rateLimited = async (adaptive: boolean) => {
      const server: FakeOpenAIServer | undefined = await startCodecServer({
        latencyMs: { mean: 15, jitter: 5 },
        retryAfterSeconds: 0.1,
        recordRequests: false,
        fault: () => ((server?.counters.inFlight ?? 0) > 8 ? "429" : undefined),
      });
      const limits: number[] = [];
      try {
        const summary = await runToFiles(
          options(server, dir, `limited-${adaptive}`, {
            config: config({ concurrency: 32, adaptiveConcurrency: adaptive }),
            checkpoint: { kind: "none" },
            progressIntervalMs: 50,
            onEvent: (event) => {
              if (event.type === "progress") limits.push(...event.progress.endpoints.map((endpoint) => endpoint.limit));
            },
          }),
        );
        expect(summary.status).toBe("complete");
        await expectReferenceOutput(`limited-${adaptive}`);
        expect(summary.transport?.faults["rate-limit"]).toBe(server.counters.faults["429"]);
        const lowest = Math.min(...limits);
        return {
          rateLimited: server.counters.faults["429"],
          lowest,
          after: Math.max(...limits.slice(limits.indexOf(lowest))),
        };
      } finally {
        await server.close();
      }
    };
    // Rate limits never cost an instruction, however many: both runs keep the reference pairs.
    const fixed = await rateLimited(false);
    const adaptive = await rateLimited(true);
    // Counts and order, not speed: the fixed limit never moved; the adaptive one halved at least once, grew
    // back, and drew fewer 429s than the fixed one.
    expect(fixed.lowest).toBe(32);
    expect(adaptive.lowest).toBeLessThanOrEqual(16);
    expect(adaptive.after).toBeGreaterThan(adaptive.lowest); // grew back
    expect(adaptive.rateLimited).toBeLessThan(fixed.rateLimited);
  }, 180_000);

  it("an endpoint that stays down stops the run resumably; when it is back, --resume completes it", async () => {
    let down = false;
    const server = await startCodecServer({ fault: () => (down ? "500" : undefined) });
    try {
      // Exact call counts need waves only: with spares, which instructions past the size run depends on
      // timing. The files are the reference's all the same.
      const wavesOnly = config({ giveUpAfterSeconds: 1, spares: "off" });
      await runToFiles(options(server, dir, "waves-only", { config: wavesOnly }));
      await expectReferenceOutput("waves-only");
      const calls = server.counters.completed;
      const run = options(server, dir, "outage", { config: wavesOnly });
      const pending = runToFiles(run);
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (server.counters.completed >= calls * 1.4) {
            clearInterval(check);
            down = true;
            resolve();
          }
        }, 5);
      });
      const stopped = await pending;
      expect(stopped.status).toBe("stopped");
      expect(stopped.stopReason).toMatch(
        /openai:strong-model at http:\/\/127\.0\.0\.1:\d+\/v1 kept failing for \d+ s without a single success/,
      );
      expect(stopped.transport?.faults.server).toBeGreaterThan(0);
      expect(stopped.transport?.givenUp).toBe(0); // the outage cost no instruction
      expect(
        (await readJsonl(join(dir, "outage.dropped.jsonl"))).filter((record) => record.reason === "failure"),
      ).toEqual([]);
      // Few requests hit the dead endpoint: the breaker paused it and probed one call at a time.
      expect(server.counters.faults["500"]).toBeLessThan(60);

      down = false;
      const resumed = await runToFiles({ ...run, resume: true });
      expect(resumed.status).toBe("complete");
      await expectReferenceOutput("outage");
      expect(server.counters.completed).toBe(2 * calls);
    } finally {
      await server.close();
    }
  }, 180_000);

  it.each(["400", "422"] as const)(
    "a %s (bad request) is not retried: recorded as a failure of its step; the run still keeps N",
    async (kind) => {
      const promptOf = (request: { messages: Array<{ content: string }> }) =>
        request.messages.map((message) => message.content).join("\n");
      const refused = new Set<string>();
      const server = await startCodecServer({
        recordRequests: true,
        // Some target answers are refused, every time they are asked.
        fault: (request) => {
          if (request.model !== "target-model" || hashText(promptOf(request)) % 8 !== 0) return undefined;
          refused.add(promptOf(request));
          return kind;
        },
      });
      try {
        const summary = await runToFiles(options(server, dir, `bad-request-${kind}`, { checkpoint: { kind: "none" } }));
        expect(summary.status).toBe("complete");
        expect(await keptIds(join(dir, `bad-request-${kind}.jsonl`))).toHaveLength(60);
        const failures = (await readJsonl(join(dir, `bad-request-${kind}.dropped.jsonl`))).filter(
          (record) => record.reason === "failure",
        );
        expect(refused.size).toBeGreaterThan(0);
        expect(failures).toHaveLength(refused.size);
        for (const record of failures) {
          expect(record.step).toBe("answer-target");
          expect(String(record.error)).toContain(kind);
        }
        expect(summary.failures).toEqual({ "answer-target": refused.size });
        // Not retried: each refused prompt reached the server once.
        const asked = server.requests.filter(
          (request) => refused.has(promptOf(request)) && request.model === "target-model",
        );
        expect(asked).toHaveLength(refused.size);
        expect(summary.transport?.faults.fatal).toBe(refused.size);
      } finally {
        await server.close();
      }
    },
    180_000,
  );

  it.each(["401", "403", "404"] as const)(
    "a %s (key, access, model) fails the run at once, resumably; after the fix --resume completes it",
    async (kind) => {
      let refusing = false;
      const server = await startCodecServer({ recordRequests: false, fault: () => (refusing ? kind : undefined) });
      try {
        const run = options(server, dir, `refused-${kind}`);
        const pending = runToFiles(run).catch((error: Error) => error);
        await waitUntil(() => server.counters.completed >= reference.calls * 0.3);
        refusing = true;
        const failed = await pending;
        expect(failed).toBeInstanceOf(Error);
        expect((failed as Error).message).toContain(`refused the call (HTTP ${kind})`);
        const refusedCalls = server.counters.faults[kind];
        // Fails the run, not the instructions: about the calls in flight were refused (a few more may start
        // before the failure reaches the scheduler), and none became a failed instruction.
        expect(refusedCalls).toBeGreaterThan(0);
        expect(refusedCalls).toBeLessThanOrEqual(2 * config().concurrency!);
        expect(
          (await readJsonl(join(dir, `refused-${kind}.dropped.jsonl`))).filter((record) => record.reason === "failure"),
        ).toEqual([]);
        const state = await readJson(join(dir, `refused-${kind}.run.json`));
        expect(state.status).toBe("failed");
        expect(state.error).toContain(`HTTP ${kind}`);

        refusing = false;
        const resumed = await runToFiles({ ...run, resume: true });
        expect(resumed.status).toBe("complete");
        await expectReferenceOutput(`refused-${kind}`);
      } finally {
        await server.close();
      }
    },
    180_000,
  );

  it("a 429 that lasts past --give-up-after stops the run resumably, costs no instruction, and --resume completes it", async () => {
    let limited = false;
    const server = await startCodecServer({
      recordRequests: false,
      retryAfterSeconds: 0.1,
      fault: () => (limited ? "429" : undefined),
    });
    try {
      const run = options(server, dir, "rate-limited", { config: config({ giveUpAfterSeconds: 1 }) });
      const pending = runToFiles(run);
      await waitUntil(() => server.counters.completed >= reference.calls * 0.3);
      limited = true;
      const stopped = await pending;
      expect(stopped.status).toBe("stopped");
      expect(stopped.stopReason).toMatch(/429|rate limit/i);
      expect(server.counters.faults["429"]).toBeGreaterThan(0);
      expect(stopped.transport?.faults["rate-limit"]).toBe(server.counters.faults["429"]);
      expect(
        (await readJsonl(join(dir, "rate-limited.dropped.jsonl"))).filter((record) => record.reason === "failure"),
      ).toEqual([]);
      expect((await readJson(join(dir, "rate-limited.run.json"))).status).toBe("stopped");

      limited = false;
      const resumed = await runToFiles({ ...run, resume: true });
      expect(resumed.status).toBe("complete");
      await expectReferenceOutput("rate-limited");
    } finally {
      await server.close();
    }
  }, 180_000);

  it("a node that fails (the target's key revoked) fails the run; after the fix, --resume completes it without losing a task", async () => {
    let revokeAfter = Number.POSITIVE_INFINITY;
    let targetCalls = 0;
    const models = () => ({
      strong: new ScriptedChatModel((prompt) => codecReply("strong", prompt)),
      target: new ScriptedChatModel((prompt) => {
        targetCalls++;
        if (targetCalls > revokeAfter)
          return Object.assign(new Error("401 Incorrect API key provided"), { status: 401 });
        return codecReply("target", prompt);
      }),
    });
    const base = { input: { seeds }, config: config() };
    const expected = await runToFiles({
      ...base,
      paths: outputPathsFor(join(dir, "scripted.jsonl")),
      graph: { models: models() },
      checkpoint: { kind: "none" },
    });
    expect(expected.status).toBe("complete");
    const total = targetCalls;
    targetCalls = 0;

    const run: RunOptions = { ...base, paths: outputPathsFor(join(dir, "revoked.jsonl")), graph: { models: models() } };
    revokeAfter = Math.floor(total / 2);
    const failed = await runToFiles(run).catch((error: Error) => error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toContain("refused the call (HTTP 401)");
    const state = await readJson(join(dir, "revoked.run.json"));
    expect(state.status).toBe("failed");
    expect(state.error).toContain("HTTP 401");

    revokeAfter = Number.POSITIVE_INFINITY;
    const resumed = await runToFiles({ ...run, graph: { models: models() }, resume: true });
    expect(resumed.status).toBe("complete");
    // Every task of the wave that was running or waiting when the node failed ran again: same output.
    expect(await readRecords(join(dir, "revoked.jsonl"))).toEqual(await readRecords(join(dir, "scripted.jsonl")));
    expect(await readRecords(join(dir, "revoked.dropped.jsonl"))).toEqual(
      await readRecords(join(dir, "scripted.dropped.jsonl")),
    );
    expect(resumed.instructions.filtered).toBe(expected.instructions.filtered);
  }, 180_000);

  it("records the files lost in a crash come back from the checkpoints; a cut last line is dropped, not duplicated", async () => {
    const run = options(clean, dir, "lost", { keepCheckpoints: true });
    expect((await runToFiles(run)).status).toBe("complete");
    const keptPath = join(dir, "lost.jsonl");
    const lines = (await readFile(keptPath, "utf8")).split("\n").filter(Boolean);
    // As if the process died with a third of the pairs written, the last one half-way.
    await writeFile(keptPath, `${lines.slice(0, 20).join("\n")}\n`);
    await appendFile(keptPath, lines[20]!.slice(0, 40));
    const state = await readJson(join(dir, "lost.run.json"));
    await writeFile(join(dir, "lost.run.json"), JSON.stringify({ ...state, status: "running" }));
    const before = clean.counters.requests;

    const resumed = await runToFiles({ ...run, resume: true, keepCheckpoints: false });
    expect(resumed.status).toBe("complete");
    expect(clean.counters.requests).toBe(before); // nothing was left to call
    const kept = await keptIds(keptPath);
    expect(new Set(kept).size).toBe(kept.length);
    await expectReferenceOutput("lost");
    const completed = await runToFiles({ ...run, resume: true }).catch((error: Error) => error.message);
    expect(completed).toContain("is complete: nothing to resume");
  }, 180_000);
});

/**
 * `generate --batch` against the in-process OpenAI server speaking the Batch API (/v1/files, /v1/batches):
 * the answer and judge calls go as lines of few large batches, a failed line is resent as a single request,
 * and a run killed with -9 while batches are pending resumes by polling them, submitting nothing twice.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import {
  keptIds,
  killStartedClis,
  readJson,
  runCli,
  startCli,
  startCodecServer,
  waitFor,
  writeSeeds,
} from "../scale/support.js";
import { generateArgs } from "../support/cli.js";

afterEach(async () => killStartedClis());

interface BatchSummary {
  status: string;
  kept: number;
  spend: { calls: number; byTransport: Record<"single" | "batch", { calls: number; costUsd: number }> };
  transport: {
    batches: {
      pending: number;
      completed: number;
      lines: number;
      lineErrors: number;
      byStep: Record<string, { calls: number; batchCalls: number }>;
    };
  };
}

const WAITING_STEPS = ["answer-strong", "answer-target", "judge"];

/** Of the answer and judge calls paid, the share that were batch lines. */
function batchShare(summary: BatchSummary): number {
  let calls = 0;
  let batched = 0;
  for (const step of WAITING_STEPS) {
    calls += summary.transport.batches.byStep[step]?.calls ?? 0;
    batched += summary.transport.batches.byStep[step]?.batchCalls ?? 0;
  }
  return batched / Math.max(1, calls);
}

describe("codeclm generate --batch (OpenAI Batch API)", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  let hold = false;
  let failLines = 0;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-batch-0123456789" });
  const args = (out: string, ...more: string[]) =>
    generateArgs(
      { seeds, out, size: 30, pool: 12 },
      ...["--quiet", "--batch", "--batch-wait-seconds", "0.3", "--batch-poll-seconds", "0.2"],
      ...more,
    );

  beforeAll(async () => {
    server = await startCodecServer({
      recordRequests: false,
      batch: {
        completeAfterMs: 150,
        hold: () => hold,
        lineError: (request) => {
          if (failLines <= 0 || request.model !== "target-model") return undefined;
          failLines--;
          return 500;
        },
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-batch-"));
    seeds = await writeSeeds(dir);
  });
  afterAll(async () => server?.close());

  it("--size 30 keeps exactly 30; at least 80% of answer and judge calls went through batches, many per batch", async () => {
    const out = join(dir, "batched.jsonl");
    const [batchesBefore, linesBefore] = [server.batch!.created, server.batch!.lines];
    const result = await runCli(args(out), env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await keptIds(out)).toHaveLength(30);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as BatchSummary;
    expect(summary.status).toBe("complete");
    expect(summary.kept).toBe(30);
    expect(batchShare(summary)).toBeGreaterThanOrEqual(0.8);
    const batches = server.batch!.created - batchesBefore;
    const lines = server.batch!.lines - linesBefore;
    expect(batches).toBeGreaterThan(0);
    expect(lines / batches).toBeGreaterThanOrEqual(8); // many calls per batch
    expect(summary.transport.batches.lines).toBe(lines);
    expect(summary.transport.batches.completed).toBe(batches);
    expect(summary.spend.byTransport.batch.calls).toBe(lines);
    expect(summary.spend.byTransport.single.calls + summary.spend.byTransport.batch.calls).toBe(summary.spend.calls);
  }, 120_000);

  it("a failed batch line is resent as a single request: still exactly 30 kept", async () => {
    const out = join(dir, "line-errors.jsonl");
    failLines = 3;
    const result = await runCli(args(out), env());
    expect(result.code).toBe(0);
    expect(failLines).toBe(0);
    expect(await keptIds(out)).toHaveLength(30);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as BatchSummary;
    expect(summary.transport.batches.lineErrors).toBe(3);
    const target = summary.transport.batches.byStep["answer-target"]!;
    expect(target.calls - target.batchCalls).toBeGreaterThanOrEqual(3); // the failed lines, answered single
  }, 120_000);

  it("with a call budget, every line is reserved before it is submitted: the cap is never crossed", async () => {
    const out = join(dir, "budget.jsonl");
    const [linesBefore, singleBefore] = [server.batch!.lines, server.counters.completed];
    const result = await runCli(args(out, "--max-calls", "60"), env());
    expect(result.code).toBe(4);
    expect(result.stdout).toContain("stopped: the call budget of");
    const paid = server.batch!.lines - linesBefore + (server.counters.completed - singleBefore);
    expect(paid).toBeLessThanOrEqual(60);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as BatchSummary;
    expect(summary.spend.calls).toBeLessThanOrEqual(60);
  }, 120_000);

  it("a server without the Batch API: every call falls back to a single request, the run completes", async () => {
    const plain = await startCodecServer({ recordRequests: false });
    try {
      const out = join(dir, "no-batch-api.jsonl");
      const result = await runCli(args(out), { OPENAI_BASE_URL: plain.url, OPENAI_API_KEY: "sk-test-0123" });
      expect(result.code).toBe(0);
      expect(await keptIds(out)).toHaveLength(30);
      const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as BatchSummary;
      expect(summary.spend.byTransport.batch.calls).toBe(0);
      expect(summary.transport.batches.lineErrors).toBeGreaterThan(0);
    } finally {
      await plain.close();
    }
  }, 120_000);

  it("killed with -9 while batches are pending, then --resume: polls them, submits nothing twice, 30 kept", async () => {
    const out = join(dir, "killed.jsonl");
    const createdBefore = server.batch!.created;
    // Earlier tests ran the same calls (the same keys): count this test's submissions only.
    const submittedBefore = new Map(server.batch!.submissions);
    hold = true;
    const first = startCli(args(out), env());
    await waitFor(() => server.batch!.created > createdBefore, 60_000, "a batch submitted");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // more lines gathered and submitted, all held
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    const pendingAtKill = server.batch!.created - createdBefore;
    hold = false;

    const resumed = await runCli(args(out, "--resume"), env());
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(await keptIds(out)).toHaveLength(30);
    // Every line was submitted once, the held ones included.
    const twice = [...server.batch!.submissions.entries()].filter(
      ([id, count]) => count - (submittedBefore.get(id) ?? 0) > 1,
    );
    expect(twice).toEqual([]);
    expect(pendingAtKill).toBeGreaterThan(0);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as BatchSummary;
    expect(summary.status).toBe("complete");
    // The held batches were polled to the end by the resumed session, not submitted again.
    expect(summary.transport.batches.completed).toBeGreaterThanOrEqual(pendingAtKill);
    expect(batchShare(summary)).toBeGreaterThanOrEqual(0.8);
  }, 180_000);
});

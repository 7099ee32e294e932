/**
 * `generate --batch --strong anthropic:… --target openai:…` against the in-process Messages-API server speaking
 * Message Batches and the OpenAI server speaking the Batch API: Claude's answer and judge calls go as lines of
 * Message Batches (the server counts batch lines apart from single requests), and a run killed with -9 while a
 * Message Batch is pending resumes by polling it, submitting nothing twice.
 */
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { costUsd, priceFor } from "../../lib/prices.js";
import { type FakeAnthropicServer, startAnthropicServer } from "../support/anthropic-server.js";
import { codecReply } from "../support/codec-responder.js";
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

afterEach(async () => killStartedClis());

const ANTHROPIC_KEY = "sk-ant-batch-SECRET-0123456789abcdef";
const OPENAI_KEY = "sk-openai-batch-SECRET-0123456789abcdef";
const CLAUDE = "claude-sonnet-4-5";
const SIZE = 12;

interface Summary {
  status: string;
  kept: number;
  spend: { byTransport: Record<"single" | "batch", { calls: number; costUsd: number }> };
  transport: {
    batches: { completed: number; lines: number; byStep: Record<string, { calls: number; batchCalls: number }> };
  };
}

describe("codeclm generate --batch with --strong anthropic:… (Message Batches, against local servers)", () => {
  let claude: FakeAnthropicServer;
  let openai: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  let hold = false;
  const env = { ANTHROPIC_API_KEY: ANTHROPIC_KEY, OPENAI_API_KEY: OPENAI_KEY };
  const args = (out: string, ...more: string[]) => [
    "generate",
    ...["--seeds", seeds, "--out", out, "--size", String(SIZE), "--pool", "6", "--quiet"],
    ...["--strong", `anthropic:${CLAUDE}`, "--strong-base-url", claude.url],
    ...["--target", "openai:target-model", "--target-base-url", openai.url],
    ...["--batch", "--batch-wait-seconds", "0.3", "--batch-poll-seconds", "0.2"],
    ...more,
  ];
  /** Strong answer and judge calls: single Messages requests vs Message Batch lines, from the server's side. */
  const strongCalls = () => {
    const batched = claude.batch!.batches.flat().map((line) => line.params);
    return { single: claude.requests.length, batchLines: batched.length };
  };

  beforeAll(async () => {
    claude = await startAnthropicServer({
      respond: (request) => {
        const reply = codecReply("strong", request.messages.map((message) => message.content).join("\n"));
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
      batch: { completeAfterMs: 150, hold: () => hold },
    });
    openai = await startCodecServer({ batch: { completeAfterMs: 150 } });
    dir = await mkdtemp(join(tmpdir(), "codeclm-anthropic-batch-"));
    seeds = await writeSeeds(dir);
  });
  afterAll(async () => Promise.all([claude?.close(), openai?.close()]));

  it(`--size ${SIZE} keeps exactly ${SIZE}; Claude's answers and judgments went as Message Batch lines`, async () => {
    const out = join(dir, "batched.jsonl");
    const result = await runCli(args(out), env);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await keptIds(out)).toHaveLength(SIZE);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as Summary;
    expect(summary.status).toBe("complete");
    expect(summary.kept).toBe(SIZE);

    const { single, batchLines } = strongCalls();
    expect(claude.batch!.created).toBeGreaterThan(0);
    expect(batchLines / claude.batch!.created).toBeGreaterThanOrEqual(4); // many calls per batch
    // Every strong answer and judgment the run paid for was a batch line, not a single request.
    const byStep = summary.transport.batches.byStep;
    for (const step of ["answer-strong", "judge"]) {
      expect(byStep[step]!.calls).toBeGreaterThan(0);
      expect(byStep[step]!.batchCalls / byStep[step]!.calls).toBeGreaterThanOrEqual(0.8);
    }
    // Claude's batch lines are exactly its answers and judgments (the target's answers went to OpenAI's batches).
    expect(batchLines).toBe(byStep["answer-strong"]!.batchCalls + byStep.judge!.batchCalls);
    expect(claude.batch!.answered.get(CLAUDE)).toBe(batchLines);
    // The single Messages requests are the steps that do not wait (encode, decode, improve, …).
    expect(single).toBeGreaterThan(0);
    expect(single).toBe(summary.spend.byTransport.single.calls - openai.counters.completed);
    // Batch lines are paid at the batch price (half of Sonnet 4.5's $3 / $15); the local target is unpriced.
    const { input, output } = claude.batch!.usage;
    const batchCost = costUsd(priceFor(`anthropic:${CLAUDE}`), input, output, "batch")!;
    expect(batchCost).toBeCloseTo(costUsd(priceFor(`anthropic:${CLAUDE}`), input, output)! / 2, 9);
    expect(summary.spend.byTransport.batch.costUsd).toBeCloseTo(batchCost, 9);
    expect(summary.transport.batches.lines).toBe(batchLines + openai.batch!.lines);
    expect(summary.spend.byTransport.batch.calls).toBe(batchLines + openai.batch!.lines);
    // The key went in the batch's headers (to the server), never into any output.
    expect(claude.batch!.batchHeaders.every((headers) => headers["x-api-key"] === ANTHROPIC_KEY)).toBe(true);
    const written = await Promise.all(
      (await readdir(dir)).filter((file) => file.startsWith("batched")).map((f) => readFile(join(dir, f), "utf8")),
    );
    for (const text of [...written, result.stdout, result.stderr]) {
      expect(text).not.toContain(ANTHROPIC_KEY.slice(-12));
      expect(text).not.toContain(OPENAI_KEY.slice(-12));
    }
  }, 120_000);

  it("killed with -9 while a Message Batch is pending, then --resume: polls it, submits nothing twice", async () => {
    const out = join(dir, "killed.jsonl");
    const createdBefore = claude.batch!.created;
    const endedBefore = claude.batch!.ended;
    // The first test ran the same calls (the same keys): count this test's submissions only.
    const submittedBefore = new Map(claude.batch!.submissions);
    hold = true;
    const first = startCli(args(out), env);
    await waitFor(() => claude.batch!.created > createdBefore, 60_000, "a Message Batch submitted");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // more lines gathered and submitted, all held
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    const pendingAtKill = claude.batch!.created - createdBefore;
    expect(claude.batch!.ended).toBe(endedBefore); // none had ended
    hold = false;

    const resumed = await runCli(args(out, "--resume"), env);
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(await keptIds(out)).toHaveLength(SIZE);
    const twice = [...claude.batch!.submissions.entries()].filter(
      ([id, count]) => count - (submittedBefore.get(id) ?? 0) > 1,
    );
    expect(twice).toEqual([]);
    expect(pendingAtKill).toBeGreaterThan(0);
    // The held batches were polled to the end by the resumed session, not submitted again.
    expect(claude.batch!.ended - endedBefore).toBe(claude.batch!.created - createdBefore);
    const summary = (await readJson(out.replace(/\.jsonl$/, ".summary.json"))) as unknown as Summary;
    expect(summary.status).toBe("complete");
  }, 180_000);
});

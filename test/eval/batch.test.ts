/** `codeclm eval --batch`: the answers and judgements of an evaluation go through the OpenAI Batch API. */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { evalResponder } from "../support/eval-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("codeclm eval --batch", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-eval-batch-0123" });
  const models = ["--model", "openai:tuned", "--reference", "openai:strong", "--judge", "openai:judge"];

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: evalResponder({ modelName: "tuned", referenceName: "strong", judgeName: "judge" }),
      batch: { completeAfterMs: 100 },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-eval-batch-"));
  });
  afterAll(async () => server.close());

  it("answers and judges the 80 Vicuna questions in a few batches, with no single request", async () => {
    const out = join(dir, "vicuna");
    const args = ["eval", "--benchmark", "vicuna", ...models, "--out", out, "--quiet", "--batch"];
    const result = await runCli([...args, "--batch-wait-seconds", "0.3", "--batch-poll-seconds", "0.1"], env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const summary = JSON.parse(await readFile(join(out, "eval.summary.json"), "utf8"));
    expect(summary.wins + summary.ties + summary.losses).toBe(80);
    // 80 answers of each model, 160 judgements (both orders); the Batch API takes one model per batch.
    expect(server.batch!.lines).toBe(80 + 80 + 160);
    expect(server.batch!.created).toBeLessThanOrEqual(8);
    expect(server.counters.requests).toBe(0);
    expect(summary.batch.byTransport).toMatchObject({ batch: { calls: 320 }, single: { calls: 0 } });
    expect(summary.batch.batches).toMatchObject({ submitted: server.batch!.created, lineErrors: 0 });
  }, 120_000);
});

import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveEvalConfig } from "../../eval/config.js";
import { evalPathsFor, runEvalToFiles } from "../../eval/output.js";
import { EvalItemSchema } from "../../eval/records.js";
import { evaluate, totalsOf } from "../../eval/run.js";
import { readBlocks } from "../../prompts/delimit.js";
import type { Seed } from "../../lib/records.js";
import { evalResponder } from "../support/eval-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

const BENCHMARK: Seed[] = [
  { id: "1", category: "writing", instruction: "[win] Write a haiku about rain." },
  { id: "2", category: "writing", instruction: "[loss] Write a sonnet about the sea." },
  { id: "3", category: "coding", instruction: "[split] Reverse a linked list in Python." },
  { id: "4", category: "coding", instruction: "[equal] Explain big-O notation." },
  { id: "5", category: "math", instruction: "[retry] What is 17 * 23?" },
  { id: "6", category: "math", instruction: "[malformed] Prove that sqrt(2) is irrational." },
  { id: "7", category: "math", instruction: "[bias-win] Integrate x^2 from 0 to 1." },
];

describe("evaluate through the OpenAI-compatible test server", () => {
  let server: FakeOpenAIServer;
  const env = () => ({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: "sk-test-eval-0123456789" });
  const config = resolveEvalConfig({
    model: { model: "openai:tuned" },
    reference: { model: "openai:strong" },
    judge: { model: "openai:judge" },
    judgeRetries: 2,
    concurrency: 4,
  });

  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: evalResponder({ modelName: "tuned", referenceName: "strong", judgeName: "judge" }),
    });
  });
  afterAll(async () => server.close());

  it("answers with both models, judges twice with positions swapped, and applies the wins-twice rule", async () => {
    server.reset();
    const { items, summary } = await evaluate({
      benchmark: BENCHMARK,
      config,
      env: env(),
      benchmarkLabel: "bench.jsonl",
    });
    const byId = new Map(items.map((item) => [item.id, item]));
    expect(items.map((item) => item.id)).toEqual(BENCHMARK.map((item) => item.id));
    expect(byId.get("1")!.outcome).toBe("win");
    expect(byId.get("2")!.outcome).toBe("loss");
    expect(byId.get("3")!.outcome).toBe("tie"); // split decision: first position wins each time
    expect(byId.get("3")!.consistent).toBe(false);
    expect(byId.get("4")!.outcome).toBe("tie"); // equal scores
    expect(byId.get("4")!.consistent).toBe(true);
    expect(byId.get("5")!.outcome).toBe("win"); // malformed once, then a valid reply
    expect(byId.get("5")!.judgements.modelFirst!.attempts).toBe(2);
    expect(byId.get("6")!.outcome).toBe("judge-failure"); // never a silent tie
    expect(byId.get("6")!.error).toContain("malformed judgement after 3 attempt(s)");
    expect(byId.get("6")!.judgements.modelFirst!.attempts).toBe(3);
    expect(byId.get("7")!.outcome).toBe("tie"); // wins one order, loses the other

    // Both raw judgements and both answers are kept; scores are mapped back to the sides.
    const win = byId.get("1")!;
    expect(win.answers.model).toMatch(/^\[model\]/);
    expect(win.answers.reference).toMatch(/^\[reference\]/);
    expect(win.judgements.modelFirst).toMatchObject({
      shownFirst: "model",
      raw: expect.stringMatching(/^8 6\n/),
      scores: { model: 8, reference: 6 },
    });
    expect(win.judgements.referenceFirst).toMatchObject({
      shownFirst: "reference",
      raw: expect.stringMatching(/^6, 8\n/),
      scores: { model: 8, reference: 6 },
    });

    expect(summary).toMatchObject({
      wins: 2,
      ties: 3,
      losses: 1,
      total: 6,
      judgeFailures: 1,
      answerFailures: 0,
      items: 7,
      status: "incomplete",
    });
    expect(summary.crr).toBeCloseTo(5 / 6);
    expect(summary.byCategory.coding).toMatchObject({ wins: 0, ties: 2, losses: 0, crr: 1 });
    expect(summary.byCategory.math).toMatchObject({ wins: 1, ties: 1, losses: 0, judgeFailures: 1, total: 2 });
    expect(summary.positionConsistency).toMatchObject({ judged: 6, consistent: 4 });
    expect(summary.models).toEqual({ model: "openai:tuned", reference: "openai:strong", judge: "openai:judge" });
    expect(summary.calls.byStep["answer-model"]!.calls).toBe(7);
    expect(summary.calls.byStep["answer-reference"]!.calls).toBe(7);
    expect(summary.calls.byRole.judge!.calls).toBe(2 * 5 + 2 * 2 + 2 * 3); // one retry per order for item 5, three attempts per order for item 6

    // The swap on the wire: each pair was shown once in each order, the judge at temperature 0.
    const judgeRequests = server.requests.filter((request) => request.model === "judge");
    for (const request of judgeRequests) expect(request.temperature).toBe(0);
    const forItem1 = judgeRequests.filter((request) =>
      request.messages.some((m) => m.content.includes("[win] Write a haiku")),
    );
    const firsts = forItem1.map(
      (request) => /^(\[\w+\])/.exec(readBlocks(request.messages.at(-1)!.content)?.get("ANSWER 1") ?? "")?.[1],
    );
    expect(firsts.sort()).toEqual(["[model]", "[reference]"]);
    expect(forItem1[0]!.messages[0]!.role).toBe("system");
  });

  it("writes per-item JSONL and a summary from which CRR can be recomputed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "codeclm-eval-"));
    const paths = evalPathsFor(join(dir, "out"));
    const { summary } = await runEvalToFiles({ benchmark: BENCHMARK, config, env: env(), paths });
    const lines = (await readFile(paths.items, "utf8")).trim().split("\n");
    const items = lines.map((line) => EvalItemSchema.parse(JSON.parse(line)));
    expect(items).toHaveLength(BENCHMARK.length);
    const written = JSON.parse(await readFile(paths.summary, "utf8"));
    for (const key of ["wins", "ties", "losses", "crr"]) expect(written).toHaveProperty(key);
    const recomputed = totalsOf(items);
    expect(recomputed.crr).toBe(written.crr);
    expect([recomputed.wins, recomputed.ties, recomputed.losses]).toEqual([written.wins, written.ties, written.losses]);
    // Straight from the file, without the library: (wins + ties) / judged.
    const count = (outcome: string) => items.filter((item) => item.outcome === outcome).length;
    expect((count("win") + count("tie")) / (count("win") + count("tie") + count("loss"))).toBe(summary.crr);
    expect(written.winsMeaning).toContain("both answer orders");
    expect(await readdir(join(dir, "out"))).toEqual(["eval.jsonl", "eval.summary.json"]);
  });

  it("takes answers from files and then calls only the judge", async () => {
    server.reset();
    const model = new Map(BENCHMARK.map((item) => [item.id, `[model] filed answer ${item.id}`]));
    const reference = new Map(BENCHMARK.map((item) => [item.id, `[reference] filed answer ${item.id}`]));
    const { items, summary } = await evaluate({
      benchmark: BENCHMARK.slice(0, 2),
      config: resolveEvalConfig({ judge: { model: "openai:judge" } }),
      provided: {
        model: { answers: model, source: "file", label: "model.jsonl" },
        reference: { answers: reference, source: "file", label: "reference.jsonl" },
      },
      env: env(),
    });
    expect(server.requests.every((request) => request.model === "judge")).toBe(true);
    expect(items[0]!.answers.model).toBe("[model] filed answer 1");
    expect(items[0]!.answerSources).toEqual({ model: "file", reference: "file" });
    expect(summary.models.model).toBe("model.jsonl");
    expect(summary.wins + summary.losses).toBe(2);
  });

  it("records an answer that keeps failing as an answer failure, excluded from CRR", async () => {
    const failing = await startOpenAIServer({
      respond: evalResponder({ modelName: "tuned", referenceName: "strong", judgeName: "judge" }),
      fault: (request) =>
        request.model === "tuned" && request.messages.some((m) => m.content.includes("sonnet")) ? "500" : undefined,
    });
    try {
      const { items, summary } = await evaluate({
        benchmark: BENCHMARK.slice(0, 2),
        config,
        env: { OPENAI_BASE_URL: failing.url, OPENAI_API_KEY: "sk-test-eval-0123456789" },
        maxRetries: 0,
      });
      expect(items[1]!.outcome).toBe("answer-failure");
      // Transport faults (here 500s) are retried by the call machinery before the answer counts as failed.
      expect(items[1]!.error).toMatch(/the model's answer failed after \d+ attempts?/);
      expect(items[1]!.answers.reference).toMatch(/^\[reference\]/);
      expect(summary).toMatchObject({ wins: 1, total: 1, answerFailures: 1, crr: 1 });
    } finally {
      await failing.close();
    }
  });
});

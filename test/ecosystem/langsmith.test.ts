/**
 * LangSmith tracing and dataset upload, offline: the CLI runs against the local OpenAI-protocol server
 * with LANGSMITH_ENDPOINT pointing at an in-process LangSmith stand-in, which rebuilds the run tree.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCodecServer } from "../support/codec-server.js";
import { type FakeLangSmith, type TracedRun, startFakeLangSmith } from "../support/langsmith-server.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { generateArgs, runCli } from "../support/cli.js";

const OPENAI_KEY = "sk-test-langsmith-OPENAI-0123456789";
const LANGSMITH_KEY = "lsv2_pt_test_SECRET_0123456789abcdef";

describe("LangSmith", () => {
  let models: FakeOpenAIServer;
  let langsmith: FakeLangSmith;
  let dir: string;
  let seeds: string;

  beforeAll(async () => {
    models = await startCodecServer();
    langsmith = await startFakeLangSmith();
    dir = await mkdtemp(join(tmpdir(), "codeclm-langsmith-"));
    seeds = join(dir, "seeds.txt");
    await writeFile(
      seeds,
      "Write a limerick about a cat who learns to code.\nExplain compound interest to a teenager.\n",
    );
  });
  afterAll(async () => {
    await models.close();
    await langsmith.close();
  });

  const base = (out: string) => generateArgs({ seeds, out, size: 6, pool: 4, seed: 5 });

  it("traces every model call under the run's root run (named by step, tagged by role and model, with ids), flushed before exit, and uploads the kept pairs as a dataset", async () => {
    const out = join(dir, "traced.jsonl");
    const result = await runCli([...base(out), "--langsmith-dataset", "codeclm-test"], {
      OPENAI_BASE_URL: models.url,
      OPENAI_API_KEY: OPENAI_KEY,
      LANGSMITH_TRACING: "true",
      LANGSMITH_ENDPOINT: langsmith.url,
      LANGSMITH_API_KEY: LANGSMITH_KEY,
      LANGSMITH_PROJECT: "codeclm-tests",
    });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(dir, "traced.summary.json"), "utf8")) as {
      runId: string;
      calls: { total: { calls: number } };
    };
    expect(result.stderr).toContain(`root run ${summary.runId}`);

    // The root run is the graph run, and its id is the summary's runId.
    const runs = [...langsmith.runs.values()];
    const rootRun = langsmith.runs.get(summary.runId);
    expect(rootRun).toMatchObject({ name: "codeclm", session_name: "codeclm-tests" });
    expect(rootRun!.parent_run_id ?? undefined).toBeUndefined();
    expect(rootRun!.end_time).toBeTruthy();
    expect(runs.every((run) => run.trace_id === summary.runId)).toBe(true);

    // Every run hangs off the root through its parents.
    const byId = langsmith.runs;
    const reachesRoot = (run: TracedRun) => {
      let current: TracedRun | undefined = run;
      for (let depth = 0; current && depth < 50; depth++) {
        if (current.id === summary.runId) return true;
        current = current.parent_run_id ? byId.get(current.parent_run_id) : undefined;
      }
      return false;
    };
    expect(runs.filter((run) => !reachesRoot(run))).toEqual([]);

    // One LLM run per model call, each inside a run named after its step.
    const llmRuns = runs.filter((run) => run.run_type === "llm");
    expect(llmRuns).toHaveLength(summary.calls.total.calls);
    const stepOf = (run: TracedRun) => run.tags?.find((tag) => tag.startsWith("step:"))?.slice(5);
    const steps = new Set(llmRuns.map(stepOf));
    for (const step of [
      "encode",
      "decode",
      "rubric-generate",
      "action-apply",
      "answer-strong",
      "answer-target",
      "judge",
    ]) {
      expect(steps, step).toContain(step);
    }
    for (const run of llmRuns) {
      const step = stepOf(run)!;
      const role = step === "answer-target" ? "target" : step === "judge" ? "judge" : "strong";
      expect(run.tags).toContain(`role:${role}`);
      expect(run.tags).toContain(`model:openai:${role === "target" ? "target-model" : "strong-model"}`);
      // The run named after the step is the call itself (text) or wraps it (structured output: model + parser).
      let named: TracedRun | undefined = run;
      for (let depth = 0; named && named.name !== step && depth < 3; depth++)
        named = byId.get(named.parent_run_id ?? "");
      expect(named?.name, `${run.name} (${step})`).toBe(step);
      expect(named?.tags).toContain(`role:${role}`);
      const metadata = run.extra?.metadata ?? {};
      expect(metadata).toMatchObject({ step, role });
      if (["answer-strong", "answer-target", "judge", "action-apply"].includes(step)) {
        expect(metadata.instructionId).toEqual(expect.any(String));
        expect(metadata.iteration).toEqual(expect.any(Number));
      }
      if (step === "decode" || step === "rubric-generate") expect(metadata.metadataId).toEqual(expect.any(String));
    }

    // No secret reached LangSmith: the key travels only as the API key header.
    for (const body of langsmith.bodies) {
      expect(body).not.toContain(OPENAI_KEY);
      expect(body).not.toContain(LANGSMITH_KEY);
    }
    expect([...langsmith.apiKeys]).toEqual([LANGSMITH_KEY]);

    // The kept pairs, as a dataset.
    expect(langsmith.datasets.map((dataset) => dataset.name)).toEqual(["codeclm-test"]);
    const kept = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { id: string; instruction: string; response: string });
    expect(langsmith.examples).toHaveLength(kept.length);
    const example = langsmith.examples.find((item) => item.metadata?.pairId === kept[0]!.id)!;
    expect(example.inputs).toEqual({ instruction: kept[0]!.instruction });
    expect(example.outputs).toEqual({ response: kept[0]!.response });
    expect(example.metadata).toMatchObject({ runId: summary.runId });
  });

  it("stays off without LANGSMITH_TRACING=true, and --langsmith-dataset without a key stops before any model call", async () => {
    const before = langsmith.bodies.length;
    const env = {
      OPENAI_BASE_URL: models.url,
      OPENAI_API_KEY: OPENAI_KEY,
      LANGSMITH_ENDPOINT: langsmith.url,
      LANGSMITH_API_KEY: LANGSMITH_KEY,
    };
    const result = await runCli([...base(join(dir, "untraced.jsonl")), "--quiet"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(langsmith.bodies.length).toBe(before);

    const requests = models.counters.requests;
    const noKey = await runCli([...base(join(dir, "nokey.jsonl")), "--langsmith-dataset", "x"], {
      OPENAI_BASE_URL: models.url,
      OPENAI_API_KEY: OPENAI_KEY,
    });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("LANGSMITH_API_KEY");
    expect(models.counters.requests).toBe(requests);
  });
});

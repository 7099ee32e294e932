/**
 * The CLI at scale, for real: a child process killed with SIGKILL mid-run and resumed, a budget stop
 * then a resume with a higher budget, and Ctrl-C. Every resumed output must equal, record for record in file
 * order (all fields but run ids and timings), what an uninterrupted run produces with the same deterministic
 * models, and paid calls must not exceed the uninterrupted run's by more than the calls that were in flight.
 */
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { codecReply } from "../support/codec-responder.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import {
  completeLines,
  keptIds,
  killStartedClis,
  readJson,
  readRecords,
  runCli,
  startCli,
  startCodecServer,
  waitFor,
  writeSeeds,
} from "./support.js";
import { generateArgs, serverEnv } from "../support/cli.js";

// A test that fails half-way leaves no CLI running against the shared server (it would skew the next test's counts).
afterEach(async () => killStartedClis());

const SECRET = "sk-test-scale-SECRET-0123456789abcdef";
const CONCURRENCY = 8;

describe("codeclm generate: kill -9, budgets and Ctrl-C, then --resume", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  const reference = { kept: [] as unknown[], dropped: [] as unknown[], calls: 0 };
  /** While set, the server holds every new request: a run cannot finish between "seen" and "killed". */
  let frozen = false;

  const env = () => serverEnv(server, SECRET);
  const args = (out: string, ...more: string[]) =>
    // Exact call counts need waves only: with spares, which instructions past the size run depends on timing.
    // And rubrics only when needed: a resumed run does not write ahead again (10 per metadata here), so a
    // call written ahead and never used is made or not depending on when the first session stopped.
    generateArgs(
      { seeds, out, size: 120, pool: 24, seed: 5, concurrency: CONCURRENCY },
      "--spares",
      "off",
      "--rubrics-ahead",
      "0",
      ...more,
    );

  async function expectSameAsReference(out: string) {
    const kept = await keptIds(out);
    expect(kept).toHaveLength(120);
    expect(new Set(kept).size).toBe(120);
    expect(await readRecords(out)).toEqual(reference.kept);
    expect(await readRecords(out.replace(/\.jsonl$/, ".dropped.jsonl"))).toEqual(reference.dropped);
    const summary = await readJson(out.replace(/\.jsonl$/, ".summary.json"));
    expect(summary.status).toBe("complete");
    expect(summary.kept).toBe(120);
    return summary;
  }

  beforeAll(async () => {
    server = await startCodecServer({
      latencyMs: { mean: 12, jitter: 4 },
      recordRequests: false,
      fault: () => (frozen ? "hang" : undefined),
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-scale-"));
    seeds = await writeSeeds(dir);
    const out = join(dir, "reference.jsonl");
    const before = server.counters.completed;
    const result = await runCli(args(out, "--quiet"), env());
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    reference.calls = server.counters.completed - before;
    reference.kept = await readRecords(out);
    reference.dropped = await readRecords(join(dir, "reference.dropped.jsonl"));
    expect(reference.kept).toHaveLength(120);
    const summary = await readJson(join(dir, "reference.summary.json"));
    expect(summary.spend.calls).toBe(reference.calls);
    // A completed run leaves no checkpoint file behind, and no secret anywhere.
    const files = await readdir(dir);
    expect(files.filter((name) => name.startsWith("reference.checkpoint"))).toEqual([]);
    for (const name of files.filter((file) => file.startsWith("reference."))) {
      expect(await readFile(join(dir, name), "utf8")).not.toContain(SECRET);
    }
  }, 180_000);
  afterAll(async () => server?.close());

  it("kill -9 during the first wave and again after pairs were written, then --resume: complete, no duplicate, nothing missing", async () => {
    const out = join(dir, "killed.jsonl");
    const start = server.counters.completed;

    // 1. Killed mid-wave, before any pair is decided.
    const first = startCli(args(out, "--quiet"), env());
    await waitFor(
      () => server.counters.completed - start >= reference.calls * 0.35,
      120_000,
      "calls of the first session",
    );
    first.child.kill("SIGKILL");
    expect((await first.done).signal).toBe("SIGKILL");
    const state = await readJson(join(dir, "killed.run.json"));
    expect(state.status).toBe("running"); // a killed run never looks finished
    await expect(stat(join(dir, "killed.summary.json"))).rejects.toThrow();
    // The checkpoints hold no secret either.
    expect((await readFile(join(dir, "killed.checkpoint.sqlite"))).toString("latin1")).not.toContain(SECRET);

    // 2. Resumed, then killed again once pairs have been written.
    const second = startCli(args(out, "--quiet", "--resume"), env());
    // Complete lines only: the writer may be half-way through one.
    await waitFor(async () => (await completeLines(out)) > 0, 120_000, "the first kept pairs");
    frozen = true;
    second.child.kill("SIGKILL");
    await second.done;
    frozen = false;
    const partial = await keptIds(out);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(120);

    // 3. Resumed to the end.
    const third = await runCli(args(out, "--quiet", "--resume"), env());
    expect(third.stderr).toBe("");
    expect(third.code).toBe(0);
    await expectSameAsReference(out);
    // Finished calls were not paid again: at most the ones in flight at each kill.
    const paid = server.counters.completed - start;
    expect(paid).toBeGreaterThanOrEqual(reference.calls);
    expect(paid).toBeLessThanOrEqual(reference.calls + 2 * CONCURRENCY);
    expect((await readJson(join(dir, "killed.run.json"))).sessions).toBe(3);
  }, 240_000);

  it("a budget stop ends cleanly and resumably; resuming with a higher budget completes without paying twice", async () => {
    const out = join(dir, "budget.jsonl");
    const start = server.counters.completed;
    const budget = Math.floor(reference.calls * 0.5);
    const stopped = await runCli(args(out, "--quiet", "--max-calls", String(budget)), env());
    expect(stopped.code).toBe(4);
    expect(stopped.stdout).toContain("stopped: the call budget of");
    expect(stopped.stdout).toMatch(/resume with: codeclm generate .*--max-calls \d+ --resume \(with a higher budget\)/);
    expect(server.counters.completed - start).toBeLessThanOrEqual(budget); // the cap is never crossed
    const summary = await readJson(join(dir, "budget.summary.json"));
    expect(summary.status).toBe("stopped");
    expect(summary.stopReason).toContain("call budget");
    expect(summary.spend.calls).toBeLessThanOrEqual(budget);
    expect((await readJson(join(dir, "budget.run.json"))).status).toBe("stopped");

    // The same budget stops again at once; a higher one finishes the run.
    const again = await runCli(args(out, "--quiet", "--max-calls", String(budget), "--resume"), env());
    expect(again.code).toBe(4);
    const resumed = await runCli(args(out, "--quiet", "--max-calls", String(reference.calls * 2), "--resume"), env());
    expect(resumed.code).toBe(0);
    const final = await expectSameAsReference(out);
    // A clean stop lets calls in flight finish and records them: nothing is paid twice.
    expect(server.counters.completed - start).toBe(reference.calls);
    expect(final.spend.calls).toBe(reference.calls);
  }, 240_000);

  it("Ctrl-C stops cleanly, prints how to resume, and the printed command finishes the run", async () => {
    const out = join(dir, "interrupted.jsonl");
    const start = server.counters.completed;
    const run = startCli(args(out, "--progress-interval", "0.2"), env());
    await waitFor(() => server.counters.completed - start >= reference.calls * 0.3, 120_000, "calls before Ctrl-C");
    run.child.kill("SIGINT");
    const result = await run.done;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain("stopping: waiting for the calls in flight to finish");
    expect(result.stderr).toMatch(/codeclm: kept \d+\/120/); // plain progress lines (stderr is not a terminal)
    const hint = /resume with: (codeclm generate .*)$/m.exec(result.stdout)?.[1];
    expect(hint).toBeDefined();
    expect(hint).toContain("--resume");
    expect((await readJson(join(dir, "interrupted.summary.json"))).status).toBe("stopped");

    const resumed = await runCli(hint!.split(" ").slice(1), env());
    expect(resumed.code).toBe(0);
    await expectSameAsReference(out);
    expect(server.counters.completed - start).toBe(reference.calls);
  }, 240_000);

  it("refuses to resume with settings that change the data, and says what changed", async () => {
    const out = join(dir, "changed.jsonl");
    const stopped = await runCli(args(out, "--quiet", "--max-calls", "40"), env());
    expect(stopped.code).toBe(4);
    const changed = await runCli([...args(out, "--quiet", "--resume"), "--theta", "2"], env());
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain("theta: 3 → 2");
    const nothing = await runCli(args(join(dir, "never.jsonl"), "--quiet", "--resume"), env());
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain("no run to resume");
  }, 180_000);

  it("refuses to resume after the input or a model changed, and says what changed", async () => {
    const out = join(dir, "changed-input.jsonl");
    expect((await runCli(args(out, "--quiet", "--max-calls", "40"), env())).code).toBe(4);
    const requests = server.counters.requests;
    // one seed edited
    const editedDir = join(dir, "edited");
    await mkdir(editedDir, { recursive: true });
    const edited = await writeSeeds(editedDir);
    await writeFile(edited, (await readFile(edited, "utf8")).replace("Seed 3:", "Seed three:"));
    const withEditedSeeds = args(out, "--quiet", "--resume").map((arg) => (arg === seeds ? edited : arg));
    const inputChanged = await runCli(withEditedSeeds, env());
    expect(inputChanged.code).toBe(2);
    expect(inputChanged.stderr).toMatch(/input|seed/i);
    // another target model
    const withOtherTarget = args(out, "--quiet", "--resume").map((arg) =>
      arg === "openai:target-model" ? "openai:other-target" : arg,
    );
    const modelChanged = await runCli(withOtherTarget, env());
    expect(modelChanged.code).toBe(2);
    expect(modelChanged.stderr).toContain("other-target");
    expect(server.counters.requests).toBe(requests); // refused before any call
    // unchanged, it resumes and completes
    expect((await runCli(args(out, "--quiet", "--resume"), env())).code).toBe(0);
    await expectSameAsReference(out);
  }, 240_000);

  it("a second Ctrl-C cancels the calls in flight, exits 130, and the run resumes to the same output", async () => {
    const out = join(dir, "twice.jsonl");
    const start = server.counters.completed;
    // --timeout 600: a hanging call outlives the test unless the second Ctrl-C really cancels it.
    const run = startCli(args(out, "--progress-interval", "0.2", "--timeout", "600"), env());
    let stderr = "";
    run.child.stderr!.on("data", (chunk) => (stderr += chunk));
    await waitFor(() => server.counters.completed - start >= reference.calls * 0.3, 120_000, "calls before Ctrl-C");
    // Every new call now hangs: the first Ctrl-C would wait for them (up to --timeout, 120 s).
    frozen = true;
    await waitFor(() => server.counters.inFlight > 0, 60_000, "a call in flight");
    run.child.kill("SIGINT");
    await waitFor(
      () => stderr.includes("stopping: waiting for the calls in flight to finish"),
      60_000,
      "the first Ctrl-C's message",
    );
    run.child.kill("SIGINT");
    const result = await run.done;
    frozen = false;
    expect(result.code).toBe(130);
    const state = await readJson(join(dir, "twice.run.json"));
    expect(["stopped", "interrupted"]).toContain(state.status);
    const hint = /resume with: (codeclm generate .*)$/m.exec(result.stdout)?.[1];
    expect(hint).toContain("--resume");
    const resumed = await runCli(hint!.split(" ").slice(1), env());
    expect(resumed.code).toBe(0);
    await expectSameAsReference(out);
  }, 240_000);

  it("--json writes machine-readable events on stdout, one per line", async () => {
    const out = join(dir, "json.jsonl");
    const result = await runCli(args(out, "--json", "--max-calls", "150"), env());
    expect(result.code).toBe(4);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, any>);
    const kinds = new Set(events.map((event) => event.event));
    for (const kind of ["start", "progress", "stopping", "summary"]) expect(kinds).toContain(kind);
    const summary = events.find((event) => event.event === "summary")!;
    expect(summary.summary.status).toBe("stopped");
    expect(summary.resume).toContain("--resume");
    const last = events.filter((event) => event.event === "progress").at(-1)!;
    expect(last.calls).toBe(summary.summary.spend.calls);
    expect(last).toHaveProperty("etaMs");
    expect(result.stderr).toBe("");
  }, 120_000);

  it("--dry-run estimates calls, tokens and cost without calling anything", async () => {
    const before = server.counters.requests;
    const result = await runCli(
      [
        "generate",
        "--seeds",
        seeds,
        "--size",
        "1000",
        "--strong",
        "openai:gpt-4o",
        "--target",
        "openai:gpt-4o-mini",
        "--dry-run",
        "--max-cost",
        "1",
        "--max-calls",
        "100000",
      ],
      {},
    );
    expect(result.code).toBe(0);
    expect(server.counters.requests).toBe(before);
    expect(result.stdout).toContain("Estimate (nothing was called)");
    expect(result.stdout).toMatch(/answer-strong\s+openai:gpt-4o\s+\d+/);
    expect(result.stdout).toMatch(/total\s+\d+\s+\d+\s+\d+\s+\$\d+\.\d\d/);
    // Each budget is compared with the estimate (not "crossed by the next call ($0.00 spent)").
    const total = /total\s+(\d+)\s+\d+\s+\d+\s+\$(\d+\.\d\d)/.exec(result.stdout)!;
    expect(result.stdout).toContain(`Budget: --max-cost $1.00 is below the estimate of $${total[2]}`);
    expect(result.stdout).toMatch(/the run would stop \(resumably\) about \d+% of the way/);
    expect(result.stdout).toContain(
      `Budget: --max-calls 100,000 covers the estimate of ${Number(total[1]).toLocaleString("en-US")}`,
    );
    expect(result.stdout).not.toContain("crossed by the next call");
  }, 120_000);
});

describe("codeclm generate: --max-tokens and --max-cost hold across concurrency and resume", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  /** The server's own ledger of the tokens it reported: independent of the tool's accounting. */
  const ledger = { input: 0, output: 0, calls: 0 };
  const PRICES = { "openai:strong-model": { input: 2, output: 8 }, "openai:target-model": { input: 0.5, output: 1 } };
  const priceOf = (model: string, input: number, output: number) => {
    const price = PRICES[`openai:${model}` as keyof typeof PRICES];
    return (input * price.input + output * price.output) / 1e6;
  };
  let cost = 0;
  const reference = { kept: [] as unknown[], tokens: 0, cost: 0 };
  const env = () => serverEnv(server, "sk-test-budget-0123456789");
  const args = (out: string, ...more: string[]) =>
    generateArgs({ seeds, out, size: 60, pool: 12, seed: 9, concurrency: 8 }, "--quiet", ...more);

  beforeAll(async () => {
    server = await startCodecServer({
      latencyMs: { mean: 5, jitter: 3 },
      recordRequests: false,
      respond: (request) => {
        const role = request.model === "target-model" ? "target" : "strong";
        const prompt = request.messages.map((message) => message.content).join("\n");
        const reply = codecReply(role, prompt);
        const text = typeof reply === "string" ? reply : JSON.stringify(reply);
        const usage = { inputTokens: Math.ceil(prompt.length / 4), outputTokens: Math.ceil(text.length / 4) };
        ledger.input += usage.inputTokens;
        ledger.output += usage.outputTokens;
        ledger.calls += 1;
        cost += priceOf(request.model, usage.inputTokens, usage.outputTokens);
        return typeof reply === "string" ? { text: reply, usage } : { json: reply, usage };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-budget-"));
    seeds = await writeSeeds(dir, 12);
    await writeFile(join(dir, "prices.json"), JSON.stringify(PRICES));
    const out = join(dir, "reference.jsonl");
    const result = await runCli(args(out), env());
    expect(result.code).toBe(0);
    reference.kept = await readRecords(out);
    reference.tokens = ledger.input + ledger.output;
    reference.cost = cost;
  }, 180_000);
  afterAll(async () => server?.close());

  const spentSince = (mark: { tokens: number; cost: number }) => ({
    tokens: ledger.input + ledger.output - mark.tokens,
    cost: cost - mark.cost,
  });
  const markNow = () => ({ tokens: ledger.input + ledger.output, cost });

  it("--max-tokens: each session stops under its budget (counted by the server), and the resumed output equals a run without one", async () => {
    const out = join(dir, "tokens.jsonl");
    const mark = markNow();
    const budgets = [0.3, 0.6].map((share) => Math.floor(reference.tokens * share));
    for (const budget of budgets) {
      const stopped = await runCli(
        args(out, "--max-tokens", String(budget), ...(budget === budgets[0] ? [] : ["--resume"])),
        env(),
      );
      expect(stopped.code).toBe(4);
      expect(stopped.stdout).toContain("token budget");
      // The budget covers the whole run, across sessions: never crossed, whatever the concurrency.
      expect(spentSince(mark).tokens).toBeLessThanOrEqual(budget);
      expect(spentSince(mark).tokens).toBeGreaterThan(budget * 0.5);
    }
    const done = await runCli(args(out, "--max-tokens", String(reference.tokens * 3), "--resume"), env());
    expect(done.code).toBe(0);
    expect(await readRecords(out)).toEqual(reference.kept);
    const summary = await readJson(join(dir, "tokens.summary.json"));
    expect(summary.spend.inputTokens + summary.spend.outputTokens).toBe(spentSince(mark).tokens);
  }, 240_000);

  it("--max-cost with --prices: each session stops under its budget (priced from the server's counts), and resumes to the same output", async () => {
    const out = join(dir, "cost.jsonl");
    const mark = markNow();
    const prices = ["--prices", join(dir, "prices.json")];
    const budget = Number((reference.cost * 0.4).toFixed(6));
    const stopped = await runCli(args(out, ...prices, "--max-cost", String(budget)), env());
    expect(stopped.code).toBe(4);
    expect(stopped.stdout).toContain("cost budget");
    expect(spentSince(mark).cost).toBeLessThanOrEqual(budget + 1e-9);
    expect(spentSince(mark).cost).toBeGreaterThan(budget * 0.5);
    const summary = await readJson(join(dir, "cost.summary.json"));
    expect(summary.spend.costUsd).toBeCloseTo(spentSince(mark).cost, 6);

    const done = await runCli(args(out, ...prices, "--max-cost", String(reference.cost * 3), "--resume"), env());
    expect(done.code).toBe(0);
    expect(await readRecords(out)).toEqual(reference.kept);
    expect(spentSince(mark).cost).toBeLessThanOrEqual(reference.cost * 3);
  }, 240_000);
});

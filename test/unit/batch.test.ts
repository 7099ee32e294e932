/**
 * The batch transport's parts: batch prices, accounts by transport, the journal's batches and transport
 * column, output-file parsing, and one structured call sent as a batch line through the real ChatOpenAI
 * client: its line body is the very body the single request sends, and it is paid at the batch price.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CallAccounts } from "../../lib/accounts.js";
import { resolveConfig } from "../../lib/config.js";
import { costUsd, priceFor } from "../../lib/prices.js";
import { UsageMeter } from "../../lib/usage.js";
import { ChatAnthropic } from "@langchain/anthropic";
import { BatchCollector, parseBatchLines, type LineResult } from "../../models/batch/collector.js";
import { type BatchTicket, batchFetch, inBatch } from "../../models/batch/scope.js";
import { messageText } from "../../models/call.js";
import { startAnthropicServer } from "../support/anthropic-server.js";
import { batchWarnings } from "../../models/batch/sender.js";
import { ModelFactory } from "../../models/factory.js";
import { type CallContext, callStructured } from "../../models/call.js";
import { RunStoppedError } from "../../models/control.js";
import { SqliteCallJournal } from "../../models/journal.js";
import { buildServices, factoryFor } from "../../nodes/runtime.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

describe("batch prices", () => {
  it("are half the standard price unless a price gives its own", () => {
    const price = priceFor("openai:gpt-4o-mini")!;
    expect(costUsd(price, 1_000_000, 1_000_000, "batch")).toBeCloseTo(costUsd(price, 1_000_000, 1_000_000)! / 2);
    const own = { input: 1, output: 2, batchInput: 0.1, batchOutput: 0.3 };
    expect(costUsd(own, 1_000_000, 1_000_000, "batch")).toBeCloseTo(0.4);
    const config = resolveConfig({ prices: { "openai:x": own } });
    expect(priceFor("openai:x", config.prices)).toEqual(own);
  });
});

describe("accounts by transport", () => {
  it("split calls and cost into single requests and batch lines, by step", () => {
    const accounts = new CallAccounts();
    const call = { role: "strong", model: "m", outcome: "answered" as const, inputTokens: 10, outputTokens: 5 };
    accounts.record({ ...call, step: "judge", costUsd: 2 });
    accounts.record({ ...call, step: "judge", costUsd: 1, transport: "batch" });
    accounts.record({ ...call, step: "answer-strong", costUsd: 1, transport: "batch" });
    expect(accounts.byTransport()).toEqual({ single: { calls: 1, costUsd: 2 }, batch: { calls: 2, costUsd: 2 } });
    expect(accounts.batchShareByStep()).toEqual({
      judge: { calls: 2, batchCalls: 1 },
      "answer-strong": { calls: 1, batchCalls: 1 },
    });
  });
});

describe("the journal keeps batches and each call's transport", () => {
  it("restores batch calls and cost, records submitted batches, and adds the column to an older table", async () => {
    const db = new Database(":memory:");
    // A journal written before batches existed: no transport column.
    db.exec(`CREATE TABLE codeclm_calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL, call_key TEXT,
      kind TEXT NOT NULL, fault_kind TEXT, role TEXT, step TEXT, model TEXT, input_tokens INTEGER, output_tokens INTEGER,
      cost_usd REAL, latency_ms INTEGER, payload TEXT)`);
    const journal = new SqliteCallJournal(db, "t");
    const row = { role: "strong", step: "judge", model: "m", answer: { text: "x" }, inputTokens: 1, outputTokens: 1 };
    await journal.answer({ ...row, key: "a", costUsd: 2, latencyMs: 1 });
    await journal.answer({ ...row, key: "b", costUsd: 1, latencyMs: 1, transport: "batch" });
    await journal.recordBatch({ batchId: "batch_1", target: "http://h/v1|/chat/completions|m", customIds: ["b"] });
    const totals = await journal.load();
    expect(totals.groups).toHaveLength(1);
    expect(totals.groups[0]).toMatchObject({ calls: 2, costUsd: 3, batchCalls: 1, batchCostUsd: 1 });
    expect(new CallAccounts(totals).byTransport().batch).toEqual({ calls: 1, costUsd: 1 });
    expect(await journal.batches()).toEqual([
      { batchId: "batch_1", target: "http://h/v1|/chat/completions|m", customIds: ["b"] },
    ]);
  });
});

describe("roles without a Batch API", () => {
  it("are named before the run: their calls go single, at the standard price", () => {
    const config = resolveConfig({
      batch: true,
      strong: { model: "openai:gpt-4o" },
      target: { model: "google-genai:gemini-2.5-flash" },
    });
    const factory = ModelFactory.fromConfig(config, { env: {} });
    const warnings = batchWarnings(config, factory, ["strong", "target", "judge"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("the target model google-genai:gemini-2.5-flash has no Batch API here");
    expect(batchWarnings({ ...config, batch: false }, factory, ["target"])).toEqual([]);
  });
});

describe("batch output files", () => {
  it("map lines back by custom_id: responses, HTTP errors and line errors", () => {
    const results = new Map<string, LineResult>();
    parseBatchLines(
      [
        JSON.stringify({ custom_id: "a", response: { status_code: 200, body: { ok: 1 } }, error: null }),
        JSON.stringify({
          custom_id: "b",
          response: { status_code: 500, body: { error: { message: "boom" } } },
          error: null,
        }),
        JSON.stringify({ custom_id: "c", response: null, error: { code: "x", message: "expired" } }),
        "",
      ].join("\n"),
      results,
    );
    expect(results.get("a")).toEqual({ status: 200, body: { ok: 1 } });
    expect(results.get("b")).toEqual({ error: "batch line failed (HTTP 500): boom" });
    expect(results.get("c")).toEqual({ error: "batch line failed: expired" });
  });
});

describe("a structured call as a batch line (ChatOpenAI, OpenAI Batch API)", () => {
  let server: FakeOpenAIServer;
  let hold = false;
  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: () => ({ json: { value: 7 } }),
      batch: { completeAfterMs: 20, hold: () => hold },
    });
  });
  afterAll(async () => server.close());

  const Schema = z.object({ value: z.number() });
  const request = {
    role: "strong" as const,
    step: "judge" as const,
    messages: [["human", "give a value"] as [string, string]],
    temperature: 0,
    schema: Schema,
    schemaName: "value",
  };

  function context(batch: boolean): CallContext {
    const config = resolveConfig({
      strong: { model: "openai:gpt-4o-mini", baseUrl: server.url },
      batch,
      batchWaitSeconds: 0.05,
      batchPollSeconds: 0.02,
    });
    const factory = factoryFor({ env: { OPENAI_API_KEY: "sk-test-unit-batch" } }, config);
    return { factory, services: buildServices(config, factory), config, meter: new UsageMeter() };
  }

  it("sends the single request's own body as the line, and pays the batch price", async () => {
    const single = context(false);
    expect(await callStructured(single, request)).toEqual({ value: 7 });
    const singleBody = server.requests.at(-1)!.body;

    const batched = context(true);
    expect(await callStructured(batched, request)).toEqual({ value: 7 });
    const file = [...server.batch!.files.values()].find((stored) => stored.purpose === "batch")!;
    const line = JSON.parse(file.content.split("\n")[0]!) as { url: string; body: unknown; method: string };
    expect(line).toMatchObject({ method: "POST", url: "/v1/chat/completions" });
    expect(line.body).toEqual(singleBody);

    const cost = (ctx: CallContext) => ctx.services.ledger.snapshot().spent.costUsd;
    expect(cost(batched)).toBeCloseTo(cost(single) / 2, 10);
    expect(batched.services.ledger.snapshot().byTransport!.batch.calls).toBe(1);
    expect(batched.services.ledger.snapshot().inFlight).toBe(0);
  });

  it("a call waiting on a batch stops waiting when the run stops (its reservation released)", async () => {
    hold = true;
    const ctx = context(true);
    const waiting = callStructured(ctx, { ...request, messages: [["human", "another value"]] });
    // The line is gathered, then its batch submitted and polled (held by the server).
    for (let waited = 0; (ctx.services.ledger.snapshot().batches?.pending ?? 0) < 1 && waited < 10_000; waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ctx.services.ledger.snapshot().batches).toMatchObject({ submitted: 1, pending: 1 });
    ctx.services.control.stop({ kind: "interrupt", message: "interrupted" });
    await expect(waiting).rejects.toBeInstanceOf(RunStoppedError);
    expect(ctx.services.ledger.snapshot()).toMatchObject({ inFlight: 0, spent: { calls: 0 } });
    hold = false;
  });
});

describe("Anthropic's Message Batches (the collector's second protocol, with the real ChatAnthropic)", () => {
  it("sends the single request's own body as a line's params, maps results back, and reports failed lines", async () => {
    const server = await startAnthropicServer({
      respond: (request) => `echo: ${request.messages.at(-1)?.content ?? ""}`,
      batch: { lineError: (_request, customId) => (customId === "c-fail" ? "overloaded" : undefined) },
    });
    const batch = server.batch!;
    try {
      const key = "sk-ant-test-batch-0123";
      const model = new ChatAnthropic({
        model: "claude-test",
        apiKey: key,
        anthropicApiUrl: server.url,
        maxRetries: 0,
        clientOptions: { fetch: batchFetch },
      });
      // Outside a batch ticket, the client's requests go out as usual.
      expect(messageText(await model.invoke("hello"))).toBe("echo: hello");

      const stop = new AbortController();
      const collector = new BatchCollector({ maxCalls: 10, waitMs: 30, pollMs: 10, stopSignal: stop.signal });
      const ask = (customId: string, text: string) => {
        const ticket: BatchTicket = { customId, line: collector.line, used: false };
        return { ticket, reply: inBatch(ticket, () => model.invoke(text)) };
      };
      const [a, b, failed] = [ask("c-ok-1", "hello"), ask("c-ok-2", "second"), ask("c-fail", "third")];
      expect(messageText(await a.reply)).toBe("echo: hello");
      expect(messageText(await b.reply)).toBe("echo: second");
      await expect(failed.reply).rejects.toThrow();
      expect(failed.ticket.lineError).toContain("overloaded");

      expect(batch.batches).toHaveLength(1);
      expect(batch.batches[0]!.map((line) => line.custom_id)).toEqual(["c-ok-1", "c-ok-2", "c-fail"]);
      expect(server.requests).toHaveLength(1); // the one single request; batch lines are not chat requests
      const { stream: _stream, ...single } = server.requests[0]!.body;
      expect(batch.batches[0]![0]!.params).toEqual(single);
      expect(batch.batchHeaders[0]!["x-api-key"]).toBe(key);
      expect(collector.snapshot()).toMatchObject({ submitted: 1, completed: 1, lines: 3, pending: 0 });
    } finally {
      await server.close();
    }
  });
});

import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { resolveConfig } from "../../lib/config.js";
import { UsageMeter } from "../../lib/usage.js";
import { type CallContext, callStructured } from "../../models/call.js";
import { ModelFactory } from "../../models/factory.js";
import { SqliteCallJournal } from "../../models/journal.js";
import { buildServices } from "../../nodes/runtime.js";
import { ScriptedChatModel } from "../support/scripted-model.js";

const Schema = z.object({ value: z.number() });
const request = (n: number) => ({
  role: "strong" as const,
  step: "encode" as const,
  messages: [["human", `give value ${n}`] as [string, string]],
  temperature: 0,
  schema: Schema,
  schemaName: "value",
});

async function session(db: Database.Database, model: ScriptedChatModel) {
  // Models given as objects are named "custom:<their type>": the scripted model is priced under that name.
  const config = resolveConfig({ prices: { "custom:scripted": { input: 1, output: 2 } } });
  const factory = ModelFactory.fromConfig(config, { env: {}, overrides: { strong: model, target: model } });
  const journal = new SqliteCallJournal(db, "run-1");
  const initial = await journal.load();
  const services = buildServices(config, factory, { journal, random: () => 0, initial });
  const ctx: CallContext = { factory, services, config, meter: new UsageMeter() };
  return { ctx, journal };
}

describe("the journal's totals are the run's call accounts, restored on resume", () => {
  it("a resumed session starts from what was paid, and replays finished calls without paying again", async () => {
    const db = new Database(":memory:");
    // Call 1: a 500, then malformed output, then a value. Call 2: a value.
    const first = new ScriptedChatModel((prompt, i) => {
      if (i === 0) return Object.assign(new Error("server melted"), { status: 500 });
      if (i === 1) return "not json {";
      return { value: prompt.includes("value 1") ? 1 : 2 };
    });
    const a = await session(db, first);
    expect(await callStructured(a.ctx, request(1))).toEqual({ value: 1 });
    expect(await callStructured(a.ctx, request(2))).toEqual({ value: 2 });
    const paid = a.ctx.services.ledger.snapshot();
    expect(paid.spent.costUsd).toBeGreaterThan(0);
    expect(paid).toMatchObject({ spent: { calls: 3 }, malformed: 1, faults: { server: 1 }, replayed: 0, givenUp: 0 });
    expect(paid.byModel["custom:scripted"]).toMatchObject({ calls: 3, malformed: 1, priced: true });

    // The next session: the same calls are answered from the journal; the model is not asked.
    const second = new ScriptedChatModel(() => ({ value: 99 }));
    const b = await session(db, second);
    expect(b.ctx.services.ledger.snapshot()).toMatchObject({
      spent: paid.spent,
      byModel: paid.byModel,
      malformed: 1,
      faults: { server: 1 },
    });
    expect(await callStructured(b.ctx, request(1))).toEqual({ value: 1 });
    expect(await callStructured(b.ctx, request(2))).toEqual({ value: 2 });
    expect(second.calls).toHaveLength(0);
    const resumed = b.ctx.services.ledger.snapshot();
    expect(resumed.spent).toEqual(paid.spent);
    expect(resumed.replayed).toBe(3);
    // The node's usage counts the replayed calls as calls of its step (its earlier update never reached the state).
    expect(b.ctx.meter.totals.byStep.encode).toMatchObject({ calls: 3, failedCalls: 1 });
    db.close();
  });
});

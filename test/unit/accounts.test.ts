import { describe, expect, it } from "vitest";
import { CallAccounts, type CallRecord } from "../../lib/accounts.js";
import { budgetBlock } from "../../lib/budget.js";
import { spendSummary, transportSummary } from "../../lib/summary.js";
import { SpendLedger } from "../../models/ledger.js";

const call = (rest: Partial<CallRecord> = {}): CallRecord => ({
  role: "strong",
  step: "encode",
  model: "openai:a",
  outcome: "answered",
  inputTokens: 10,
  outputTokens: 2,
  costUsd: 0.5,
  ...rest,
});

describe("CallAccounts: one record per call, read as usage, spending and transport counts", () => {
  it("usage by role and step counts every call the steps made; spending only what was paid", () => {
    const accounts = new CallAccounts();
    accounts.record(call());
    accounts.record(call({ outcome: "malformed", inputTokens: 4, outputTokens: 1, costUsd: 0.25 }));
    accounts.record(
      call({ role: "target", step: "answer-target", model: "openai:b", outcome: "given-up", costUsd: null }),
    );
    accounts.record(call({ step: "decode", replayed: true, inputTokens: 100, outputTokens: 100 }));
    accounts.fault("rate-limit");
    accounts.fault("rate-limit");

    const usage = accounts.usage();
    expect(usage.byStep.encode).toEqual({ calls: 2, failedCalls: 1, inputTokens: 14, outputTokens: 3 });
    expect(usage.byStep.decode).toEqual({ calls: 1, failedCalls: 0, inputTokens: 100, outputTokens: 100 });
    expect(usage.byRole.target).toEqual({ calls: 0, failedCalls: 1, inputTokens: 0, outputTokens: 0 });
    // The replayed call was paid in an earlier session: not spent again.
    expect(accounts.spent()).toEqual({ calls: 2, inputTokens: 14, outputTokens: 3, costUsd: 0.75 });
    // A model that only had calls given up was paid nothing and is not listed.
    expect(accounts.byModel()).toEqual({
      "openai:a": { calls: 2, inputTokens: 14, outputTokens: 3, costUsd: 0.75, priced: true, malformed: 1 },
    });
    expect(accounts.transport()).toEqual({ faults: { "rate-limit": 2 }, malformed: 1, givenUp: 1, replayed: 1 });
  });

  it("a model without a price makes its spending (and the run's) cost-incomplete", () => {
    const accounts = new CallAccounts();
    accounts.record(call());
    accounts.record(call({ model: "openai:free", costUsd: null }));
    const spend = spendSummary({
      spent: accounts.spent(),
      inFlight: 0,
      byModel: accounts.byModel(),
      ...accounts.transport(),
    });
    expect(spend.costComplete).toBe(false);
    expect(spend.byModel["openai:free"]!.costUsd).toBeNull();
    expect(spend.byModel["openai:a"]!.costUsd).toBe(0.5);
  });

  it("restored from its data (the journal's totals), it goes on counting where it stopped", () => {
    const before = new CallAccounts();
    before.record(call());
    before.record(call({ outcome: "malformed" }));
    before.fault("server");
    const after = new CallAccounts(before.data());
    after.record(call({ replayed: true }));
    after.record(call());
    expect(after.spent()).toEqual({ calls: 3, inputTokens: 30, outputTokens: 6, costUsd: 1.5 });
    expect(after.transport()).toEqual({ faults: { server: 1 }, malformed: 1, givenUp: 0, replayed: 1 });
  });
});

describe("SpendLedger over the run's accounts", () => {
  it("budgets what was paid before a resume, and its snapshot is the accounts' views", () => {
    const earlier = new CallAccounts();
    earlier.record(call({ inputTokens: 200, outputTokens: 50, costUsd: null }));
    const ledger = new SpendLedger({ maxCalls: 2, maxTokens: null, maxCostUsd: null }, {}, earlier.data());
    const first = ledger.reserve("openai:a", 30, 10);
    expect("reservation" in first).toBe(true);
    // One paid before, one in flight: a third call would cross the call budget of 2.
    const second = ledger.reserve("openai:a", 30, 10);
    expect("stop" in second && second.stop.kind).toBe("calls");
    ledger.accounts.record(call({ replayed: true }));
    const snapshot = ledger.snapshot();
    expect(snapshot).toMatchObject({
      spent: { calls: 1, inputTokens: 200, outputTokens: 50 },
      inFlight: 1,
      replayed: 1,
      givenUp: 0,
    });
    expect(transportSummary(snapshot)).toEqual({ faults: {}, malformed: 0, givenUp: 0, replayed: 1 });
    expect(
      budgetBlock(
        { maxCalls: null, maxTokens: 260, maxCostUsd: null },
        snapshot.spent,
        { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
        { calls: 1, inputTokens: 5, outputTokens: 5, costUsd: 0 },
      ),
    ).toBeUndefined();
  });
});

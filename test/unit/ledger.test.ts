import { describe, expect, it } from "vitest";
import { SpendLedger } from "../../models/ledger.js";

describe("SpendLedger reservations", () => {
  it("a call that does not fit while others are in flight can wait for one to end, then fits", async () => {
    // 100 prompt chars are estimated at 42 tokens, plus 100 output tokens reserved: 142 a call; a budget of 320.
    const ledger = new SpendLedger({ maxCalls: null, maxTokens: 320, maxCostUsd: null });
    const first = ledger.reserve("openai:m", 100, 100);
    const second = ledger.reserve("openai:m", 100, 100);
    expect("reservation" in first && "reservation" in second).toBe(true);
    expect(ledger.callsInFlight).toBe(2);
    const third = ledger.reserve("openai:m", 100, 100);
    expect("stop" in third && third.stop.kind).toBe("tokens");

    let woke = false;
    const waiting = ledger.whenReleased().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    // The first call used far less than its reservation (25 in, 5 out): 30 spent + 142 reserved + 142 fits.
    ledger.settle((first as { reservation: never }).reservation, {
      role: "strong",
      step: "encode",
      model: "openai:m",
      outcome: "answered",
      inputTokens: 25,
      outputTokens: 5,
      costUsd: null,
    });
    await waiting;
    expect(ledger.callsInFlight).toBe(1);
    expect("reservation" in ledger.reserve("openai:m", 100, 100)).toBe(true);
  });
});

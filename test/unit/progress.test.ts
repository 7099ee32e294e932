import { describe, expect, it } from "vitest";
import { passwordNote, resumeCommandFrom, urlPassword } from "../../cli/generate.js";
import { duration, etaMs, progressLine, renderProgress } from "../../cli/progress.js";
import type { ProgressSnapshot } from "../../runner/run.js";

const snapshot = (extra: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  runId: "r1",
  size: 100,
  kept: 40,
  keptPerIteration: { "2": 10, "1": 30 },
  reverseKept: 3,
  dropped: 5,
  droppedByReason: { "max-iterations": 4, failure: 1 },
  failures: 1,
  instructions: { decoded: 200, filtered: 45, inWave: 60 },
  calls: 400,
  inFlight: 16,
  inputTokens: 1_234_567,
  outputTokens: 45_678,
  costUsd: 3.456,
  costComplete: true,
  faults: { "rate-limit": 4, timeout: 1 },
  malformed: 2,
  replayed: 0,
  elapsedMs: 60_000,
  expectedCalls: 1000,
  callsAtStart: 0,
  endpoints: [
    {
      key: "openai|https://api.openai.com/v1|gpt-4o",
      limit: 8,
      max: 16,
      active: 8,
      queued: 30,
      breaker: "closed",
      lastChange: "rate-limit",
    },
    { key: "openai|https://api.openai.com/v1|gpt-4o-mini", limit: 16, max: 16, active: 8, queued: 0, breaker: "open" },
  ],
  ...extra,
});

describe("progress display", () => {
  it("extrapolates the ETA from calls per kept pair, or from the estimate before any pair is kept", () => {
    // 400 calls for 40 pairs: 1000 calls for 100, 600 to go at 400 per minute.
    expect(etaMs(snapshot())).toBeCloseTo(90_000);
    expect(etaMs(snapshot({ kept: 0 }))).toBeCloseTo(90_000); // expectedCalls 1000
    expect(etaMs(snapshot({ kept: 100 }))).toBe(0);
    expect(etaMs(snapshot({ elapsedMs: 500 }))).toBeUndefined();
    // A resumed session: only its own calls give the rate.
    expect(etaMs(snapshot({ callsAtStart: 200 }))).toBeCloseTo(180_000);
  });

  it("shows kept of N, per-iteration counts, drops, calls, tokens, cost, limits and retries", () => {
    const text = renderProgress(snapshot());
    expect(text).toContain("40/100 kept 40%");
    expect(text).toContain("ETA 1m30s");
    expect(text).toContain("kept by iteration 1:30 2:10");
    expect(text).toContain("reverse-kept 3");
    expect(text).toContain("dropped 5 (max-iterations 4, failure 1)");
    expect(text).toContain("calls 400 (16 in flight, 6.7/s)");
    // Decoded ahead and not yet needed: 200 decoded − 45 done − 60 filtering.
    expect(text).toContain("filtering 60 instructions (45 of 200 decoded done, 95 waiting)");
    expect(text).toContain("tokens 1.2M in / 46k out");
    expect(text).toContain("$3.46");
    expect(text).toContain("gpt-4o 8/8 (rate-limit)");
    expect(text).toContain("gpt-4o-mini 8/16 PAUSED");
    expect(text).toContain("retries 5 (rate-limit 4, timeout 1) · malformed 2");
  });

  it("a plain line for logs; an unknown cost is said, not shown as zero", () => {
    const line = progressLine(snapshot({ costUsd: 0, costComplete: false }));
    expect(line).toMatch(
      /^codeclm: kept 40\/100 · dropped 5 · instructions 45 filtered, 60 filtering, 95 waiting · calls 400 \(16 in flight\)/,
    );
    expect(line).toContain("cost unknown");
    expect(progressLine(snapshot({ costComplete: false }))).toContain("$3.46+");
    expect(duration(3_725_000)).toBe("1h02m");
  });

  it("with --batch, shows batches submitted, pending and done, the calls gathered, and lines resent single", () => {
    const batches = { queued: 12, submitted: 7, pending: 2, completed: 5, failed: 0, lines: 900, lineErrors: 3 };
    const expected = "batches 7 submitted, 2 pending, 5 done (12 calls gathered, 3 lines resent single)";
    expect(progressLine(snapshot({ batches }))).toContain(expected);
    expect(renderProgress(snapshot({ batches }))).toContain(expected);
    expect(progressLine(snapshot())).not.toContain("batches");
  });
});

describe("resume command", () => {
  it("repeats the arguments with --resume, drops --force, --dry-run and an earlier --resume, and leaves passwords out", () => {
    expect(
      resumeCommandFrom([
        "generate",
        "--seeds",
        "my seeds.jsonl",
        "--force",
        "--resume",
        "abc",
        "--out",
        "o.jsonl",
        "--max-cost",
        "5",
      ]),
    ).toBe("codeclm generate --seeds 'my seeds.jsonl' --out o.jsonl --max-cost 5 --resume");
    expect(resumeCommandFrom(["generate", "--checkpoint", "postgres://bob:s3cret@db:5432/x", "--resume"])).toBe(
      "codeclm generate --checkpoint postgres://bob@db:5432/x --resume",
    );
    expect(resumeCommandFrom(["generate", "--checkpoint=postgresql://bob:s%40c:r%2Ft@db/x?sslmode=require"])).toBe(
      "codeclm generate '--checkpoint=postgresql://bob@db/x?sslmode=require' --resume",
    );
    expect(passwordNote(["--checkpoint", "postgres://bob:pw@db/x"])).toContain("PGPASSWORD");
    expect(passwordNote(["--checkpoint", "postgres://bob@db/x"])).toBe("");
    expect(urlPassword("postgres://bob:s%40cret@db/x")).toBe("s@cret");
    expect(urlPassword("postgres://db/x")).toBeUndefined();
    expect(urlPassword("seeds.jsonl")).toBeUndefined();
  });
});

describe("the printed Postgres resume command runs once PGPASSWORD is set", () => {
  it("node-postgres takes the password from PGPASSWORD when the URL has none", async () => {
    const { default: ConnectionParameters } = await import("pg/lib/connection-parameters.js" as string);
    const command = resumeCommandFrom(["generate", "--checkpoint", "postgres://bob:s3cret@db.example:5432/codec"]);
    const url = /--checkpoint (\S+)/.exec(command)![1]!;
    expect(url).not.toContain("s3cret");
    const saved = process.env.PGPASSWORD;
    process.env.PGPASSWORD = "s3cret";
    try {
      const params = new ConnectionParameters({ connectionString: url });
      expect(params).toMatchObject({
        user: "bob",
        password: "s3cret",
        host: "db.example",
        port: 5432,
        database: "codec",
      });
    } finally {
      if (saved === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = saved;
    }
  });
});

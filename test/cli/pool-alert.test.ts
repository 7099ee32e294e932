import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateArgs, runCli, serverEnv } from "../support/cli.js";
import { codecReply } from "../support/codec-responder.js";
import { type FakeOpenAIServer, startOpenAIServer } from "../support/openai-server.js";

/** A plausibility check that fails is said loudly: progress, final message, summary (issue 9, point 2). */
describe("codeclm generate with a plausibility check whose replies never validate", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  beforeAll(async () => {
    server = await startOpenAIServer({
      respond: (request) => {
        const prompt = request.messages.map((m) => m.content).join("\n");
        const reply = codecReply(request.model === "target" ? "target" : "strong", prompt);
        if (prompt.includes("combined at random")) {
          // Line numbers far outside the batch: no repair can read them.
          const verdicts = (reply as { verdicts: Array<{ index: number }> }).verdicts.map((verdict) => ({
            ...verdict,
            index: verdict.index + 100,
          }));
          return { json: { verdicts } };
        }
        return typeof reply === "string" ? { text: reply } : { json: reply };
      },
    });
    dir = await mkdtemp(join(tmpdir(), "codeclm-pool-alert-"));
  });
  afterAll(async () => server.close());

  it("says mix-and-match was off, why, and what the pool holds", async () => {
    const seeds = join(dir, "seeds.txt");
    await writeFile(
      seeds,
      "Write a limerick about a cat.\nHow do I sort a list in Python?\nExplain compound interest.\nSummarise the French Revolution.\n",
    );
    const out = join(dir, "out.jsonl");
    const result = await runCli(
      generateArgs({ seeds, out, size: 4, pool: 12, strong: "openai:strong", target: "openai:target" }),
      serverEnv(server, "sk-test-alert-0123456789"),
    );
    expect(result.code).toBe(0);
    // progress (stderr is not a terminal here: plain lines)
    expect(result.stderr).toMatch(
      /codeclm: warning: mix-and-match was off: the plausibility check failed for \d+ of \d+ mixed candidates \(\d+ malformed or incomplete replies/,
    );
    expect(result.stderr).toMatch(/MIX-AND-MATCH OFF/);
    // final message
    expect(result.stdout).toMatch(
      /^warning: mix-and-match was off: .*only the seeds' own metadata \(\d+ of 12 requested\)/m,
    );
    // summary
    const summary = JSON.parse(await readFile(join(dir, "out.summary.json"), "utf8"));
    expect(summary.poolMakeup).toMatchObject({ mixAndMatch: "off", augmented: 0, rejected: 0, requested: 12 });
    expect(summary.poolMakeup.failed).toBe(summary.poolMakeup.checked);
    expect(summary.poolMakeup.seed).toBe(summary.poolMakeup.size);
    expect(
      Object.values(summary.poolMakeup.skillsPerMetadata as Record<string, number>).reduce((a, b) => a + b, 0),
    ).toBe(summary.poolMakeup.size);
    expect(summary.poolMakeup.warning).toContain("mix-and-match was off");
  });
});

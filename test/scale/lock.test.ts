/**
 * One writer per output set, for real: CLI processes started on the same --out at once, a --resume or
 * --force started while a run writes, a lock left by kill -9, SIGTERM, and a write that fails (disk
 * full, through a link to /dev/full). The run that holds the lock must end complete, with no duplicate
 * and no cut line.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acquireOutputLock, isStale, processStartTime } from "../../runner/lock.js";
import { writeJsonAtomic } from "../../runner/output.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { readJson, runCli, startCli, startCodecServer, waitFor, writeSeeds } from "./support.js";
import { generateArgs, serverEnv } from "../support/cli.js";

const SIZE = 40;

/** Every line of a JSONL file parses, and the ids are unique. */
async function wholeLines(path: string): Promise<string[]> {
  const text = await readFile(path, "utf8");
  expect(text === "" || text.endsWith("\n")).toBe(true);
  const ids = text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => String((JSON.parse(line) as { id: string }).id));
  expect(new Set(ids).size).toBe(ids.length);
  return ids;
}

describe("the output lock (in process)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "codeclm-lock-"));
  });

  it("is held once, even within one process, and removed on release", async () => {
    const path = join(dir, "a.lock");
    const first = await acquireOutputLock(path, "first");
    await expect(acquireOutputLock(path)).rejects.toThrow(`pid ${process.pid} on ${hostname()}`);
    expect(existsSync(path)).toBe(true);
    await first.release();
    expect(existsSync(path)).toBe(false);
    const again = await acquireOutputLock(path);
    await again.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("a lock of a process that is gone is stale; of a live one, or of another host, is not", async () => {
    const child = spawn(process.execPath, ["-e", ""]);
    const pid = child.pid!;
    await new Promise((resolve) => child.on("exit", resolve));
    expect(isStale({ pid, host: hostname(), since: "x" })).toBe(true);
    expect(
      isStale({
        pid: process.ppid,
        host: hostname(),
        since: "x",
        ...(processStartTime(process.ppid) ? { processStart: processStartTime(process.ppid) } : {}),
      }),
    ).toBe(false);
    expect(isStale({ pid, host: "elsewhere.example", since: "x" })).toBe(false);
    if (processStartTime(process.ppid)) {
      // The pid was reused by a process started at another time.
      expect(isStale({ pid: process.ppid, host: hostname(), since: "x", processStart: "1" })).toBe(true);
    }
    const path = join(dir, "b.lock");
    await writeFile(path, JSON.stringify({ pid, host: hostname(), since: "2020-01-01T00:00:00.000Z" }));
    const taken = await acquireOutputLock(path);
    expect(JSON.parse(await readFile(path, "utf8")).pid).toBe(process.pid);
    await taken.release();
    await writeFile(path, JSON.stringify({ pid: 4242, host: "elsewhere.example", since: "2020-01-01T00:00:00.000Z" }));
    await expect(acquireOutputLock(path)).rejects.toThrow(
      /pid 4242 on elsewhere\.example, since 2020-01-01.*delete .*b\.lock/,
    );
  });

  it("a failed whole-file write removes its temporary file and names the file", async () => {
    if (!existsSync("/dev/full")) return;
    const path = join(dir, "state.json");
    await symlink("/dev/full", `${path}.tmp-${process.pid}`);
    await expect(writeJsonAtomic(path, { a: 1 })).rejects.toThrow(
      `cannot write ${path}: no space left on the device (ENOSPC)`,
    );
    expect((await readdir(dir)).filter((name) => name.includes(".tmp-"))).toEqual([]);
  });
});

describe("codeclm generate: one writer per output", () => {
  let server: FakeOpenAIServer;
  let dir: string;
  let seeds: string;
  const env = () => serverEnv(server, "sk-test-lock");
  const args = (out: string, ...more: string[]) =>
    generateArgs({ seeds, out, size: SIZE, pool: 10, seed: 3, concurrency: 4 }, "--quiet", ...more);

  beforeAll(async () => {
    // Slow enough answers that a run lasts a few seconds.
    server = await startCodecServer({ latencyMs: { mean: 25, jitter: 5 }, recordRequests: false });
    dir = await mkdtemp(join(tmpdir(), "codeclm-lock-cli-"));
    seeds = await writeSeeds(dir, 12);
  });
  afterAll(async () => server?.close());

  it("two processes started at once on one --out: one runs, the other is refused with exit 2 naming it", async () => {
    const out = join(dir, "twin.jsonl");
    const [a, b] = await Promise.all([runCli(args(out), env()), runCli(args(out), env())]);
    const codes = [a.code, b.code].sort();
    expect(codes).toEqual([0, 2]);
    const refused = a.code === 2 ? a : b;
    expect(refused.stderr).toMatch(/another process is writing these outputs .*twin\.lock.*: pid \d+ on /);
    expect(await wholeLines(out)).toHaveLength(SIZE);
    expect((await readJson(join(dir, "twin.run.json"))).status).toBe("complete");
    expect(existsSync(join(dir, "twin.lock"))).toBe(false);
  }, 120_000);

  it(
    "a --resume or --force started while the run writes is refused; the run ends complete, no duplicate, no cut line",
    { timeout: 180_000 },
    async () => {
      const out = join(dir, "busy.jsonl");
      // Slower answers: the run must still be writing while three more processes start.
      const slow = await startCodecServer({ latencyMs: { mean: 150, jitter: 20 }, recordRequests: false });
      const slowEnv = { ...env(), OPENAI_BASE_URL: slow.url };
      const first = startCli(args(out), slowEnv);
      // Pairs are decided late in a run (after the filtering passes): start the others once it is well under way.
      await waitFor(
        () => existsSync(join(dir, "busy.lock")) && slow.counters.completed >= 20,
        60_000,
        "the run to be under way",
      );
      const holder = JSON.parse(await readFile(join(dir, "busy.lock"), "utf8"));
      expect(holder.pid).toBe(first.child.pid);
      const extras = [["--resume"], ["--force"], []];
      const others = await Promise.all(extras.map((extra) => runCli(args(out, ...extra), slowEnv)));
      expect(first.child.exitCode).toBeNull(); // refused while the first still ran
      for (const [k, second] of others.entries()) {
        expect(second.code, extras[k]!.join(" ")).toBe(2);
        expect(second.stderr).toContain(`pid ${first.child.pid} on ${hostname()}, since ${holder.since}`);
        expect(second.stderr.trim().split("\n")).toHaveLength(1);
      }
      const result = await first.done;
      await slow.close();
      expect(result.code).toBe(0);
      expect(await wholeLines(out)).toHaveLength(SIZE);
      expect((await readJson(join(dir, "busy.summary.json"))).status).toBe("complete");
    },
  );

  it("after kill -9 the lock is stale: --resume takes it over and completes", async () => {
    const out = join(dir, "killed.jsonl");
    const first = startCli(args(out), env());
    await waitFor(() => existsSync(join(dir, "killed.run.json")), 60_000, "the run to start");
    first.child.kill("SIGKILL");
    await first.done;
    expect(existsSync(join(dir, "killed.lock"))).toBe(true); // left behind, as after a crash
    const resumed = await runCli(args(out, "--resume"), env());
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(await wholeLines(out)).toHaveLength(SIZE);
    expect(existsSync(join(dir, "killed.lock"))).toBe(false);
  }, 120_000);

  it("SIGTERM stops cleanly with its own message and exit 143", async () => {
    const out = join(dir, "term.jsonl");
    const run = startCli(
      args(out).filter((arg) => arg !== "--quiet"),
      env(),
    );
    await waitFor(() => existsSync(join(dir, "term.run.json")), 60_000, "the run to start");
    run.child.kill("SIGTERM");
    const result = await run.done;
    expect(result.code).toBe(143);
    expect(result.stderr).toContain(
      "SIGTERM received, stopping: waiting for the calls in flight to finish (SIGTERM again to cancel them)",
    );
    expect(result.stderr).not.toContain("Ctrl-C");
    expect((await readJson(join(dir, "term.run.json"))).status).toBe("stopped");
    expect(result.stdout).toMatch(/resume with: codeclm generate .* --resume/);
  }, 120_000);

  it("a write that fails (disk full): the message names the file, the run is left 'failed' with the resume command, no temporary file", async () => {
    if (!existsSync("/dev/full")) return;
    const out = join(dir, "full.jsonl");
    await symlink("/dev/full", out); // every write to the kept pairs fails with ENOSPC, as root too
    const failed = await runCli(args(out, "--force"), env());
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`cannot write ${out}: no space left on the device (ENOSPC)`);
    expect(failed.stderr).toMatch(/resume with: codeclm generate .* --resume/);
    const state = await readJson(join(dir, "full.run.json"));
    expect(state.status).toBe("failed");
    expect(state.error).toContain(`cannot write ${out}`);
    expect(state.resume).toMatch(/^codeclm generate .* --resume$/);
    expect((await readdir(dir)).filter((name) => /\.tmp-|\.partial$|\.lock$/.test(name))).toEqual([]);

    // Space again: the printed command finishes the run.
    await rm(out);
    const resumed = await runCli(state.resume.split(" ").slice(1), env());
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(await wholeLines(out)).toHaveLength(SIZE);
  }, 120_000);
});

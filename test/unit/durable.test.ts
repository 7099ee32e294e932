import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDurable } from "../../runner/durable.js";

/** A run's rows in every table of the file: a checkpoint (with a pending write) and a journal entry. */
async function writeRun(
  durable: Awaited<ReturnType<typeof openDurable>>,
  threadId: string,
  parts: { checkpoint: boolean } = { checkpoint: true },
): Promise<void> {
  const journal = await durable.journal(threadId);
  await journal!.recordRun({ fingerprint: `fingerprint of ${threadId}`, settings: {} });
  journal!.fault({ role: "strong", step: "encode", model: "openai:m", kind: "rate-limit", status: 429 });
  await journal!.flush();
  if (!parts.checkpoint) return;
  const config = { configurable: { thread_id: threadId, checkpoint_ns: "" } };
  const checkpoint = {
    v: 4,
    id: `${threadId}-1`,
    ts: new Date().toISOString(),
    channel_values: { n: 1 },
    channel_versions: { n: 1 },
    versions_seen: {},
  };
  const saved = await durable.saver!.put(config, checkpoint, { source: "loop", step: 0, parents: {} }, { n: 1 });
  await durable.saver!.putWrites(saved, [["n", 2]], "task-1");
}

async function threadsIn(path: string): Promise<string[]> {
  const durable = await openDurable({ kind: "sqlite", path });
  const ids = new Set<string>();
  for await (const tuple of durable.saver!.list({})) ids.add(String(tuple.config.configurable?.thread_id));
  await durable.close();
  return [...ids].sort();
}

describe("forgetting a finished run (SQLite)", () => {
  it("deletes a file that holds no other run, with its WAL, at once", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "codeclm-durable-")), "run.checkpoint.sqlite");
    const durable = await openDurable({ kind: "sqlite", path });
    await writeRun(durable, "a");
    await durable.forget("a", { dropFile: true });
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}-wal`)).toBe(false);
    await durable.close({ removeIfEmpty: true }); // already closed: nothing to do, no error
  });

  it("deletes only the run's rows when another run shares the file", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "codeclm-durable-")), "run.checkpoint.sqlite");
    const durable = await openDurable({ kind: "sqlite", path });
    await writeRun(durable, "a");
    await writeRun(durable, "b");
    await durable.forget("a", { dropFile: true });
    await durable.close({ removeIfEmpty: true });
    expect(existsSync(path)).toBe(true);
    expect(await threadsIn(path)).toEqual(["b"]);
  });

  it("keeps a file where another run left only its journal", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "codeclm-durable-")), "run.checkpoint.sqlite");
    const durable = await openDurable({ kind: "sqlite", path });
    await writeRun(durable, "a");
    await writeRun(durable, "b", { checkpoint: false });
    await durable.forget("a", { dropFile: true });
    await durable.close({ removeIfEmpty: true });
    expect(existsSync(path)).toBe(true);
    const reopened = await openDurable({ kind: "sqlite", path });
    expect(await (await reopened.journal("b"))!.run()).toEqual({ fingerprint: "fingerprint of b", settings: {} });
    expect(await (await reopened.journal("a"))!.run()).toBeUndefined();
    expect(await threadsIn(path)).toEqual([]);
    await reopened.close();
  });

  it("without dropFile, empties the file and leaves it for close to remove", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "codeclm-durable-")), "run.checkpoint.sqlite");
    const durable = await openDurable({ kind: "sqlite", path });
    await writeRun(durable, "a");
    await durable.forget("a");
    expect(existsSync(path)).toBe(true);
    await durable.close({ removeIfEmpty: false });
    expect(await threadsIn(path)).toEqual([]);
  });
});

/**
 * One writer per output set: `OUT.lock`, created with O_EXCL (`wx`) and holding the writer's pid, host,
 * process start time and command. A second process finds it and is refused, told who holds it. A lock
 * left by a crash or kill -9 is recognised as stale when it was taken on this host and its process is
 * gone (or the pid now belongs to a process started at another time), and is then taken over.
 *
 * Why not proper-lockfile: it calls a lock stale when its mtime is older than a threshold, so a live run
 * must keep touching the file and a long event-loop stall lets a second writer in. The pid + start time
 * check here has no timing at all. A lock taken on another host cannot be checked and is never broken.
 */
import { readFileSync, rmSync } from "node:fs";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";

export interface LockHolder {
  pid: number;
  host: string;
  /** When the lock was taken (ISO). */
  since: string;
  /** The process's start time in clock ticks since boot (Linux), to tell a reused pid apart. */
  processStart?: string;
  command?: string;
}

/** The output set is being written by another process (or its lock cannot be read): exit 2. */
export class OutputLockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder | undefined,
    detail?: string,
  ) {
    super(
      holder
        ? `another process is writing these outputs (${path}): pid ${holder.pid} on ${holder.host}, since ${holder.since}` +
            `${holder.command ? ` (${holder.command})` : ""}. Wait for it to end or stop it (Ctrl-C), then try again` +
            (holder.host !== hostname() ? `; if that process is gone, delete ${path}` : "")
        : `${path} ${detail ?? "is held by another process"}`,
    );
  }
}

/** Start time of a process (field 22 of /proc/PID/stat), or undefined where /proc is not there. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the process that wrote this lock is certainly gone (only decidable on the same host). */
export function isStale(holder: LockHolder, host = hostname()): boolean {
  if (holder.host !== host) return false;
  if (holder.pid === process.pid) return false;
  if (!alive(holder.pid)) return true;
  const start = processStartTime(holder.pid);
  return holder.processStart !== undefined && start !== undefined && start !== holder.processStart;
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const value = JSON.parse(await readFile(path, "utf8")) as LockHolder;
    return typeof value?.pid === "number" && typeof value.host === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

export interface OutputLock {
  readonly path: string;
  release(): Promise<void>;
}

const releaseAtExit = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // process.exit() (a third Ctrl-C) skips finally blocks: the lock goes with the process anyway.
  process.on("exit", () => {
    for (const path of releaseAtExit) {
      try {
        const holder = JSON.parse(readFileSync(path, "utf8")) as LockHolder;
        if (holder.pid === process.pid) rmSync(path, { force: true });
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Create the lock whole or not at all: written to a private file first, then hard-linked into place
 * (link fails with EEXIST atomically, so no process ever reads a half-written lock).
 */
async function createLock(path: string, holder: LockHolder): Promise<boolean> {
  const draft = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(draft, `${JSON.stringify(holder)}\n`, { flag: "wx" });
  try {
    await link(draft, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
    // A file system without hard links: O_EXCL alone (a reader may then briefly see an empty lock).
    try {
      await writeFile(path, `${JSON.stringify(holder)}\n`, { flag: "wx" });
      return true;
    } catch (fallback) {
      if ((fallback as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw fallback;
    }
  } finally {
    await rm(draft, { force: true });
  }
}

/** A takeover older than this was interrupted (the process died between two system calls). */
const TAKEOVER_STALE_MS = 10_000;

/**
 * Replace a stale lock. Two processes may find the same stale lock at once: the takeover is itself
 * guarded by an O_EXCL file, so only one removes and recreates the lock; the other is refused.
 */
async function takeOver(path: string, stale: LockHolder, holder: LockHolder): Promise<boolean> {
  const guard = `${path}.takeover`;
  const guardAge = await stat(guard).then(
    (info) => Date.now() - info.mtimeMs,
    () => undefined,
  );
  if (guardAge !== undefined && guardAge > TAKEOVER_STALE_MS) await rm(guard, { force: true });
  if (!(await createLock(guard, holder))) return false;
  try {
    const current = await readHolder(path);
    // Someone else took it over between our read and our guard: theirs is live.
    if (current && (current.pid !== stale.pid || current.since !== stale.since)) return false;
    await rm(path, { force: true });
    return await createLock(path, holder);
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Take the lock of an output set (`lockPath` is usually `OUT.lock`), or throw `OutputLockedError`
 * naming the process that holds it. Not re-entrant: a second take in the same process is refused too
 * (pass the lock on instead, as the CLI does to `runToFiles`).
 */
export async function acquireOutputLock(lockPath: string, command?: string): Promise<OutputLock> {
  const path = resolve(lockPath);
  const holder: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    ...(processStartTime(process.pid) ? { processStart: processStartTime(process.pid) } : {}),
    ...(command ? { command } : {}),
  };
  if (!(await createLock(path, holder))) {
    const current = await readHolder(path);
    if (!current) {
      throw new OutputLockedError(
        path,
        undefined,
        "exists and is not a codeclm lock; delete it if no codeclm process is writing there",
      );
    }
    if (!isStale(current)) throw new OutputLockedError(path, current);
    if (!(await takeOver(path, current, holder)))
      throw new OutputLockedError(path, (await readHolder(path)) ?? current);
  }
  installExitHook();
  releaseAtExit.add(path);
  let released = false;
  return {
    path,
    release: async () => {
      if (released) return;
      released = true;
      releaseAtExit.delete(path);
      const current = await readHolder(path);
      if (current?.pid === process.pid && current.since === holder.since) await rm(path, { force: true });
    },
  };
}

/** Run `work` holding the lock at `lockPath` (its folder is created first). */
export async function withOutputLock<T>(lockPath: string, command: string, work: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const lock = await acquireOutputLock(lockPath, command);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

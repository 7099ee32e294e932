import type { ChildProcess } from "node:child_process";

/** True while any process of the group `pid` leads is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends a child started with `detached: true` and its whole process group: SIGTERM, then SIGKILL after 5 s.
 * Resolves once the group is gone, not only its leader (`npx` exits before the server it started, which may
 * still be writing into a folder the caller is about to remove), or after 10 s whatever is left (a zombie
 * nobody reaps).
 */
export async function stopProcessGroup(child: ChildProcess | undefined): Promise<void> {
  const pid = child?.pid;
  if (!child || pid === undefined || !groupAlive(pid)) return;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return;
  }
  const started = Date.now();
  let killed = false;
  while (groupAlive(pid) && Date.now() - started < 10_000) {
    if (!killed && Date.now() - started > 5_000) {
      killed = true;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

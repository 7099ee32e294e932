/** A bench process set up as the CLI sets itself up (cli/main.ts), so its figures are the CLI's. */
import { spawnSync } from "node:child_process";
import { setMaxListeners } from "node:events";
import { z } from "zod";
import { YOUNG_GENERATION_FLAG, boundHeapGrowth, youngGenerationSet } from "../cli/heap.js";

/** How a bench starts a child process that should run as the CLI runs (the bin's young generation, tsx). */
export const LIKE_CLI_NODE_ARGS = [YOUNG_GENERATION_FLAG, "--import", "tsx"];

/**
 * No listener cap on the many abort signals, the heap's growth bounded, no zod JIT for throwaway schemas.
 * Started without the CLI's young generation (`npx tsx bench/….ts`), the bench runs itself again with it
 * and exits with that run's code.
 */
export async function setUpLikeTheCli(): Promise<void> {
  if (!youngGenerationSet()) {
    const rerun = spawnSync(process.execPath, [YOUNG_GENERATION_FLAG, ...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
    });
    process.exit(rerun.status ?? 1);
  }
  setMaxListeners(Number.POSITIVE_INFINITY);
  await boundHeapGrowth();
  z.config({ jitless: true });
}

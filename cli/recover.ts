import type { Command } from "commander";
import { fleetDatabase } from "./worker.js";

/** `codeclm recover --worker-id ID`: hand a worker's unfinished instructions to the rest of the fleet. */
async function recover(flags: { checkpoint?: string; workerId: string }): Promise<void> {
  const url = fleetDatabase(flags.checkpoint, "codeclm recover");
  const { recoverWorker } = await import("../runner/fleet/recover.js");
  const ids = await recoverWorker(url, flags.workerId);
  process.stdout.write(
    `codeclm recover: ${ids.length} unfinished instruction(s) of worker ${flags.workerId} put back on the queue\n`,
  );
}

export function registerRecover(program: Command): void {
  program
    .command("recover")
    .description("Hand the unfinished instructions of a worker that will not come back to the other workers")
    .option("--checkpoint <url>", "the fleet's Postgres database (postgres://…)")
    .requiredOption("--worker-id <id>", "the dead worker's id")
    .action(async (flags: { checkpoint?: string; workerId: string }) => recover(flags));
}

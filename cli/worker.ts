import { hostname } from "node:os";
import type { Command } from "commander";
import { registerSecret } from "../lib/redact.js";
import { describeCheckpoint, parseCheckpointSpec } from "../runner/checkpoint-spec.js";
import { UsageError } from "./errors.js";
import { integer } from "./options.js";
import { urlPassword } from "./resume-command.js";

export interface WorkerFlags {
  checkpoint?: string;
  concurrency: number;
  instructions?: number;
  workerId?: string;
  pollMs?: number;
}

/** The fleet's database: only Postgres is shared by several processes. */
export function fleetDatabase(value: string | undefined, command: string): string {
  const spec = parseCheckpointSpec(value, "");
  if (spec.kind !== "postgres")
    throw new UsageError(`${command} needs --checkpoint postgres://… (the database the driver and workers share)`);
  registerSecret(urlPassword(spec.url));
  return spec.url;
}

/** `codeclm worker`: run instructions from the fleet's queue until SIGINT/SIGTERM. */
async function runWorker(flags: WorkerFlags): Promise<void> {
  const url = fleetDatabase(flags.checkpoint, "codeclm worker");
  const workerId = flags.workerId ?? `${hostname()}-${process.pid}`;
  // Loaded here: the other commands never pay for DBOS's start-up.
  const { FleetWorker } = await import("../runner/fleet/worker.js");
  const worker = await FleetWorker.start({
    url,
    workerId,
    concurrency: flags.concurrency,
    instructions: flags.instructions,
    pollMs: flags.pollMs,
    onWaiting: () => process.stderr.write(`codeclm worker ${workerId}: waiting for a driver to set up the database\n`),
  });
  process.stderr.write(
    `codeclm worker ${workerId}: up to ${flags.concurrency} model calls and ${worker.instructions} instructions at a time from ${describeCheckpoint({ kind: "postgres", url })}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write(`codeclm worker ${workerId}: stopping (its unfinished instructions resume when it restarts)\n`);
  await worker.stop();
}

export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description(
      "Run instructions' filtering for `generate --engine dbos` drivers sharing a Postgres database (DBOS Transact)",
    )
    .option("--checkpoint <url>", "the Postgres database the driver uses (postgres://…)")
    .option("--concurrency <n>", "model calls this worker has in flight at once", integer(1), 8)
    .option(
      "--instructions <n>",
      "instructions this worker holds at once (default 4 × --concurrency: their calls interleave, so a wave's last instructions do not run alone)",
      integer(1),
    )
    .option(
      "--worker-id <id>",
      "a stable id: restarted under the same id, the worker resumes its unfinished instructions (default HOST-PID)",
    )
    .option("--poll-ms <ms>", "how often the queue is polled", integer(5))
    .action(async (flags: WorkerFlags) => runWorker(flags));
}

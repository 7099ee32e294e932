/**
 * `generate --engine dbos`: the driver of a fleet. The graph runs in this process; each instruction's
 * filtering goes to the workers (`codeclm worker`) through DBOS's queue in the checkpoint database.
 */
import type { CheckpointSpec } from "../runner/checkpoint-spec.js";
import type { FleetDriver } from "../runner/fleet/driver.js";
import { UsageError } from "./errors.js";

export const ENGINES = ["local", "dbos"] as const;
export type Engine = (typeof ENGINES)[number];

/** The fleet's driver for `--engine dbos` (undefined for the default, local engine). */
export async function openEngine(
  engine: string | undefined,
  checkpoint: CheckpointSpec,
): Promise<FleetDriver | undefined> {
  if (engine === undefined || engine === "local") return undefined;
  if (checkpoint.kind !== "postgres")
    throw new UsageError("--engine dbos needs --checkpoint postgres://… (the database the workers share)");
  // Loaded here: a local run never pays for DBOS's start-up.
  const { FleetDriver } = await import("../runner/fleet/driver.js");
  return FleetDriver.open(checkpoint.url, { onWarning: (message) => process.stderr.write(`codeclm: ${message}\n`) });
}

/** What runToFiles takes from the fleet's driver: the per-instruction executor, the shared budget, the progress notice. */
export function fleetRunOptions(fleet: FleetDriver | undefined) {
  if (!fleet) return {};
  return { sharedBudget: fleet.budgetFor, fleetNotice: fleet.notice };
}

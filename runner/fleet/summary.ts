import { readFile, rename, writeFile } from "node:fs/promises";

export interface FleetSummary {
  engine: "dbos";
  /** Instructions each worker decided, and the filtering calls it made for them. */
  byWorker: Record<string, { instructions: number; calls: number }>;
}

/** Add the fleet's part to a run's summary file (written whole beside it, then renamed over it). */
export async function addFleetSummary(path: string, fleet: FleetSummary): Promise<void> {
  let summary: Record<string, unknown>;
  try {
    summary = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch {
    return; // no summary was written (the run failed before it): nothing to add to
  }
  const partial = `${path}.fleet-tmp`;
  await writeFile(partial, `${JSON.stringify({ ...summary, fleet }, null, 2)}\n`);
  await rename(partial, path);
}

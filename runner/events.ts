import type { DroppedRecord, KeptPair } from "../lib/records.js";
import type { RunSummary } from "../lib/summary.js";
import type { StopInfo } from "../models/control.js";
import type { ProgressSnapshot } from "./progress.js";

/** What a run reports as it goes: the CLI renders these, an agent tool may ignore them. */
export type RunEvent =
  | {
      type: "start";
      runId: string;
      resumed: boolean;
      size: number;
      checkpoint: string;
      recovered: { kept: number; dropped: number };
    }
  | { type: "node"; node: string }
  | { type: "kept"; pairs: KeptPair[]; total: number }
  | { type: "dropped"; records: DroppedRecord[]; total: number }
  | { type: "progress"; progress: ProgressSnapshot }
  | { type: "stopping"; stop: StopInfo; inFlight: number }
  /** Something the user must know while the run goes on (e.g. mix-and-match was switched off). */
  | { type: "warning"; message: string }
  | { type: "summary"; summary: RunSummary; resume?: string };

export type EmitEvent = (event: RunEvent) => void;

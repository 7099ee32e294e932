/**
 * A run's plan: the caller's options resolved once (settings with their defaults, checked against the
 * input; where checkpoints go; the input's fingerprint), before anything is locked, written or spent.
 * The pieces of the runner read this, never the raw options.
 */
import { resolve } from "node:path";
import { type CodecConfig, type CodecConfigInput, SettingsError, inputProblems, resolveConfig } from "../lib/config.js";
import type { Metadata, Seed } from "../lib/records.js";
import type { SeedSelection } from "../lib/seed-sample.js";
import type { CheckpointSpec } from "./durable.js";
import type { OutputPaths } from "./output.js";
import { runFingerprint } from "./run-state.js";

/** Seeds (with `seedSelection` when the caller merged and sampled them already) or user-written metadata. */
export type RunInput = { seeds: Seed[]; seedSelection?: SeedSelection } | { metadata: Metadata[] };

export interface RunPlan {
  config: CodecConfig;
  input: RunInput;
  paths: OutputPaths;
  checkpoint: CheckpointSpec;
  /** Digest of the input and of the settings that shape the data: a resume must match it. */
  fingerprint: string;
  /** Continue the run these outputs belong to (true), or the run with this id; false: a fresh run. */
  resume: boolean | string;
  /** Id of a fresh run (default: a new UUID). */
  runId?: string;
}

export interface PlanRequest {
  input: RunInput;
  config: CodecConfigInput;
  paths: OutputPaths;
  checkpoint?: CheckpointSpec;
  resume?: boolean | string;
  runId?: string;
}

/** Resolve and check a run's settings; impossible ones are refused here (`SettingsError`), before any file is touched. */
export function planRun(request: PlanRequest): RunPlan {
  const config = resolveConfig(request.config);
  const impossible = inputProblems(
    config,
    "seeds" in request.input ? { seeds: request.input.seeds.length } : { metadata: request.input.metadata.length },
  );
  if (impossible.length > 0) throw new SettingsError(`Invalid codeclm configuration: ${impossible.join("; ")}`);
  if ((config.reviewPool || config.reviewInstructions > 0) && request.checkpoint?.kind === "none")
    throw new SettingsError(
      `${config.reviewPool ? "reviewPool" : "reviewInstructions"} stops the run for a review and continues it on resume, which needs checkpoints: drop --checkpoint none`,
    );
  return {
    config,
    input: request.input,
    paths: request.paths,
    checkpoint: request.checkpoint ?? { kind: "sqlite", path: request.paths.checkpoint },
    fingerprint: runFingerprint(config, request.input),
    resume: request.resume ?? false,
    ...(request.runId !== undefined ? { runId: request.runId } : {}),
  };
}

/** Every file the run writes, for creating their folders (`--out new/dir/data.jsonl` is fine). */
export function plannedFiles(plan: RunPlan): string[] {
  const { paths, checkpoint } = plan;
  return [
    paths.lock,
    paths.kept,
    paths.dropped,
    paths.summary,
    paths.state,
    ...(checkpoint.kind === "sqlite" ? [checkpoint.path] : []),
  ];
}

/** Checkpoints go to the default SQLite file beside the output, which is removed once it holds no run. */
export function usesDefaultCheckpointFile(plan: RunPlan): boolean {
  return plan.checkpoint.kind === "sqlite" && resolve(plan.checkpoint.path) === resolve(plan.paths.checkpoint);
}

// Only the error classes' own modules: reporting an error loads no provider, checkpointer or LangGraph.
import { CheckpointStoreError, RunSetupError } from "../runner/errors.js";
import { InputError } from "../io/input-error.js";
import { OutputLockedError } from "../runner/lock.js";
import { SettingsError } from "../lib/config.js";
import { errorMessage } from "../lib/redact.js";
import { ModelConfigError } from "../models/errors.js";
import { LocalModelError } from "../models/local/errors.js";
import { HeapGrowthError } from "./heap.js";

/** A mistake in how the command was called: printed as is, exit 2. */
export class UsageError extends Error {}

/** Exit codes: 2 for bad input, usage or a run that cannot start or resume (nothing was spent), 1 for a failure during the run. */
export function reportError(error: unknown): number {
  const setup = error instanceof LocalModelError && ["not-found", "invalid-gguf", "offline"].includes(error.code);
  if (
    error instanceof InputError ||
    error instanceof UsageError ||
    error instanceof SettingsError ||
    error instanceof ModelConfigError ||
    error instanceof RunSetupError ||
    error instanceof CheckpointStoreError ||
    error instanceof OutputLockedError ||
    error instanceof HeapGrowthError ||
    setup
  ) {
    process.stderr.write(`codeclm: ${errorMessage(error)}\n`);
    return 2;
  }
  process.stderr.write(`codeclm: run failed: ${errorMessage(error)}\n`);
  if (process.env.CODECLM_DEBUG && error instanceof Error && error.stack)
    process.stderr.write(`${errorMessage(error.stack)}\n`);
  return 1;
}

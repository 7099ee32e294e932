/** The runner's setup errors, in a module of their own: the CLI tells them apart without loading LangGraph. */

/** A run that cannot start or resume as asked (nothing to resume, different settings): nothing was spent. */
export class RunSetupError extends Error {}

/** The checkpoint store cannot be opened or used. */
export class CheckpointStoreError extends Error {}

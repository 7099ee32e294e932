/** codeclm as a library: the graph, its builder, its configuration, and the records it produces. */
export { createCodecGraph, RECURSION_LIMIT, type CodecGraphOptions } from "./graphs/codeclm.js";
export { graph } from "./graphs/studio.js";
export { buildCodecState, type InstructionTask, type InstructionOutcome } from "./graphs/state.js";
export {
  CodecConfigSchema,
  resolveConfig,
  type CodecConfig,
  type CodecConfigInput,
  type RoleSettings,
} from "./lib/config.js";
export {
  KeptPairSchema,
  DroppedRecordSchema,
  MetadataSchema,
  SeedSchema,
  type KeptPair,
  type DroppedRecord,
  type Metadata,
  type Seed,
  type Lineage,
  type IterationRecord,
} from "./lib/records.js";
export type { RunSummary, SpendSummary, TransportSummary } from "./lib/summary.js";
export { ModelFactory, ModelConfigError } from "./models/factory.js";
export { parseModelSpec } from "./models/spec.js";
export { readSeeds } from "./io/seeds.js";
export { readMetadata } from "./io/metadata.js";
export { InputError } from "./io/input-error.js";
export { runToFiles, RunSetupError, type RunOptions, type RunEvent, type ProgressSnapshot } from "./io/run.js";
export { outputPathsFor, type OutputPaths } from "./io/output.js";
export { parseCheckpointSpec, type CheckpointSpec } from "./io/durable.js";
export { readRunState, type RunState, type RunStatus } from "./io/run-state.js";
export { RunControl, RunStoppedError, type StopInfo } from "./models/control.js";
export { ModelCallError, ModelAccessError } from "./models/call.js";
export { estimateRun, type Estimate } from "./lib/estimate.js";
export { DEFAULT_PRICES, PRICES_AS_OF, priceFor, type ModelPrice } from "./lib/prices.js";
export { DEFAULT_PROMPTS } from "./prompts/index.js";

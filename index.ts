/** codeclm as a library: the graph, its builder, its configuration, and the records it produces. */
export { createCodecGraph, RECURSION_LIMIT, type CodecGraphOptions } from "./graphs/codeclm.js";
export { graph } from "./graphs/studio.js";
export { buildCodecState, codecStateSchema, type StateShape } from "./nodes/state.js";
export { RUN_KEY, newRun, type CodecRun, type GraphDeps } from "./nodes/runtime.js";
export type { InstructionTask, InstructionOutcome } from "./lib/tasks.js";
export {
  CodecConfigSchema,
  resolveConfig,
  SettingsError,
  inputProblems,
  settingsProblems,
  unknownSettings,
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
export type { PoolMakeup } from "./lib/pool.js";
export { ModelFactory, ModelConfigError } from "./models/factory.js";
export { parseModelSpec } from "./models/spec.js";
export { readSeeds, readSeedSample, streamSeeds } from "./io/seeds.js";
export { BENCHMARKS, resolveBenchmark, testSetWarning, type BenchmarkName } from "./io/benchmarks.js";
export { selectSeeds, type SeedSelection } from "./lib/seed-sample.js";
export { readMetadata } from "./io/metadata.js";
export { InputError } from "./io/input-error.js";
export { runToFiles, RunSetupError, type RunOptions, type RunEvent, type ProgressSnapshot } from "./runner/run.js";
export { outputPathsFor, type OutputPaths } from "./runner/output.js";
export { parseCheckpointSpec, type CheckpointSpec } from "./runner/durable.js";
export { readRunState, type RunState, type RunStatus } from "./runner/run-state.js";
export { RunControl, RunStoppedError, type StopInfo } from "./models/control.js";
export { ModelCallError, ModelAccessError } from "./models/call.js";
export { estimateRun, type Estimate } from "./lib/estimate.js";
export { DEFAULT_PRICES, PRICES_AS_OF, priceFor, type ModelPrice } from "./lib/prices.js";
export { DEFAULT_PROMPTS } from "./prompts/index.js";
export { ABLATIONS, TABLE3, type Ablation } from "./lib/ablation.js";
export { combineOrders, crr, parseJudgement, tallyOutcomes, type EvalTotals, type Outcome } from "./lib/crr.js";
export { EvalConfigSchema, resolveEvalConfig, type EvalConfig, type EvalConfigInput } from "./eval/config.js";
export { evaluate, totalsOf, type EvaluateOptions, type EvalResult, type ProvidedAnswers } from "./eval/run.js";
export { evalPathsFor, runEvalToFiles, type EvalPaths } from "./eval/output.js";
export { EvalItemSchema, type EvalItem, type EvalSummary } from "./eval/records.js";
export { readAnswers } from "./eval/answers.js";
export { runAblation, type AblateOptions, type AblationResult } from "./eval/ablate.js";
export { buildReportHtml, loadReport, reportPathFor, writeReport, type ReportOptions } from "./report/index.js";
export { createCodecTool, CODEC_TOOL_NAME, type CodecToolOptions, type CodecToolArtifact } from "./agent/tool.js";
export { EXPORT_FORMATS, toTrainingRecord, type ExportFormat, type TrainingRecord } from "./io/formats.js";

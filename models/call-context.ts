/** What a model call is given (the run's services, the node's context, the request) and how it fails. */
import type { SharedBudget } from "./shared-budget.js";
import type { SharedLimits } from "./shared-limits.js";
import type { BaseMessageLike } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { z } from "zod";
import type { BatchCounts, CallRecord } from "../lib/accounts.js";
import type { CodecConfig } from "../lib/config.js";
import type { Transport } from "../lib/prices.js";
import type { ModelRole, PipelineStep } from "../lib/records.js";
import type { UsageMeter } from "../lib/usage.js";
import type { RunControl } from "./control.js";
import type { ModelFactory } from "./factory.js";
import type { CallJournal, StoredAnswer } from "./journal.js";
import type { SpendLedger } from "./ledger.js";
import type { CallScheduler } from "./scheduler.js";

/** The run-wide machinery every call goes through: admission, spending, stopping, and the journal. */
export interface CallServices {
  scheduler: CallScheduler;
  ledger: SpendLedger;
  control: RunControl;
  /** Present when the run is durable: finished calls are recorded and replayed on resume. */
  journal?: CallJournal;
  /** Jitter source (tests pass a seeded one). */
  random?: () => number;
  /** Present with `batch` on: sends the calls that can wait as lines of a provider's batch (models/batch/). */
  batch?: BatchSender;
  /** A budget shared with other processes (a fleet: models/shared-budget.ts), checked after the ledger. */
  sharedBudget?: SharedBudget;
  /** Per-endpoint caps shared with other processes (a fleet: models/shared-limits.ts), taken after the scheduler's slot. */
  sharedLimits?: SharedLimits;
}

/** One call the batch transport may take: its request, its journal key, how to send it and how to meter its answer. */
export interface BatchableCall {
  request: CallRequest;
  /** The call's key in the journal ("" without a journal): the batch line's custom_id. */
  key: string;
  send(signal: AbortSignal): Promise<{ answer: StoredAnswer; usage: { inputTokens: number; outputTokens: number } }>;
  /** Settle an answered call (budget through `settle`, journal, the node's accounts), at its transport's price. */
  meter(
    settle: (record: CallRecord) => void,
    sent: { answer: StoredAnswer; usage: { inputTokens: number; outputTokens: number } },
    latencyMs: number,
    transport: Transport,
  ): Promise<StoredAnswer>;
}

export interface BatchSender {
  /** The call answered as a line of a batch; undefined: send it as a single request (not batchable, or its line failed). */
  answer(ctx: CallContext, call: BatchableCall): Promise<StoredAnswer | undefined>;
  counts(): BatchCounts;
}

/** Everything a node needs to call a model: built once per run, handed to each node. */
export interface CallContext {
  factory: ModelFactory;
  services: CallServices;
  config: CodecConfig;
  /** The node's own call accounts (its `usage` update); the run's are the ledger's. */
  meter: UsageMeter;
  /** The node's LangGraph config: carries callbacks (LangSmith tracing) and the task's abort signal. */
  runnable?: RunnableConfig;
  /** Ids that identify this call in traces and in the journal (metadata id, instruction id, iteration). */
  trace?: Record<string, string | number>;
}

export interface CallRequest {
  role: ModelRole;
  step: PipelineStep;
  messages: BaseMessageLike[];
  temperature: number;
}

export interface StructuredRequest<T> extends CallRequest {
  schema: z.ZodType<T>;
  schemaName: string;
  /** Checks the schema cannot express (ranges, counts); returns what is wrong, or undefined. */
  check?: (value: T) => string | undefined;
}

/** A model call that failed for good: recorded as a failure of its step, never as an empty result. */
export class ModelCallError extends Error {
  constructor(
    readonly step: PipelineStep,
    readonly role: ModelRole,
    readonly attempts: number,
    detail: string,
  ) {
    super(`${step} (${role} model) failed after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${detail}`);
    this.name = "ModelCallError";
  }
}

/** The endpoint refuses the run itself (bad key, no access, unknown model): no call can succeed, so the run fails. */
export class ModelAccessError extends Error {
  constructor(role: ModelRole, model: string, status: number, detail: string) {
    super(`the ${role} model ${model} refused the call (HTTP ${status}): ${detail}`);
    this.name = "ModelAccessError";
  }
}

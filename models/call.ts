import { createHash } from "node:crypto";
import { type BaseMessage, type BaseMessageLike, isBaseMessage } from "@langchain/core/messages";
import { OutputParserException } from "@langchain/core/output_parsers";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { z } from "zod";
import type { CodecConfig } from "../lib/config.js";
import { DEFAULT_BACKOFF, type Fault, classifyFault, retryDelayMs } from "../lib/faults.js";
import { parseJsonLoose } from "../lib/json.js";
import type { ModelRole, PipelineStep } from "../lib/records.js";
import { errorMessage } from "../lib/redact.js";
import type { UsageMeter } from "../lib/usage.js";
import { type RunControl, RunStoppedError } from "./control.js";
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
}

/** Everything a node needs to call a model: built once per run, handed to each node. */
export interface CallContext {
  factory: ModelFactory;
  services: CallServices;
  config: CodecConfig;
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

export function messageText(message: BaseMessage): string {
  const { content } = message;
  if (typeof content === "string") return content;
  return content
    .map((part) => (typeof part === "string" ? part : part.type === "text" && "text" in part ? String(part.text) : ""))
    .join("");
}

function invokeOptions(ctx: CallContext, request: CallRequest, signal: AbortSignal): RunnableConfig {
  return {
    callbacks: ctx.runnable?.callbacks,
    // Not the graph task's signal: a call in flight when the run stops is let finish and recorded.
    signal,
    runName: request.step,
    tags: [`role:${request.role}`, `model:${ctx.factory.describe(request.role)}`, `step:${request.step}`],
    metadata: { step: request.step, role: request.role, model: ctx.factory.describe(request.role), ...ctx.trace },
  };
}

interface Usage {
  inputTokens: number;
  outputTokens: number;
}

function usageOf(message: BaseMessage | undefined): Usage {
  const usage = (message as { usage_metadata?: { input_tokens?: number; output_tokens?: number } } | undefined)
    ?.usage_metadata;
  return { inputTokens: usage?.input_tokens ?? 0, outputTokens: usage?.output_tokens ?? 0 };
}

/** A reply that arrived but cannot be read (broken JSON): the call was answered, its output is malformed. */
function isOutputProblem(error: unknown): boolean {
  if (error instanceof OutputParserException || error instanceof SyntaxError) return true;
  // The OpenAI SDK validates json_schema replies with the zod schema itself: a reply that does not fit is
  // malformed output (retried as such), not a fatal fault of the call.
  if (error instanceof Error && /^\$?ZodError$/.test(error.name)) return true;
  if (!(error instanceof Error) || (error as { status?: unknown }).status !== undefined) return false;
  return /malformed|parse|json/i.test(error.message) && classifyFault(error).kind === "fatal";
}

function promptChars(messages: readonly BaseMessageLike[]): number {
  let chars = 0;
  for (const message of messages) {
    if (typeof message === "string") chars += message.length;
    else if (Array.isArray(message)) chars += String(message[1] ?? "").length;
    else chars += JSON.stringify(message).length;
  }
  return chars;
}

/** What identifies one call across a crash: the run's settings for it, its place in the graph, its prompt, its attempt. */
function callKey(ctx: CallContext, request: CallRequest, attempt: number, schemaName = ""): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        ctx.factory.describe(request.role),
        request.role,
        request.step,
        request.temperature,
        ctx.config.maxTokens,
        schemaName,
        attempt,
        ctx.trace ?? {},
        request.messages,
      ]),
    )
    .digest("base64url");
}

function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case "rate-limit":
      return "rate limited (429)";
    case "server":
      return `server error (${fault.status ?? "5xx"})`;
    case "timeout":
      return "timed out";
    case "connection":
      return "connection failed";
    default:
      return fault.status ? `HTTP ${fault.status}` : "error";
  }
}

function sleep(ms: number, signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    }
    for (const signal of signals) {
      if (signal.aborted) return done();
      signal.addEventListener("abort", done, { once: true });
    }
  });
}

type Sent = { answer: StoredAnswer; usage: Usage };

/**
 * The signal of one request: aborted by the run (a second Ctrl-C) or by the call's timeout. Not
 * `AbortSignal.any`: on Node 20 every signal derived that way from the run's long-lived signal stays
 * reachable from it, so memory would grow with every call.
 */
function callSignal(run: AbortSignal, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const onRunAbort = () => controller.abort(run.reason);
  run.addEventListener("abort", onRunAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`the call timed out after ${timeoutMs / 1000} s`));
  }, timeoutMs);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      run.removeEventListener("abort", onRunAbort);
    },
  };
}

/**
 * One answered model call: replayed from the journal when a previous run of this thread finished it;
 * otherwise admitted by the budget and the scheduler, sent with a timeout, and retried after transport
 * failures (429, 5xx, timeouts, dropped connections) with exponential backoff and jitter, honouring
 * Retry-After. Rate limits, and failures while the endpoint's circuit breaker is open, do not use up the
 * call's retries: an endpoint that stays down or keeps rate-limiting stops the run instead. `validate` says what is wrong with an answer;
 * malformed answers are returned (and paid for), retrying them is the caller's business.
 */
async function answeredCall(
  ctx: CallContext,
  request: CallRequest,
  attempt: number,
  schemaName: string,
  send: (signal: AbortSignal) => Promise<Sent>,
  validate: (answer: StoredAnswer) => string | undefined,
): Promise<StoredAnswer> {
  const { services, meter } = ctx;
  const { journal, ledger, scheduler, control } = services;
  const model = ctx.factory.describe(request.role);
  const key = journal ? callKey(ctx, request, attempt, schemaName) : "";
  const replayed = journal ? await journal.find(key) : undefined;
  if (replayed) {
    ledger.replayed++;
    meter.record(request.role, request.step, {
      calls: 1,
      failedCalls: replayed.answer.problem !== undefined ? 1 : 0,
      inputTokens: replayed.inputTokens,
      outputTokens: replayed.outputTokens,
    });
    return replayed.answer;
  }
  const endpoint = ctx.factory.endpoint(request.role);
  const chars = promptChars(request.messages);
  const taskSignal = ctx.runnable?.signal;
  const random = services.random ?? Math.random;
  let failures = 0;
  let retry = 0;
  let rateLimitedSince: number | undefined;
  for (;;) {
    if (taskSignal?.aborted) throw taskSignal.reason ?? new Error("aborted");
    control.throwIfStopped();
    const slot = await scheduler.acquire(endpoint, taskSignal);
    // The budget is checked once the call can start, so calls waiting for a slot reserve nothing.
    const reserved = ledger.reserve(model, chars, ctx.config.maxTokens);
    if ("stop" in reserved) {
      scheduler.release(slot, { kind: "cancel" });
      // Calls in flight reserve their most (a full --max-output-tokens answer) and mostly spend far less:
      // wait for one to end and try again, so the run stops near its budget, not a concurrency's worth before.
      if (ledger.callsInFlight > 0) {
        await ledger.whenReleased();
        continue;
      }
      control.stop({ kind: "budget", message: reserved.stop.message });
      control.throwIfStopped();
    }
    const { reservation } = reserved as Exclude<typeof reserved, { stop: unknown }>;
    const call = callSignal(control.requestSignal, ctx.config.timeoutSeconds * 1000);
    const started = performance.now();
    let sent: Sent;
    try {
      sent = await send(call.signal);
    } catch (error) {
      call.dispose();
      ledger.release(reservation);
      if (control.requestSignal.aborted) {
        scheduler.release(slot, { kind: "cancel" });
        throw control.requestSignal.reason ?? new RunStoppedError({ kind: "interrupt", message: "interrupted" });
      }
      const fault: Fault = call.timedOut() ? { kind: "timeout" } : classifyFault(error);
      scheduler.release(slot, { kind: "fault", fault });
      ledger.recordFault(fault.kind);
      journal?.fault({ role: request.role, step: request.step, model, kind: fault.kind, ...(fault.status ? { status: fault.status } : {}) });
      const detail = `${describeFault(fault)}: ${errorMessage(error)}`;
      if (fault.kind === "fatal") {
        if (fault.status === 401 || fault.status === 403 || fault.status === 404) {
          throw new ModelAccessError(request.role, model, fault.status, errorMessage(error));
        }
        ledger.givenUp++;
        meter.record(request.role, request.step, { failedCalls: 1 });
        throw new ModelCallError(request.step, request.role, failures + 1, detail);
      }
      retry++;
      if (fault.kind === "rate-limit") {
        // A 429 says "slow down", not "this request is wrong": it does not use up the call's retries.
        // Rate limited without a break for the give-up time, the run stops (resumably).
        rateLimitedSince ??= Date.now();
        if (Date.now() - rateLimitedSince >= ctx.config.giveUpAfterSeconds * 1000) {
          control.stop({
            kind: "endpoint-down",
            message: `${model} kept answering 429 (rate limit) to one call for ${Math.round((Date.now() - rateLimitedSince) / 1000)} s`,
          });
          control.throwIfStopped();
        }
      } else {
        rateLimitedSince = undefined;
        if (slot.healthy) failures++;
      }
      if (failures > ctx.config.retries) {
        ledger.givenUp++;
        meter.record(request.role, request.step, { failedCalls: 1 });
        throw new ModelCallError(request.step, request.role, failures, detail);
      }
      await sleep(retryDelayMs(Math.min(retry, 8), fault, DEFAULT_BACKOFF, random), [control.graphSignal, ...(taskSignal ? [taskSignal] : [])]);
      continue;
    } finally {
      call.dispose();
    }
    const latencyMs = performance.now() - started;
    scheduler.release(slot, { kind: "answer", latencyMs, step: request.step });
    const problem = sent.answer.problem ?? validate(sent.answer);
    const answer = problem === undefined ? sent.answer : { ...sent.answer, problem };
    const { inputTokens, outputTokens } = sent.usage;
    const costUsd = ledger.settle(reservation, inputTokens, outputTokens, problem !== undefined);
    // Stored before the answer is used: after a crash, only calls in flight are paid again.
    await journal?.answer({ key, role: request.role, step: request.step, model, answer, inputTokens, outputTokens, costUsd, latencyMs });
    meter.record(request.role, request.step, { calls: 1, failedCalls: problem !== undefined ? 1 : 0, inputTokens, outputTokens });
    return answer;
  }
}

/** Free text from a role; an empty answer counts as malformed and is retried. */
export async function callText(ctx: CallContext, request: CallRequest): Promise<string> {
  const model = ctx.factory.get(request.role, { temperature: request.temperature, maxTokens: ctx.config.maxTokens });
  const attempts = ctx.config.structuredRetries + 1;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await answeredCall(
      ctx,
      request,
      attempt,
      "",
      async (signal) => {
        const reply = await model.invoke(request.messages, invokeOptions(ctx, request, signal));
        return { answer: { text: messageText(reply).trim() }, usage: usageOf(reply) };
      },
      (answer) => (answer.text ? undefined : "the model returned an empty answer"),
    );
    if (answer.problem === undefined && answer.text) return answer.text;
    lastProblem = answer.problem ?? "the model returned an empty answer";
  }
  throw new ModelCallError(request.step, request.role, attempts, lastProblem);
}

/** The value a structured call produced: the client's parse when it managed one, else the raw reply's JSON. */
function extractStructured(result: { raw?: BaseMessage; parsed?: unknown }): unknown {
  if (result.parsed !== null && result.parsed !== undefined) return result.parsed;
  const raw = result.raw as (BaseMessage & { tool_calls?: Array<{ args: unknown }> }) | undefined;
  if (!raw) throw new Error("no reply");
  const toolCall = raw.tool_calls?.[0];
  if (toolCall) return toolCall.args;
  return parseJsonLoose(messageText(raw));
}

function schemaProblem<T>(request: StructuredRequest<T>, value: unknown): string | undefined {
  const parsed = request.schema.safeParse(value);
  if (!parsed.success) {
    return `malformed output: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "value"}: ${issue.message}`).join("; ")}`;
  }
  const problem = request.check?.(parsed.data);
  return problem ? `malformed output: ${problem}` : undefined;
}

/** Structured output validated by zod plus `check`; malformed output is retried, then a ModelCallError. */
export async function callStructured<T>(ctx: CallContext, request: StructuredRequest<T>): Promise<T> {
  const settings = { temperature: request.temperature, maxTokens: ctx.config.maxTokens };
  const structured = ctx.factory.structured(request.role, settings, request.schema, request.schemaName);
  const attempts = ctx.config.structuredRetries + 1;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await answeredCall(
      ctx,
      request,
      attempt,
      request.schemaName,
      async (signal) => {
        let result: { raw?: BaseMessage; parsed?: unknown };
        try {
          const output = (await structured.invoke(request.messages, invokeOptions(ctx, request, signal))) as unknown;
          // The factory's request part returns the message itself; a whole structured runnable, { raw, parsed }.
          result = isBaseMessage(output) ? { raw: output } : (output as typeof result);
        } catch (error) {
          if (isOutputProblem(error)) return { answer: { problem: `malformed output: ${errorMessage(error)}` }, usage: { inputTokens: 0, outputTokens: 0 } };
          throw error;
        }
        const usage = usageOf(result.raw);
        try {
          return { answer: { value: extractStructured(result) }, usage };
        } catch (error) {
          return { answer: { problem: `malformed output: ${errorMessage(error)}` }, usage };
        }
      },
      (answer) => schemaProblem(request, answer.value),
    );
    if (answer.problem === undefined) {
      const parsed = request.schema.safeParse(answer.value);
      if (parsed.success) return parsed.data;
    }
    lastProblem = answer.problem ?? "malformed output";
  }
  throw new ModelCallError(request.step, request.role, attempts, lastProblem);
}

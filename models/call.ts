import type { BaseMessage, BaseMessageLike } from "@langchain/core/messages";
import { OutputParserException } from "@langchain/core/output_parsers";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { z } from "zod";
import type { CodecConfig } from "../lib/config.js";
import { parseJsonLoose } from "../lib/json.js";
import type { ModelRole, PipelineStep } from "../lib/records.js";
import { errorMessage } from "../lib/redact.js";
import type { UsageMeter } from "../lib/usage.js";
import type { ModelFactory } from "./factory.js";
import type { Limiter } from "./limiter.js";

/** Everything a node needs to call a model: built once per run, handed to each node. */
export interface CallContext {
  factory: ModelFactory;
  limiter: Limiter;
  config: CodecConfig;
  meter: UsageMeter;
  /** The node's LangGraph config: carries callbacks (LangSmith tracing) and the abort signal. */
  runnable?: RunnableConfig;
  /** Ids that identify this call in traces (metadata id, instruction id, iteration). */
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

export function messageText(message: BaseMessage): string {
  const { content } = message;
  if (typeof content === "string") return content;
  return content
    .map((part) => (typeof part === "string" ? part : part.type === "text" && "text" in part ? String(part.text) : ""))
    .join("");
}

function invokeOptions(ctx: CallContext, request: CallRequest): RunnableConfig {
  return {
    callbacks: ctx.runnable?.callbacks,
    signal: ctx.runnable?.signal,
    runName: request.step,
    tags: [`role:${request.role}`, `model:${ctx.factory.describe(request.role)}`, `step:${request.step}`],
    metadata: { step: request.step, role: request.role, model: ctx.factory.describe(request.role), ...ctx.trace },
  };
}

function usageOf(message: BaseMessage | undefined): { inputTokens: number; outputTokens: number } {
  const usage = (message as { usage_metadata?: { input_tokens?: number; output_tokens?: number } } | undefined)
    ?.usage_metadata;
  return { inputTokens: usage?.input_tokens ?? 0, outputTokens: usage?.output_tokens ?? 0 };
}

function isAbort(error: unknown, ctx: CallContext): boolean {
  return ctx.runnable?.signal?.aborted === true || (error instanceof Error && error.name === "AbortError");
}

/** Output problems (as opposed to transport ones, which the client already retried) deserve another try. */
function isOutputProblem(error: unknown): boolean {
  if (error instanceof OutputParserException || error instanceof SyntaxError) return true;
  return error instanceof Error && /malformed|failed to parse|unexpected token|unexpected end of json|not valid json/i.test(error.message);
}

/** Free text from a role; an empty answer counts as malformed and is retried. */
export async function callText(ctx: CallContext, request: CallRequest): Promise<string> {
  const model = ctx.factory.get(request.role, { temperature: request.temperature, maxTokens: ctx.config.maxTokens });
  const attempts = ctx.config.structuredRetries + 1;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let reply: BaseMessage;
    try {
      reply = await ctx.limiter.run(() => model.invoke(request.messages, invokeOptions(ctx, request)));
    } catch (error) {
      if (isAbort(error, ctx)) throw error;
      ctx.meter.record(request.role, request.step, { calls: 1, failedCalls: 1 });
      throw new ModelCallError(request.step, request.role, attempt, errorMessage(error));
    }
    const text = messageText(reply).trim();
    ctx.meter.record(request.role, request.step, { calls: 1, failedCalls: text ? 0 : 1, ...usageOf(reply) });
    if (text) return text;
    lastProblem = "the model returned an empty answer";
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

/** Structured output validated by zod plus `check`; malformed output is retried, then a ModelCallError. */
export async function callStructured<T>(ctx: CallContext, request: StructuredRequest<T>): Promise<T> {
  const model = ctx.factory.get(request.role, { temperature: request.temperature, maxTokens: ctx.config.maxTokens });
  const method = ctx.factory.structuredMethod(request.role);
  const structured = model.withStructuredOutput(request.schema as z.ZodType<Record<string, unknown>>, {
    name: request.schemaName,
    includeRaw: true,
    ...(method ? { method } : {}),
  });
  const attempts = ctx.config.structuredRetries + 1;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let result: { raw?: BaseMessage; parsed?: unknown };
    try {
      result = await ctx.limiter.run(() => structured.invoke(request.messages, invokeOptions(ctx, request)));
    } catch (error) {
      if (isAbort(error, ctx)) throw error;
      ctx.meter.record(request.role, request.step, { calls: 1, failedCalls: 1 });
      lastProblem = errorMessage(error);
      if (isOutputProblem(error)) continue;
      throw new ModelCallError(request.step, request.role, attempt, lastProblem);
    }
    const usage = usageOf(result.raw);
    let problem: string | undefined;
    try {
      const parsed = request.schema.safeParse(extractStructured(result));
      if (parsed.success) {
        problem = request.check?.(parsed.data);
        if (!problem) {
          ctx.meter.record(request.role, request.step, { calls: 1, ...usage });
          return parsed.data;
        }
      } else {
        problem = parsed.error.issues.map((issue) => `${issue.path.join(".") || "value"}: ${issue.message}`).join("; ");
      }
    } catch (error) {
      problem = errorMessage(error);
    }
    ctx.meter.record(request.role, request.step, { calls: 1, failedCalls: 1, ...usage });
    lastProblem = `malformed output: ${problem}`;
  }
  throw new ModelCallError(request.step, request.role, attempts, lastProblem);
}

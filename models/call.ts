/**
 * The model calls nodes make: free text (`callText`) and structured output (`callStructured`). Each is
 * the structured-retry layer (a malformed or empty answer is asked again, then a ModelCallError) over
 * one answered call (models/call-path.ts: replay, transport retries, admission, metering, journal).
 */
import { type BaseMessage, isBaseMessage } from "@langchain/core/messages";
import { OutputParserException } from "@langchain/core/output_parsers";
import type { RunnableConfig } from "@langchain/core/runnables";
import { classifyFault } from "../lib/faults.js";
import { parseJsonLoose } from "../lib/json.js";
import { errorMessage } from "../lib/redact.js";
import { type CallContext, type CallRequest, ModelCallError, type StructuredRequest } from "./call-context.js";
import { type Sent, type Usage, answeredCall } from "./call-path.js";
import type { StoredAnswer } from "./journal.js";

export {
  type CallContext,
  type CallRequest,
  type CallServices,
  ModelAccessError,
  ModelCallError,
  type StructuredRequest,
} from "./call-context.js";

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

/**
 * The structured-retry layer: up to `structuredRetries + 1` answered calls, until `accept` reads a
 * result from one; then a ModelCallError with the last answer's problem.
 */
async function untilAccepted<T>(
  ctx: CallContext,
  request: CallRequest,
  schemaName: string,
  send: (signal: AbortSignal) => Promise<Sent>,
  validate: (answer: StoredAnswer) => string | undefined,
  accept: (answer: StoredAnswer) => { value: T } | { problem: string },
): Promise<T> {
  const attempts = ctx.config.structuredRetries + 1;
  let lastProblem = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const answer = await answeredCall(ctx, { request, attempt, schemaName, send, validate });
    const accepted = accept(answer);
    if ("value" in accepted) return accepted.value;
    lastProblem = accepted.problem;
  }
  throw new ModelCallError(request.step, request.role, attempts, lastProblem);
}

const EMPTY = "the model returned an empty answer";

/** Free text from a role; an empty answer counts as malformed and is retried. */
export async function callText(ctx: CallContext, request: CallRequest): Promise<string> {
  await ctx.factory.load([request.role]);
  const model = ctx.factory.get(request.role, { temperature: request.temperature, maxTokens: ctx.config.maxTokens });
  const send = async (signal: AbortSignal): Promise<Sent> => {
    const reply = await model.invoke(request.messages, invokeOptions(ctx, request, signal));
    return { answer: { text: messageText(reply).trim() }, usage: usageOf(reply) };
  };
  return untilAccepted<string>(
    ctx,
    request,
    "",
    send,
    (answer) => (answer.text ? undefined : EMPTY),
    (answer) =>
      answer.problem === undefined && answer.text ? { value: answer.text } : { problem: answer.problem ?? EMPTY },
  );
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

/** The answer's value read by the request's schema and `check`: its data, or what is wrong with it. */
function readStructured<T>(request: StructuredRequest<T>, value: unknown): { data: T } | { problem: string } {
  const parsed = request.schema.safeParse(value);
  if (!parsed.success) {
    return {
      problem: `malformed output: ${parsed.error.issues.map((issue) => `${issue.path.join(".") || "value"}: ${issue.message}`).join("; ")}`,
    };
  }
  const problem = request.check?.(parsed.data);
  return problem ? { problem: `malformed output: ${problem}` } : { data: parsed.data };
}

const malformed = (error: unknown) => `malformed output: ${errorMessage(error)}`;

/** Structured output validated by zod plus `check`; malformed output is retried, then a ModelCallError. */
export async function callStructured<T>(ctx: CallContext, request: StructuredRequest<T>): Promise<T> {
  const settings = { temperature: request.temperature, maxTokens: ctx.config.maxTokens };
  await ctx.factory.load([request.role]);
  const structured = ctx.factory.structured(request.role, settings, request.schema, request.schemaName);
  const send = async (signal: AbortSignal): Promise<Sent> => {
    let result: { raw?: BaseMessage; parsed?: unknown };
    try {
      const output = (await structured.invoke(request.messages, invokeOptions(ctx, request, signal))) as unknown;
      // The factory's request part returns the message itself; a whole structured runnable, { raw, parsed }.
      result = isBaseMessage(output) ? { raw: output } : (output as typeof result);
    } catch (error) {
      if (isOutputProblem(error))
        return { answer: { problem: malformed(error) }, usage: { inputTokens: 0, outputTokens: 0 } };
      throw error;
    }
    const usage = usageOf(result.raw);
    try {
      return { answer: { value: extractStructured(result) }, usage };
    } catch (error) {
      return { answer: { problem: malformed(error) }, usage };
    }
  };
  // The answer just validated is accepted without parsing it again (a replayed one is parsed here).
  let validated: { value: unknown; data: T } | undefined;
  const validate = (answer: StoredAnswer): string | undefined => {
    const read = readStructured(request, answer.value);
    if ("problem" in read) return read.problem;
    validated = { value: answer.value, data: read.data };
    return undefined;
  };
  const accept = (answer: StoredAnswer): { value: T } | { problem: string } => {
    if (answer.problem !== undefined) return { problem: answer.problem };
    if (validated && validated.value === answer.value) return { value: validated.data };
    const parsed = request.schema.safeParse(answer.value);
    return parsed.success ? { value: parsed.data } : { problem: "malformed output" };
  };
  return untilAccepted(ctx, request, request.schemaName, send, validate, accept);
}

/**
 * One answered model call, as layers (outermost first):
 *   replay     a call a previous session of the run finished is answered from the journal;
 *   transport  the request is retried after 429, 5xx, timeouts and dropped connections (backoff with
 *              jitter, Retry-After honoured); a rate limit, or a failure while the endpoint's circuit
 *              breaker is open, does not use up the call's retries: an endpoint that stays down or keeps
 *              rate-limiting stops the run instead;
 *   admission  each request holds a scheduler slot and a budget reservation (models/lease.ts);
 *   request    sent with its timeout;
 *   meter      the answer is settled in the budget, stored in the journal, and recorded in the node's accounts.
 * Malformed answers are returned (and paid for): retrying them is the structured layer's business (call.ts).
 */
import { createHash } from "node:crypto";
import type { CallRecord } from "../lib/accounts.js";
import { DEFAULT_BACKOFF, type Fault, classifyFault, retryDelayMs } from "../lib/faults.js";
import type { Transport } from "../lib/prices.js";
import { errorMessage } from "../lib/redact.js";
import { type CallContext, type CallRequest, ModelAccessError, ModelCallError } from "./call-context.js";
import { RunStoppedError } from "./control.js";
import type { StoredAnswer } from "./journal.js";
import { type CallLease, withLease } from "./lease.js";
import { onAbortOf } from "./scheduler.js";

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export type Sent = { answer: StoredAnswer; usage: Usage };

/** One attempt of the structured layer: what to send, and what is wrong with an answer. */
export interface CallAttempt {
  request: CallRequest;
  /** The structured layer's attempt number (part of the call's identity in the journal). */
  attempt: number;
  schemaName: string;
  send: (signal: AbortSignal) => Promise<Sent>;
  validate: (answer: StoredAnswer) => string | undefined;
}

interface TransportFailure {
  fault: Fault;
  error: unknown;
  /** The endpoint was healthy when the request started. */
  healthy: boolean;
}

type Attempted = { answer: StoredAnswer } | { failure: TransportFailure };

const modelOf = (ctx: CallContext, request: CallRequest) => ctx.factory.describe(request.role);

/** What identifies one call across a crash: the run's settings for it, its place in the graph, its prompt, its attempt. */
function callKey(ctx: CallContext, call: CallAttempt): string {
  const { request } = call;
  const identity = [
    modelOf(ctx, request),
    request.role,
    request.step,
    request.temperature,
    ctx.config.maxTokens,
    call.schemaName,
    call.attempt,
    ctx.trace ?? {},
    request.messages,
  ];
  return createHash("sha256").update(JSON.stringify(identity)).digest("base64url");
}

/** Steps whose calls several instructions need (one metadata's rubrics): a fleet makes each once. */
const SHARED_STEPS: ReadonlySet<string> = new Set(["rubric-generate"]);

export async function answeredCall(ctx: CallContext, call: CallAttempt): Promise<StoredAnswer> {
  const key = ctx.services.journal ? callKey(ctx, call) : "";
  const claim = ctx.services.journal?.claim;
  if (key && claim && SHARED_STEPS.has(call.request.step)) return claimedCall(ctx, call, key, claim);
  return (await replayed(ctx, call.request, key)) ?? (await paidCall(ctx, call, key));
}

/**
 * A call other processes may be making at the same moment (a fleet's workers needing one metadata's
 * rubrics): made by whichever claims it first; the others wait for its answer in the journal. A claimer
 * that fails or dies gives the call up (released, or its claim expires) and the next claimer makes it.
 */
async function claimedCall(
  ctx: CallContext,
  call: CallAttempt,
  key: string,
  claim: (key: string) => Promise<(() => Promise<void>) | undefined>,
): Promise<StoredAnswer> {
  for (;;) {
    const earlier = await replayed(ctx, call.request, key);
    if (earlier) return earlier;
    const release = await claim(key);
    if (release) {
      try {
        return (await replayed(ctx, call.request, key)) ?? (await paidCall(ctx, call, key));
      } finally {
        await release().catch(() => {}); // a lost release only holds the claim until it expires
      }
    }
    ctx.services.control.throwIfStopped();
    const signal = ctx.runnable?.signal;
    if (signal?.aborted) throw signal.reason ?? new Error("aborted");
    await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
  }
}

const CLAIM_POLL_MS = 100;

/** Layer 1: the journal's answer to this call, if a previous session of the run got one. */
async function replayed(ctx: CallContext, request: CallRequest, key: string): Promise<StoredAnswer | undefined> {
  const row = key ? await ctx.services.journal?.find(key) : undefined;
  if (!row) return undefined;
  const { inputTokens, outputTokens, costUsd } = row;
  const outcome = row.answer.problem !== undefined ? "malformed" : "answered";
  account(ctx, {
    role: request.role,
    step: request.step,
    model: modelOf(ctx, request),
    outcome,
    inputTokens,
    outputTokens,
    costUsd,
    replayed: true,
  });
  return row.answer;
}

/** A call that ended without a lease to settle (replayed, given up): the node's and the run's accounts. */
function account(ctx: CallContext, call: CallRecord): void {
  ctx.meter.record(call);
  ctx.services.ledger.accounts.record(call);
}

/** Layer 2: requests until one is answered, or the call (or the run) gives up. */
async function paidCall(ctx: CallContext, call: CallAttempt, key: string): Promise<StoredAnswer> {
  // With `batch` on, a call that can wait is first a line of a provider's batch (models/batch/); a line
  // that failed comes back here as a single request.
  const batched = await ctx.services.batch?.answer(ctx, {
    request: call.request,
    key,
    send: call.send,
    meter: (settle, sent, latencyMs, transport) => metered(ctx, call, key, { settle }, sent, latencyMs, transport),
  });
  if (batched) return batched;
  const retries = new TransportRetries(ctx, call.request);
  for (;;) {
    const attempted = await withLease(ctx, call.request, (lease) => sendOnce(ctx, call, key, lease));
    if ("answer" in attempted) return attempted.answer;
    await retries.after(attempted.failure);
  }
}

class TransportRetries {
  /** Failures that use up the call's retries. */
  private failures = 0;
  private retry = 0;
  private rateLimitedSince: number | undefined;

  constructor(
    private readonly ctx: CallContext,
    private readonly request: CallRequest,
  ) {}

  /** After a failed request: throws when the call or the run gives up, else waits before the next one. */
  async after(failure: TransportFailure): Promise<void> {
    const { fault } = failure;
    if (fault.kind === "fatal") this.giveUp(failure, this.failures + 1);
    this.retry++;
    if (fault.kind === "rate-limit") {
      // A 429 says "slow down", not "this request is wrong": it does not use up the call's retries.
      this.rateLimitedSince ??= Date.now();
      this.stopIfRateLimitedTooLong();
    } else {
      this.rateLimitedSince = undefined;
      if (failure.healthy) this.failures++;
    }
    if (this.failures > this.ctx.config.retries) this.giveUp(failure, this.failures);
    const { control, random = Math.random } = this.ctx.services;
    const taskSignal = this.ctx.runnable?.signal;
    await sleep(retryDelayMs(Math.min(this.retry, 8), fault, DEFAULT_BACKOFF, random), [
      control.graphSignal,
      ...(taskSignal ? [taskSignal] : []),
    ]);
  }

  /** Rate limited without a break for the give-up time: the run stops (resumably). */
  private stopIfRateLimitedTooLong(): void {
    const limitedForMs = Date.now() - (this.rateLimitedSince ?? Date.now());
    if (limitedForMs < this.ctx.config.giveUpAfterSeconds * 1000) return;
    const { control } = this.ctx.services;
    const model = modelOf(this.ctx, this.request);
    control.stop({
      kind: "endpoint-down",
      message: `${model} kept answering 429 (rate limit) to one call for ${Math.round(limitedForMs / 1000)} s`,
    });
    control.throwIfStopped();
  }

  private giveUp({ fault, error }: TransportFailure, attempts: number): never {
    const { role, step } = this.request;
    const model = modelOf(this.ctx, this.request);
    if (fault.kind === "fatal" && (fault.status === 401 || fault.status === 403 || fault.status === 404)) {
      throw new ModelAccessError(role, model, fault.status, errorMessage(error));
    }
    account(this.ctx, { role, step, model, outcome: "given-up", inputTokens: 0, outputTokens: 0, costUsd: null });
    throw new ModelCallError(step, role, attempts, `${describeFault(fault)}: ${errorMessage(error)}`);
  }
}

/** Layers 3 and 4: one request under its lease and its timeout; answered, or a transport failure. */
async function sendOnce(ctx: CallContext, call: CallAttempt, key: string, lease: CallLease): Promise<Attempted> {
  const timeout = callSignal(ctx.services.control.requestSignal, ctx.config.timeoutSeconds * 1000);
  const started = performance.now();
  let sent: Sent;
  try {
    sent = await call.send(timeout.signal);
  } catch (error) {
    return { failure: failed(ctx, call.request, lease, error, timeout.timedOut()) };
  } finally {
    timeout.dispose();
  }
  const latencyMs = performance.now() - started;
  try {
    return { answer: await metered(ctx, call, key, lease, sent, latencyMs) };
  } finally {
    // Held until the answer is stored: a crash then repays at most the calls holding a slot (in flight).
    lease.freeSlot({ kind: "answer", latencyMs, step: call.request.step });
  }
}

/** A request that failed: counted by kind (ledger, journal), its lease ended with the fault. */
function failed(
  ctx: CallContext,
  request: CallRequest,
  lease: CallLease,
  error: unknown,
  timedOut: boolean,
): TransportFailure {
  const { control, ledger, journal } = ctx.services;
  if (control.requestSignal.aborted) {
    throw control.requestSignal.reason ?? new RunStoppedError({ kind: "interrupt", message: "interrupted" });
  }
  const fault: Fault = timedOut ? { kind: "timeout" } : classifyFault(error);
  lease.end({ kind: "fault", fault });
  ledger.recordFault(fault.kind);
  const model = modelOf(ctx, request);
  journal?.fault({
    role: request.role,
    step: request.step,
    model,
    kind: fault.kind,
    ...(fault.status ? { status: fault.status } : {}),
  });
  return { fault, error, healthy: lease.healthy };
}

/** Layer 5: the answer settled in the budget, stored in the journal, and recorded in the node's accounts. */
async function metered(
  ctx: CallContext,
  call: CallAttempt,
  key: string,
  lease: Pick<CallLease, "settle">,
  sent: Sent,
  latencyMs: number,
  transport: Transport = "single",
): Promise<StoredAnswer> {
  const { role, step } = call.request;
  const model = modelOf(ctx, call.request);
  const { inputTokens, outputTokens } = sent.usage;
  const costUsd = ctx.services.ledger.costOf(model, inputTokens, outputTokens, transport);
  const paid = (outcome: CallRecord["outcome"]): CallRecord => ({
    role,
    step,
    model,
    outcome,
    inputTokens,
    outputTokens,
    costUsd,
    ...(transport === "batch" ? { transport } : {}),
  });
  let problem: string | undefined;
  try {
    problem = sent.answer.problem ?? call.validate(sent.answer);
  } catch (error) {
    lease.settle(paid("answered")); // a check that crashes is a bug, but the call was paid
    throw error;
  }
  const answer = problem === undefined ? sent.answer : { ...sent.answer, problem };
  const record = paid(problem === undefined ? "answered" : "malformed");
  lease.settle(record);
  // Stored before the answer is used: after a crash, only calls in flight are paid again.
  const row = { key, role, step, model, answer, inputTokens, outputTokens, costUsd, latencyMs };
  await ctx.services.journal?.answer(transport === "batch" ? { ...row, transport } : row);
  ctx.meter.record(record);
  return answer;
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

/**
 * The signal of one request: aborted by the run (a second Ctrl-C) or by the call's timeout. Not
 * `AbortSignal.any`: on Node 20 every signal derived that way from the run's long-lived signal stays
 * reachable from it, so memory would grow with every call. The run's signal has one listener for all
 * calls in flight (`onAbortOf`): an EventTarget walks its listeners on every add and remove.
 */
function callSignal(run: AbortSignal, timeoutMs: number) {
  const controller = new AbortController();
  let timedOut = false;
  const forget = onAbortOf(run, () => controller.abort(run.reason));
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`the call timed out after ${timeoutMs / 1000} s`));
  }, timeoutMs);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      forget();
    },
  };
}

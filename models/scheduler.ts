/**
 * Admission of model calls: at most `global` in flight over the run, and per endpoint (provider, base URL,
 * model) at most its limit: the smallest per-role cap of the roles using it, adapted down on rate limits,
 * overload and rising latency and grown back gradually (lib/adaptive.ts). A circuit breaker per endpoint
 * (lib/breaker.ts) pauses one that keeps failing; if it stays down longer than `giveUpMs`, `onGiveUp`
 * is told so the run can stop resumably. Waiting calls are served by priority (lower first: `callDepth` in
 * lib/call-order.ts), first come, first served within one.
 */
import { type AdaptiveOptions, AdaptiveLimit, DEFAULT_ADAPTIVE } from "../lib/adaptive.js";
import { type BreakerOptions, CircuitBreaker, DEFAULT_BREAKER } from "../lib/breaker.js";
import type { Fault } from "../lib/faults.js";

export type SlotOutcome =
  { kind: "answer"; latencyMs: number; step: string } | { kind: "fault"; fault: Fault } | { kind: "cancel" };

export interface Slot {
  readonly endpoint: string;
  readonly grantedAt: number;
  /** The endpoint was healthy when the call started: a failure then counts against the call's retries. */
  readonly healthy: boolean;
}

export interface SchedulerOptions {
  adaptive: boolean;
  adaptiveOptions?: AdaptiveOptions;
  breaker?: BreakerOptions;
  /** Stop waiting for an endpoint that has failed without a success for this long. */
  giveUpMs: number;
  onGiveUp?: (endpoint: string, downForMs: number) => void;
  now?: () => number;
}

export interface EndpointSnapshot {
  key: string;
  limit: number;
  max: number;
  active: number;
  queued: number;
  breaker: "closed" | "open" | "half-open";
  /** Why the limit last changed, when it did. */
  lastChange?: string;
}

interface Waiter {
  priority: number;
  seq: number;
  resolve: (slot: Slot) => void;
  reject: (error: unknown) => void;
  cleanup?: () => void;
}

/** Waiting calls of one endpoint: one first-come-first-served queue per priority (small integers). */
class WaitQueue {
  private readonly byPriority: Waiter[][] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(waiter: Waiter): void {
    (this.byPriority[waiter.priority] ??= []).push(waiter);
    this.count += 1;
  }

  /** The waiter served next: the oldest of the lowest priority. */
  head(): Waiter | undefined {
    if (this.count === 0) return undefined;
    for (const queue of this.byPriority) if (queue && queue.length > 0) return queue[0];
    return undefined;
  }

  shift(): Waiter | undefined {
    const head = this.head();
    if (head) this.remove(head);
    return head;
  }

  remove(waiter: Waiter): void {
    const queue = this.byPriority[waiter.priority];
    const index = queue ? queue.indexOf(waiter) : -1;
    if (index < 0) return;
    queue!.splice(index, 1);
    this.count -= 1;
  }

  /** Every waiter, emptying the queue. */
  drain(): Waiter[] {
    const all = this.byPriority.flatMap((queue) => queue ?? []);
    this.byPriority.length = 0;
    this.count = 0;
    return all;
  }
}

/** Priorities past this one share its queue (the queues are an array indexed by priority). */
const LAST_PRIORITY = 63;
const queuePriority = (priority: number) => Math.min(LAST_PRIORITY, Math.max(0, Math.floor(priority) || 0));

/** Lower priority first, then first come. */
const servedBefore = (a: Waiter, b: Waiter) => a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);

class Endpoint {
  active = 0;
  readonly queue = new WaitQueue();
  readonly breaker: CircuitBreaker;
  readonly adaptive: AdaptiveLimit | undefined;

  constructor(
    readonly key: string,
    readonly max: number,
    options: SchedulerOptions,
  ) {
    this.breaker = new CircuitBreaker(options.breaker ?? DEFAULT_BREAKER);
    this.adaptive = options.adaptive ? new AdaptiveLimit(max, options.adaptiveOptions ?? DEFAULT_ADAPTIVE) : undefined;
  }

  get limit(): number {
    return Math.min(this.max, this.adaptive?.limit ?? this.max);
  }
}

/** Per signal: the one listener registered on it, and the callbacks it runs. */
const abortWatchers = new WeakMap<AbortSignal, { callbacks: Set<() => void>; fire: () => void }>();

/**
 * Run `callback` when `signal` aborts; returns the function that forgets it. The calls of one graph
 * step share that step's signal (LangGraph makes it; its listener cap stays 10): hundreds of queued
 * calls would each add a listener and set off MaxListenersExceededWarning. One listener per signal
 * fans out to all of them instead.
 */
export function onAbortOf(signal: AbortSignal, callback: () => void): () => void {
  let watcher = abortWatchers.get(signal);
  if (!watcher) {
    const callbacks = new Set<() => void>();
    const fire = () => {
      abortWatchers.delete(signal);
      for (const run of [...callbacks]) run();
    };
    watcher = { callbacks, fire };
    abortWatchers.set(signal, watcher);
    signal.addEventListener("abort", fire, { once: true });
  }
  const { callbacks, fire } = watcher;
  callbacks.add(callback);
  return () => {
    callbacks.delete(callback);
    if (callbacks.size === 0 && abortWatchers.get(signal)?.callbacks === callbacks) {
      abortWatchers.delete(signal);
      signal.removeEventListener("abort", fire);
    }
  };
}

export class CallScheduler {
  private active = 0;
  private seq = 0;
  private readonly endpoints = new Map<string, Endpoint>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopError: unknown;
  private idleWaiters: Array<() => void> = [];
  private gaveUp = false;
  private readonly now: () => number;

  constructor(
    readonly globalLimit: number,
    private readonly options: SchedulerOptions,
  ) {
    if (!Number.isInteger(globalLimit) || globalLimit < 1)
      throw new Error(`concurrency must be a positive integer, got ${globalLimit}`);
    this.now = options.now ?? Date.now;
  }

  /** Declare an endpoint and its cap (the smallest cap wins when declared twice). */
  register(key: string, max: number): void {
    const existing = this.endpoints.get(key);
    const cap = Math.max(1, Math.min(max, this.globalLimit, existing?.max ?? Number.POSITIVE_INFINITY));
    if (existing && existing.max === cap) return;
    this.endpoints.set(key, new Endpoint(key, cap, this.options));
  }

  private endpoint(key: string): Endpoint {
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = new Endpoint(key, this.globalLimit, this.options);
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  get inFlight(): number {
    return this.active;
  }

  /**
   * Wait for a slot on the endpoint; waiting calls of a lower `priority` (a non-negative integer) are served
   * first. Rejects if the scheduler is stopped, or when `signal` aborts while waiting.
   */
  acquire(key: string, signal?: AbortSignal, priority = 0): Promise<Slot> {
    if (this.stopError) return Promise.reject(this.stopError);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const endpoint = this.endpoint(key);
    return new Promise<Slot>((resolve, reject) => {
      const waiter: Waiter = { priority: queuePriority(priority), seq: this.seq++, resolve, reject };
      if (signal) {
        const onAbort = () => {
          endpoint.queue.remove(waiter);
          reject(signal.reason);
        };
        waiter.cleanup = onAbortOf(signal, onAbort);
      }
      endpoint.queue.push(waiter);
      this.pump();
    });
  }

  release(slot: Slot, outcome: SlotOutcome): void {
    const endpoint = this.endpoint(slot.endpoint);
    endpoint.active--;
    this.active--;
    const now = this.now();
    switch (outcome.kind) {
      case "answer":
        endpoint.breaker.onSuccess();
        endpoint.adaptive?.onSuccess(outcome.latencyMs, now, outcome.step);
        break;
      case "cancel":
        endpoint.breaker.onCancel();
        break;
      case "fault": {
        const { fault } = outcome;
        if (fault.kind === "rate-limit") {
          // The endpoint answered: it is up, only busy. Not a breaker failure.
          endpoint.breaker.onCancel();
          endpoint.adaptive?.onRateLimit(now);
          break;
        }
        if (fault.kind === "fatal") {
          endpoint.breaker.onCancel();
          break;
        }
        const wasClosed = endpoint.breaker.state === "closed";
        endpoint.breaker.onFailure(now);
        if (wasClosed && endpoint.breaker.state === "open") endpoint.adaptive?.collapse(now);
        else if (fault.kind === "timeout" || fault.status === 503 || fault.status === 529)
          endpoint.adaptive?.onOverload(now);
        break;
      }
    }
    if (this.active === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
    this.pump();
  }

  /** Refuse every waiting and future call with `error`. Calls in flight are not touched. */
  stop(error: unknown): void {
    if (this.stopError) return;
    this.stopError = error;
    this.clearTimer();
    for (const endpoint of this.endpoints.values()) {
      for (const waiter of endpoint.queue.drain()) {
        waiter.cleanup?.();
        waiter.reject(error);
      }
    }
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  snapshot(): EndpointSnapshot[] {
    return [...this.endpoints.values()].map((endpoint) => ({
      key: endpoint.key,
      limit: endpoint.limit,
      max: endpoint.max,
      active: endpoint.active,
      queued: endpoint.queue.length,
      breaker: endpoint.breaker.state,
      ...(endpoint.adaptive?.lastReason ? { lastChange: endpoint.adaptive.lastReason } : {}),
    }));
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private wakeAt(at: number): void {
    if (this.stopError || at >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        this.pump();
      },
      Math.max(1, at - this.now()),
    );
  }

  private checkGiveUp(now: number): void {
    let watching = false;
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.breaker.state === "closed") continue;
      watching = true;
      const down = endpoint.breaker.downForMs(now);
      if (down >= this.options.giveUpMs && !this.gaveUp) {
        this.gaveUp = true;
        this.options.onGiveUp?.(endpoint.key, down);
        return;
      }
    }
    // Keep checking while an endpoint is down, even if no call comes back to wake us.
    if (watching) this.wakeAt(now + Math.min(1_000, Math.max(50, this.options.giveUpMs / 10)));
  }

  private pump(): void {
    if (this.stopError) return;
    const now = this.now();
    this.checkGiveUp(now);
    if (this.stopError) return;
    const blocked = new Set<Endpoint>();
    while (this.active < this.globalLimit) {
      // The endpoint whose next waiter is served first, among those that can start a call now.
      let pick: Endpoint | undefined;
      let pickHead: Waiter | undefined;
      for (const endpoint of this.endpoints.values()) {
        const head = endpoint.queue.head();
        if (!head || endpoint.active >= endpoint.limit || blocked.has(endpoint)) continue;
        if (endpoint.breaker.state === "open") {
          const at = endpoint.breaker.reopensAt();
          if (at !== undefined && now < at) {
            this.wakeAt(at);
            continue;
          }
        }
        if (endpoint.breaker.state === "half-open" && endpoint.active > 0) continue;
        if (!pickHead || servedBefore(head, pickHead)) {
          pick = endpoint;
          pickHead = head;
        }
      }
      if (!pick) return;
      const healthy = pick.breaker.state === "closed";
      if (!pick.breaker.tryPass(now)) {
        blocked.add(pick);
        continue;
      }
      const waiter = pick.queue.shift()!;
      waiter.cleanup?.();
      pick.active++;
      this.active++;
      waiter.resolve({ endpoint: pick.key, grantedAt: now, healthy });
    }
  }
}

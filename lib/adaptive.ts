/**
 * Adaptive concurrency for one endpoint (AIMD): halve the limit on rate limits, shrink it gently on
 * overload (503s, timeouts) or when latency climbs well above what the endpoint showed unloaded, and grow
 * it back by one per round of successful calls. Pure: the caller passes the clock.
 *
 * One 429 among many successes is noise (the call itself waits for its Retry-After); an endpoint over
 * its rate limit refuses many. So a decrease needs evidence: among the last max(`window`, 2 × limit)
 * answers, at least max(`evidence`, `evidenceShare` of them) throttled (or overloaded).
 *
 * Latency is tracked per kind of call (per pipeline step), because an answer of 2,000 tokens and a
 * one-line judge score have very different normal latencies on the same endpoint.
 */

export interface AdaptiveOptions {
  /** Never below this many calls in flight. */
  min: number;
  /** Factor applied on a 429. */
  rateLimitFactor: number;
  /** Factor applied when latency is `latencyTolerance` times its baseline, or on overload (503, timeouts). */
  latencyFactor: number;
  latencyTolerance: number;
  /** Samples of a kind needed before its latency can count as a signal. */
  warmupSamples: number;
  /** Recent answers looked at (at least twice the limit), and how many of them must be 429s (or overloads) to decrease. */
  window: number;
  evidence: number;
  evidenceShare: number;
}

export const DEFAULT_ADAPTIVE: AdaptiveOptions = {
  min: 1,
  rateLimitFactor: 0.5,
  latencyFactor: 0.9,
  latencyTolerance: 2,
  warmupSamples: 8,
  window: 32,
  evidence: 2,
  evidenceShare: 0.05,
};

interface LatencyTrack {
  ewma: number;
  baseline: number;
  samples: number;
}

/** Smoothing of the recent latency; the baseline follows the lowest smoothed value, drifting up slowly. */
const EWMA_ALPHA = 0.2;
const BASELINE_DRIFT = 1.001;

export type AdaptiveReason = "rate-limit" | "latency" | "overload" | "recovery";

export class AdaptiveLimit {
  private value: number;
  private readonly tracks = new Map<string, LatencyTrack>();
  private successesSinceChange = 0;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  /** Recent answers: true for a 429, false otherwise (and overloads in their own window). */
  private readonly recentThrottles: boolean[] = [];
  private readonly recentOverloads: boolean[] = [];
  /** The last change, for progress displays. */
  lastReason: AdaptiveReason | undefined;
  decreases = 0;

  constructor(
    private readonly max: number,
    private readonly options: AdaptiveOptions = DEFAULT_ADAPTIVE,
  ) {
    if (!(max >= 1)) throw new Error(`adaptive limit needs a maximum of at least 1, got ${max}`);
    this.value = max;
  }

  /** Calls allowed in flight now. */
  get limit(): number {
    return Math.max(this.options.min, Math.floor(this.value));
  }

  get ceiling(): number {
    return this.max;
  }

  /** The typical recent latency over every kind seen, for the cooldown between decreases. */
  private recentLatency(): number {
    let worst = 0;
    for (const track of this.tracks.values()) worst = Math.max(worst, track.ewma);
    return worst;
  }

  private decrease(factor: number, now: number, reason: AdaptiveReason): boolean {
    // One decrease per round trip: a burst of failures from calls sent together is one signal, not many.
    const cooldown = Math.max(250, this.recentLatency());
    if (now - this.lastDecreaseAt < cooldown) return false;
    this.value = Math.max(this.options.min, this.value * factor);
    this.lastDecreaseAt = now;
    this.successesSinceChange = 0;
    this.lastReason = reason;
    this.decreases++;
    // The next decision needs fresh evidence.
    this.recentThrottles.length = 0;
    this.recentOverloads.length = 0;
    return true;
  }

  private get window(): number {
    return Math.max(this.options.window, 2 * Math.ceil(this.value));
  }

  private remember(list: boolean[], value: boolean): number {
    list.push(value);
    while (list.length > this.window) list.shift();
    return list.reduce((count, item) => count + (item ? 1 : 0), 0);
  }

  private enough(count: number): boolean {
    return count >= Math.max(this.options.evidence, Math.ceil(this.window * this.options.evidenceShare));
  }

  onRateLimit(now: number): boolean {
    if (!this.enough(this.remember(this.recentThrottles, true))) return false;
    return this.decrease(this.options.rateLimitFactor, now, "rate-limit");
  }

  /** 503s and timeouts: the endpoint is struggling, back off a little. */
  onOverload(now: number): boolean {
    if (!this.enough(this.remember(this.recentOverloads, true))) return false;
    return this.decrease(this.options.latencyFactor, now, "overload");
  }

  /** The endpoint went down (its circuit breaker opened): start again from half. */
  collapse(now: number): void {
    this.lastDecreaseAt = Number.NEGATIVE_INFINITY;
    this.decrease(0.5, now, "overload");
  }

  /** A call that got an answer, with its latency and kind. */
  onSuccess(latencyMs: number, now: number, kind = "call"): void {
    this.remember(this.recentThrottles, false);
    this.remember(this.recentOverloads, false);
    let track = this.tracks.get(kind);
    if (!track) {
      track = { ewma: latencyMs, baseline: latencyMs, samples: 0 };
      this.tracks.set(kind, track);
    }
    track.samples++;
    track.ewma = track.ewma + EWMA_ALPHA * (latencyMs - track.ewma);
    track.baseline = Math.min(track.baseline * BASELINE_DRIFT, track.ewma);
    if (track.samples >= this.options.warmupSamples && track.ewma > this.options.latencyTolerance * track.baseline) {
      if (this.decrease(this.options.latencyFactor, now, "latency")) return;
    }
    this.successesSinceChange++;
    // Additive increase: one more slot per full round of successes at the current limit.
    if (this.value < this.max && this.successesSinceChange >= this.limit) {
      this.value = Math.min(this.max, this.value + 1);
      this.successesSinceChange = 0;
      this.lastReason = "recovery";
    }
  }
}

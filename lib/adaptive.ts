/**
 * Adaptive concurrency for one endpoint (AIMD): halve the limit on a rate limit, shrink it gently when
 * latency climbs well above what the endpoint showed unloaded, and grow it back by one per round of
 * successful calls. Pure: the caller passes the clock.
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
}

export const DEFAULT_ADAPTIVE: AdaptiveOptions = {
  min: 1,
  rateLimitFactor: 0.5,
  latencyFactor: 0.9,
  latencyTolerance: 2,
  warmupSamples: 8,
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
    return true;
  }

  onRateLimit(now: number): boolean {
    return this.decrease(this.options.rateLimitFactor, now, "rate-limit");
  }

  /** 503s and timeouts: the endpoint is struggling, back off a little. */
  onOverload(now: number): boolean {
    return this.decrease(this.options.latencyFactor, now, "overload");
  }

  /** A call that got an answer, with its latency and kind. */
  onSuccess(latencyMs: number, now: number, kind = "call"): void {
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

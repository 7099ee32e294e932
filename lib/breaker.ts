/**
 * Circuit breaker for one endpoint. After `threshold` consecutive failed requests the endpoint is
 * paused (open) for a cool-down; then one probe request may pass (half-open): success closes it, failure
 * opens it again for twice as long. `downForMs` tells how long the endpoint has been failing without
 * a single success, so the caller can stop the run (resumably) when it stays down. Pure: the caller
 * passes the clock.
 */

export interface BreakerOptions {
  threshold: number;
  initialCooldownMs: number;
  maxCooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 8, initialCooldownMs: 2_000, maxCooldownMs: 30_000 };

export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private consecutive = 0;
  private openedAt = 0;
  private cooldown: number;
  private probeInFlight = false;
  private failingSince: number | undefined;
  state: BreakerState = "closed";
  /** Times the breaker opened. */
  opened = 0;

  constructor(private readonly options: BreakerOptions = DEFAULT_BREAKER) {
    this.cooldown = options.initialCooldownMs;
  }

  /** May a request start now? In half-open state only one probe may be out at a time. */
  tryPass(now: number): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (now < this.openedAt + this.cooldown) return false;
      this.state = "half-open";
      this.probeInFlight = false;
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** When a paused endpoint will let a probe through (for timers); undefined when not open. */
  reopensAt(): number | undefined {
    return this.state === "open" ? this.openedAt + this.cooldown : undefined;
  }

  onSuccess(): void {
    this.consecutive = 0;
    this.failingSince = undefined;
    this.probeInFlight = false;
    this.cooldown = this.options.initialCooldownMs;
    this.state = "closed";
  }

  /** A request that failed for a transport reason (not a rate limit: a 429 means the endpoint is up). */
  onFailure(now: number): void {
    this.consecutive++;
    this.failingSince ??= now;
    if (this.state === "half-open") {
      this.probeInFlight = false;
      this.cooldown = Math.min(this.options.maxCooldownMs, this.cooldown * 2);
      this.open(now);
      return;
    }
    if (this.state === "closed" && this.consecutive >= this.options.threshold) this.open(now);
  }

  /** A request abandoned without an answer or a failure (e.g. the run stopped): frees the probe slot. */
  onCancel(): void {
    this.probeInFlight = false;
  }

  private open(now: number): void {
    this.state = "open";
    this.openedAt = now;
    this.opened++;
  }

  /** How long the endpoint has been failing without a success in between (0 when healthy). */
  downForMs(now: number): number {
    return this.state === "closed" || this.failingSince === undefined ? 0 : now - this.failingSince;
  }
}

import type { CodecConfig } from "./config.js";
import { JudgeTally, sparesWanted } from "./keep-odds.js";

/** When a wave's spares start: once expected to be needed, once certainly needed (`sparesWanted`), or never. */
export type SpareRelease = CodecConfig["spares"];

/** What `schedule` tells the gate of a wave: the kept pairs it should yield, and its members and spares in order. */
export interface WavePlan {
  need: number;
  /** The wave's instructions in dispatch order: its members, then its spares. */
  ids: readonly string[];
  members: number;
  /** The iteration cap (`maxIterations`). */
  cap: number;
  release: SpareRelease;
  /** Standard errors by which the keep rates are taken as higher than seen (`spareConfidence`). */
  confidence: number;
}

interface Waiting {
  resolve: (started: boolean) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * Starts a wave's spares, in order, as soon as the wave needs them, so that instructions a later wave would
 * filter run beside the current wave's last ones instead of after them. Members start at once. The gate
 * follows each open instruction's iteration (`judged`) and what judging has kept so far (a `JudgeTally` for
 * the whole run), so "needed" can be the expected shortfall, not only the certain one. One gate per run,
 * in process: a spare of a wave the gate was not told of (a resumed wave) never starts, and goes back to
 * the waiting instructions like any spare not needed.
 */
export class WaveGate {
  private plan: WavePlan | undefined;
  /** Each instruction's place in the wave (dispatch order). */
  private position = new Map<string, number>();
  /** Kept instructions of the wave by place, to count those kept before a place. */
  private keptAt = new KeptBefore(0);
  private readonly tally: JudgeTally;
  private kept = 0;
  private open = 0;
  /** Open instructions past their first judgment: id -> the iteration of their next judgment. */
  private readonly later = new Map<string, number>();
  /** How many of `later` wait for a judgment at each iteration. */
  private laterAt: number[] = [];
  /** Spares released so far: the first `released` after the members in `plan.ids`. */
  private released = 0;
  private closed = false;
  private readonly waiting = new Map<string, Waiting>();

  /** `minJudged`: judgments seen before the keep rates are trusted (`JudgeTally`). */
  constructor(minJudged?: number) {
    this.tally = new JudgeTally(minJudged);
  }

  /** A new wave (ends whatever the last one left waiting: it is over). */
  start(plan: WavePlan): void {
    this.end();
    this.plan = plan;
    this.position = new Map(plan.ids.map((id, index) => [id, index]));
    this.keptAt = new KeptBefore(plan.ids.length);
    this.kept = 0;
    this.open = plan.members;
    this.later.clear();
    this.laterAt = [];
    this.released = 0;
    this.closed = false;
    this.pump();
  }

  /** The wave is over: every spare still waiting goes back, and outcomes that arrive late count for nothing. */
  end(): void {
    this.closed = true;
    this.settleWaiting();
    this.plan = undefined;
    this.position = new Map();
  }

  /**
   * Whether instruction `id` can still take a place: fewer than `need` instructions before it in dispatch
   * order ended kept. One that cannot is not filtered further (the kept pairs are the first `need` kept in
   * dispatch order, whichever finished first, so stopping it changes nothing but the calls it would make).
   * With spares off, every instruction of a wave is filtered to the end, as in waves only: the calls a run
   * makes then do not depend on timing.
   */
  needed(id: string): boolean {
    const plan = this.plan;
    const place = this.position.get(id);
    if (!plan || plan.release === "off" || place === undefined) return true;
    return this.keptAt.before(place) < plan.need;
  }

  /** Whether instruction `id` should be filtered now: it can still take a place and, if a spare, the wave needs it. */
  async mayStart(id: string, spare: boolean, signal?: AbortSignal): Promise<boolean> {
    if (!this.needed(id)) return false;
    return !spare || this.admit(id, signal);
  }

  /** Whether spare `id` should be filtered now (it waits until that is known); false: not needed in this wave. */
  admit(id: string, signal?: AbortSignal): Promise<boolean> {
    const index = this.plan ? (this.position.get(id) ?? -1) - this.plan.members : -1;
    if (index < 0 || this.closed) return Promise.resolve(false);
    if (index < this.released) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry: Waiting = { resolve, signal };
      if (signal) {
        entry.onAbort = () => this.resolveWaiting(id, false);
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.waiting.set(id, entry);
    });
  }

  /** Instruction `id` was judged at `iteration`: kept, or not (improved next, or dropped at the cap). */
  judged(id: string, iteration: number, kept: boolean): void {
    this.tally.add(iteration, kept);
    if (kept || !this.plan || this.closed || iteration >= this.plan.cap) return;
    this.leave(id);
    this.later.set(id, iteration + 1);
    this.laterAt[iteration + 1] = (this.laterAt[iteration + 1] ?? 0) + 1;
    this.pump();
  }

  /** Instruction `id` of the current wave (member or started spare) ended: kept or not. */
  finished(id: string, kept: boolean): void {
    if (!this.plan) return;
    const place = this.position.get(id);
    // Counted even once no spare is wanted: `needed` asks how many were kept before a place.
    if (kept && place !== undefined) this.keptAt.add(place);
    if (this.closed) return;
    if (kept) this.kept += 1;
    this.open = Math.max(0, this.open - 1);
    this.leave(id);
    this.pump();
  }

  private pump(): void {
    const plan = this.plan;
    if (!plan) return;
    const wanted = sparesWanted(
      plan.need,
      this.kept,
      this.openByIteration(),
      plan.release === "expected"
        ? (iteration) => this.tally.keepOdds(iteration, plan.cap, plan.confidence)
        : undefined,
    );
    const more = Math.min(wanted, plan.ids.length - plan.members - this.released);
    for (let i = 0; i < more; i += 1) {
      const id = plan.ids[plan.members + this.released]!;
      this.released += 1;
      this.open += 1;
      this.resolveWaiting(id, true);
    }
    // Enough ended kept: no spare of this wave will be needed.
    if (this.kept >= plan.need) {
      this.closed = true;
      this.settleWaiting();
    }
  }

  /** Open instructions by the iteration of their next judgment (index 0 unused). */
  private openByIteration(): number[] {
    const counts = [...this.laterAt];
    counts[0] = 0;
    counts[1] = this.open - this.later.size;
    return counts;
  }

  private leave(id: string): void {
    const iteration = this.later.get(id);
    if (iteration === undefined) return;
    this.later.delete(id);
    this.laterAt[iteration]! -= 1;
  }

  private settleWaiting(): void {
    for (const id of [...this.waiting.keys()]) this.resolveWaiting(id, false);
  }

  private resolveWaiting(id: string, started: boolean): void {
    const entry = this.waiting.get(id);
    if (!entry) return;
    this.waiting.delete(id);
    if (entry.onAbort) entry.signal?.removeEventListener("abort", entry.onAbort);
    entry.resolve(started);
  }
}

/** Counts of kept places below a place (a Fenwick tree): `needed` asks it at every step of every instruction. */
class KeptBefore {
  private readonly tree: number[];
  constructor(size: number) {
    this.tree = new Array<number>(size + 1).fill(0);
  }
  add(place: number): void {
    for (let i = place + 1; i < this.tree.length; i += i & -i) this.tree[i]! += 1;
  }
  before(place: number): number {
    let sum = 0;
    for (let i = place; i > 0; i -= i & -i) sum += this.tree[i]!;
    return sum;
  }
}

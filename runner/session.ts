import type { PendingReview } from "./review.js";
import type { EmitEvent } from "./events.js";
import type { OpenedRun } from "./open.js";
import type { RunPlan } from "./plan.js";
import type { RunGraph } from "./services.js";
import type { StateView } from "./state-view.js";

/** One session of a run, once it is open and its graph built: what driving and ending it read. */
export interface Session {
  plan: RunPlan;
  run: OpenedRun;
  parts: RunGraph;
  view: StateView;
  emit: EmitEvent;
  /** What the graph stopped with for a person's review (its `review-pool` or `review-instructions` interrupt). */
  review?: PendingReview;
}

/**
 * The one place a run's services and its graph are built: the model factory, the call services
 * (scheduler, budget ledger, stop control, journal) and the graph that uses them, for this run only.
 */
import type { BaseCheckpointSaver } from "@langchain/langgraph";
import { type CodecGraphOptions, createCodecGraph } from "../graphs/codeclm.js";
import type { NearDuplicateIndex } from "../lib/dedupe.js";
import type { CodecConfig } from "../lib/config.js";
import type { CallServices } from "../models/call.js";
import type { RunControl } from "../models/control.js";
import type { ModelFactory } from "../models/factory.js";
import type { CallJournal, JournalTotals } from "../models/journal.js";
import type { SharedBudget } from "../models/shared-budget.js";
import { buildServices, factoryFor } from "../nodes/runtime.js";

/** What a caller may set of the graph a run builds (models, local model builder, environment, retries). */
export type RunGraphOptions = Omit<CodecGraphOptions, "retainRecords" | "services" | "dedupe" | "checkpointer">;

export type CodecGraph = ReturnType<typeof createCodecGraph>;

export interface RunGraph {
  graph: CodecGraph;
  services: CallServices;
  factory: ModelFactory;
}

export interface RunGraphNeeds {
  config: CodecConfig;
  options?: RunGraphOptions;
  control: RunControl;
  journal?: CallJournal;
  spentBefore?: JournalTotals;
  dedupe: NearDuplicateIndex;
  checkpointer?: BaseCheckpointSaver;
  /** Jitter source for retries (tests). */
  random?: () => number;
  /** A budget shared with other processes (`--engine dbos`: the fleet's, in Postgres). */
  sharedBudget?: SharedBudget;
}

/** The graph streams its records out (not kept in state) and runs with this run's services and index. */
export function buildRunGraph(needs: RunGraphNeeds): RunGraph {
  const factory = factoryFor(needs.options ?? {}, needs.config);
  const services = buildServices(needs.config, factory, {
    control: needs.control,
    journal: needs.journal,
    initial: needs.spentBefore,
    random: needs.random,
    sharedBudget: needs.sharedBudget,
  });
  const graph = createCodecGraph({
    ...needs.options,
    retainRecords: false,
    services,
    dedupe: needs.dedupe,
    checkpointer: needs.checkpointer,
  });
  return { graph, services, factory };
}

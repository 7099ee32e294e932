import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { filters } from "../lib/ablation.js";
import { type RunSummary, buildSummary, stopReasonFor } from "../lib/summary.js";
import { strongTargetWarnings } from "../models/factory.js";

/** End of the run: why it stopped, and the summary the CLI writes beside the data. */
export async function finalize(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const { config, factory, services } = runOf(runtime);
  const stopReason = stopReasonFor(state, config);
  const summary: RunSummary = buildSummary(state, config, {
    stopReason,
    models: {
      strong: factory.describe("strong"),
      target: factory.describe("target"),
      judge: factory.describe("judge"),
    },
    finishedAt: Date.now(),
    ledger: services.ledger.snapshot(),
    warnings: strongTargetWarnings(factory, filters(config.ablation)),
  });
  return { stopReason, summary: summary as unknown as Record<string, unknown> };
}

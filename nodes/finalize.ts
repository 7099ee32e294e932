import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { runOf } from "./runtime.js";
import type { CodecState, CodecUpdate } from "./state.js";
import { filters } from "../lib/ablation.js";
import { type RunSummary, buildSummary, stopReasonFor } from "../lib/summary.js";
import { strongTargetWarnings } from "../models/factory.js";
import { mergeUsage } from "../lib/usage.js";
import { unusedRubricsAhead } from "./rubric-generate.js";

/** End of the run: why it stopped, and the summary the CLI writes beside the data. */
export async function finalize(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const run = runOf(runtime);
  const { config, factory, services } = run;
  const stopReason = stopReasonFor(state, config);
  // Rubrics written ahead that no instruction used: paid, so counted here.
  const { usage, written, unused } = await unusedRubricsAhead(run);
  const summary: RunSummary = buildSummary({ ...state, usage: mergeUsage(state.usage, usage) }, config, {
    stopReason,
    rubricsAhead: { written, unused },
    models: {
      strong: factory.describe("strong"),
      target: factory.describe("target"),
      judge: factory.describe("judge"),
    },
    finishedAt: Date.now(),
    ledger: services.ledger.snapshot(),
    warnings: strongTargetWarnings(factory, filters(config.ablation)),
  });
  return { stopReason, summary: summary as unknown as Record<string, unknown>, usage };
}

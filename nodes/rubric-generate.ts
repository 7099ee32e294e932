import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type CodecRun, callContext, runOf } from "./runtime.js";
import { type Attempt, attempt } from "./attempt.js";
import type { InstructionState } from "./state.js";
import { failedOutcome } from "./instruction-outcome.js";
import type { Metadata } from "../lib/records.js";
import type { RubricSet } from "../lib/tasks.js";
import { type CallContext, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { type UsageMeter, type UsageTotals, emptyUsage, mergeUsage } from "../lib/usage.js";

export const RubricOutputSchema = z.object({
  rubrics: z.array(z.string()).describe("Criteria for judging how demanding an instruction is"),
  actions: z.array(z.string()).describe("One action per rubric that makes an instruction harder"),
});

const nonEmpty = (items: string[]) => items.map((item) => item.trim()).filter((item) => item !== "");

/** §4.2 Self-Rubrics: one strong-model call for a metadata's rubrics and matching actions. */
export async function generateRubrics(ctx: CallContext, metadata: Metadata): Promise<Attempt<RubricSet>> {
  const { config } = ctx;
  const values = { useCase: metadata.useCase, skills: metadata.skills.join(", "), count: config.rubricCount };
  const result = await attempt(() =>
    callStructured(ctx, {
      role: "strong",
      step: "rubric-generate",
      temperature: config.temperatures.rubricGenerate,
      messages: [["human", renderPrompt("rubricGenerate", config.prompts, values)]],
      schema: RubricOutputSchema,
      schemaName: "rubrics_and_actions",
      check: (value) => {
        const actions = nonEmpty(value.actions).length;
        return actions < config.rubricCount ? `expected ${config.rubricCount} actions, got ${actions}` : undefined;
      },
    }),
  );
  if (!result.ok) return result;
  return {
    ok: true,
    value: {
      rubrics: nonEmpty(result.value.rubrics).slice(0, config.rubricCount),
      actions: nonEmpty(result.value.actions).slice(0, config.rubricCount),
    },
  };
}

/**
 * Each metadata's rubrics, once per run: the first instruction that needs them makes the call (its usage
 * is that instruction's), the others of the metadata wait for the same answer. Rubrics written ahead
 * (`writeRubricsAhead`) are made by decode; their usage goes to the first instruction that uses them, or
 * to the run's end (`unusedRubricsAhead`) if none does. A resumed run starts empty and the call journal
 * replays the call.
 */
interface RubricsEntry {
  result: Promise<Attempt<RubricSet>>;
  /** Written ahead: the call's usage, until an instruction (or the run's end) takes it. */
  ahead?: { meter: UsageMeter; taken: boolean };
}

const rubricsByRun = new WeakMap<CodecRun, Map<string, RubricsEntry>>();

function rubricsOf(run: CodecRun): Map<string, RubricsEntry> {
  let rubrics = rubricsByRun.get(run);
  if (!rubrics) rubricsByRun.set(run, (rubrics = new Map()));
  return rubrics;
}

/** Start the metadata's rubrics call unless it was started; a run stopped mid-call lets a later need retry. */
function startRubrics(
  rubrics: Map<string, RubricsEntry>,
  ctx: CallContext,
  metadataId: string,
  metadata: Metadata,
  ahead: boolean,
): RubricsEntry {
  const started = rubrics.get(metadataId);
  if (started) return started;
  const entry: RubricsEntry = {
    result: generateRubrics(ctx, metadata),
    ...(ahead ? { ahead: { meter: ctx.meter, taken: false } } : {}),
  };
  rubrics.set(metadataId, entry);
  entry.result.catch(() => {
    if (rubrics.get(metadataId) === entry) rubrics.delete(metadataId);
  });
  return entry;
}

/**
 * Self-Rubrics ahead (`writesRubricsAhead`): decode starts the metadata's rubrics call as its instructions
 * come back, and does not wait for it. The call waits behind every decode still to be sent (the scheduler
 * serves setup calls first) and fills the call slots the setup leaves idle, before the first wave.
 */
export function writeRubricsAhead(runtime: LangGraphRunnableConfig, metadataId: string, metadata: Metadata): void {
  const ctx = callContext(runtime, { metadataId });
  startRubrics(rubricsOf(runOf(runtime)), ctx, metadataId, metadata, true);
}

/**
 * The usage of rubrics written ahead that no instruction used, once their calls have ended: the run's end
 * adds it to the run's usage (the calls were paid), and says how many there were.
 */
export async function unusedRubricsAhead(
  run: CodecRun,
): Promise<{ usage: UsageTotals; written: number; unused: number }> {
  const ahead = [...rubricsOf(run).values()].filter((entry) => entry.ahead);
  await Promise.allSettled(ahead.map((entry) => entry.result));
  let usage = emptyUsage();
  let unused = 0;
  for (const entry of ahead) {
    if (entry.ahead!.taken) continue;
    entry.ahead!.taken = true;
    usage = mergeUsage(usage, entry.ahead!.meter.totals);
    unused++;
  }
  return { usage, written: ahead.length, unused };
}

/** The usage an instruction reports for its rubrics: its own calls, and a call written ahead it is first to use. */
function usageWith(entry: RubricsEntry, own: UsageTotals): UsageTotals {
  if (!entry.ahead || entry.ahead.taken) return own;
  entry.ahead.taken = true;
  return mergeUsage(own, entry.ahead.meter.totals);
}

/**
 * §4.2 Self-Rubrics, when first needed: an instruction about to be improved gets its metadata's actions,
 * generated once per metadata and reused by every instruction of it. An instruction kept at its first
 * pass never pays for them. When the call fails for good, the metadata's instructions that need an action
 * fail (step rubric-generate); those kept at iteration 1 are unaffected.
 */
export async function rubricGenerate(
  state: InstructionState,
  runtime: LangGraphRunnableConfig,
): Promise<Partial<InstructionState>> {
  const { task } = state;
  const ctx = callContext(runtime, { metadataId: task.metadataId });
  const entry = startRubrics(rubricsOf(runOf(runtime)), ctx, task.metadataId, task.metadata, false);
  const rubricSet = await entry.result;
  const usage = usageWith(entry, ctx.meter.totals);
  if (!rubricSet.ok)
    return {
      verdict: "failed",
      outcomes: [failedOutcome(state, "rubric-generate", rubricSet.error.message)],
      usage,
    };
  return { task: { ...task, actions: rubricSet.value.actions }, usage };
}

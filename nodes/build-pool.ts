import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type GraphDeps, callContext } from "../graphs/runtime.js";
import { type CodecState, type CodecUpdate, tallyOf } from "../graphs/state.js";
import {
  type EncodedSeed,
  metadataKey,
  mixAndMatch,
  mixSource,
  normalizeMetadata,
  numberPool,
  seedEntries,
} from "../lib/pool.js";
import type { DroppedRecord, PoolEntry } from "../lib/records.js";
import { createRng, sampleWithoutReplacement } from "../lib/rng.js";
import { type CallContext, ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

export const PoolCheckOutputSchema = z.object({
  verdicts: z.array(
    z.object({
      index: z.number().describe("The candidate's line number"),
      plausible: z.boolean(),
      reason: z.string(),
    }),
  ),
});

/** How many rounds of fresh candidates to try when the plausibility check rejects some. */
const MAX_MIX_ROUNDS = 5;

interface Verdict {
  entry: PoolEntry;
  plausible: boolean;
  reason: string;
  /** Set when the check itself failed: the candidate is neither accepted nor judged implausible. */
  failure?: string;
}

async function checkBatch(ctx: CallContext, batch: PoolEntry[]): Promise<Verdict[]> {
  const candidates = batch
    .map((entry, index) => `${index + 1}. use case: ${entry.useCase}; skills: ${entry.skills.join(", ")}`)
    .join("\n");
  const output = await callStructured(ctx, {
    role: "strong",
    step: "pool-check",
    temperature: ctx.config.temperatures.poolCheck,
    messages: [["human", renderPrompt("poolCheck", ctx.config.prompts, { candidates })]],
    schema: PoolCheckOutputSchema,
    schemaName: "plausibility_verdicts",
    check: (value) => {
      const seen = new Set(value.verdicts.map((verdict) => verdict.index));
      const missing = batch.map((_, index) => index + 1).filter((index) => !seen.has(index));
      return missing.length > 0 ? `no verdict for line(s) ${missing.join(", ")}` : undefined;
    },
  });
  const byIndex = new Map(output.verdicts.map((verdict) => [verdict.index, verdict]));
  return batch.map((entry, index) => {
    const verdict = byIndex.get(index + 1)!;
    return { entry, plausible: verdict.plausible, reason: verdict.reason };
  });
}

/** App. A.3: the metadata pool, by mix-and-match of the seeds' use cases and skills to `poolSize`. */
export function buildPool(deps: GraphDeps) {
  return async (state: CodecState, runnable: LangGraphRunnableConfig): Promise<CodecUpdate> => {
    const ctx = callContext(deps, runnable);
    const { config } = ctx;
    const runId = state.runId ?? "";

    if (state.metadata && state.metadata.length > 0) {
      // User-written metadata is the pool as written: the user chose exactly the distribution they want.
      const seen = new Set<string>();
      const entries: PoolEntry[] = [];
      for (const item of state.metadata) {
        const metadata = normalizeMetadata(item, config.skillsMax);
        const key = metadataKey(metadata);
        if (metadata.useCase === "" || metadata.skills.length === 0 || seen.has(key)) continue;
        seen.add(key);
        entries.push({ id: "", origin: "user", seedIds: [], ...metadata });
      }
      return { pool: numberPool(entries), poolStats: { user: entries.length, size: entries.length } };
    }

    const seedOrder = new Map((state.seeds ?? []).map((seed, index) => [seed.id, index]));
    const encoded: EncodedSeed[] = [...state.encoded].sort(
      (a, b) => (seedOrder.get(a.seedId) ?? 0) - (seedOrder.get(b.seedId) ?? 0),
    );
    const rng = createRng(config.seed, "pool");
    const base = seedEntries(encoded, config.skillsMax);
    const start = !config.keepSeedMetadata
      ? []
      : base.length > config.poolSize
        ? sampleWithoutReplacement(rng, base, config.poolSize)
        : base;
    const taken = new Set([...base.map(metadataKey)]);
    const pool = [...start];
    const dropped: DroppedRecord[] = [];
    const source = mixSource(encoded, config.skillsMax);
    let augmented = 0;
    let implausible = 0;

    for (let round = 0; round < MAX_MIX_ROUNDS && pool.length < config.poolSize; round++) {
      const candidates = mixAndMatch(source, { count: config.poolSize - pool.length, skillsMax: config.skillsMax, rng, taken });
      if (candidates.length === 0) break;
      for (const candidate of candidates) taken.add(metadataKey(candidate));
      if (!config.plausibilityCheck) {
        pool.push(...candidates);
        augmented += candidates.length;
        continue;
      }
      const batches: PoolEntry[][] = [];
      for (let i = 0; i < candidates.length; i += config.plausibilityBatchSize) {
        batches.push(candidates.slice(i, i + config.plausibilityBatchSize));
      }
      const results = await Promise.all(
        batches.map(async (batch) => {
          try {
            return await checkBatch(ctx, batch);
          } catch (error) {
            if (!(error instanceof ModelCallError)) throw error;
            return batch.map((entry): Verdict => ({ entry, plausible: false, reason: "", failure: error.message }));
          }
        }),
      );
      for (const verdict of results.flat()) {
        const { entry } = verdict;
        if (verdict.plausible) {
          pool.push(entry);
          augmented++;
          continue;
        }
        const { failure } = verdict;
        if (!failure) implausible++;
        dropped.push({
          id: `candidate-${metadataKey(entry)}`,
          kind: "metadata",
          reason: failure ? "failure" : "implausible",
          ...(failure ? { step: "pool-check" as const, error: failure } : { error: verdict.reason }),
          metadata: { useCase: entry.useCase, skills: entry.skills },
          runId,
        });
      }
    }

    return {
      pool: numberPool(pool.slice(0, config.poolSize)),
      poolStats: {
        seedsEncoded: encoded.length,
        seedMetadata: start.length,
        augmented,
        implausible,
        requested: config.poolSize,
        size: Math.min(pool.length, config.poolSize),
      },
      dropped,
      tally: tallyOf(dropped),
      usage: ctx.meter.totals,
    };
  };
}

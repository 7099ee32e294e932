import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { type GraphDeps, callContext } from "./runtime.js";
import { type CodecState, type CodecUpdate } from "./state.js";
import { tallyOf } from "../lib/tasks.js";
import {
  type EncodedSeed,
  metadataKey,
  mixAndMatch,
  mixSource,
  normalizeMetadata,
  numberPool,
  type PoolVerdict,
  repairVerdicts,
  seedEntries,
  skillCounts,
  verdictsByLine,
} from "../lib/pool.js";
import type { DroppedRecord, PoolEntry } from "../lib/records.js";
import { createRng, sampleWithoutReplacement } from "../lib/rng.js";
import { type CallContext, ModelCallError, callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";

/** One schema object per batch size, so the factory's structured-model cache (keyed on the schema) holds. */
const schemaByLines = new Map<number, z.ZodType<{ verdicts: PoolVerdict[] }>>();

/**
 * The plausibility reply for a batch of `lines` candidates: verdicts whose `index` is the candidate's
 * integer line number, 1 to `lines`, as the prompt numbers them, at most `lines` of them. That is the JSON
 * schema sent to the model (`type: integer`, `minimum: 1`, `maximum`, `maxItems`: accepted by OpenAI's
 * strict mode and by Gemini, which rejects unions, literals, nullables and exclusive bounds, and kept
 * inline: no `$ref`). Validation also lets a 0 through, only so that a reply numbered from 0 can be
 * repaired (lib/pool.ts `repairVerdicts`); after the repair every index is in 1..lines. A reply may leave
 * lines out: those are asked again in a later batch (see `checkCandidates`).
 */
export function poolCheckSchema(lines: number): z.ZodType<{ verdicts: PoolVerdict[] }> {
  let schema = schemaByLines.get(lines);
  if (!schema) {
    schema = z.object({
      verdicts: z
        .array(
          z.object({
            index: z
              .number()
              .int()
              .min(0)
              .max(lines)
              .meta({ minimum: 1 })
              .describe("The candidate's line number, 1 to the batch's last line"),
            plausible: z.boolean(),
            reason: z.string(),
          }),
        )
        .min(1)
        .max(lines),
    });
    schemaByLines.set(lines, schema);
  }
  return schema;
}
/** How many rounds of fresh candidates to try when the plausibility check rejects some. */
const MAX_MIX_ROUNDS = 5;
/** Times a candidate left out of a reply is asked about again, in a smaller batch, before it counts as failed. */
const MAX_REASKS = 2;

interface Verdict {
  entry: PoolEntry;
  plausible: boolean;
  reason: string;
  /** Set when the check itself failed: the candidate is neither accepted nor judged implausible. */
  failure?: string;
  /** The failure was malformed or incomplete output (not a failed call). */
  malformed?: boolean;
}

/** One plausibility call: verdicts for the lines the reply covered, and the candidates it left out. */
async function checkBatch(ctx: CallContext, batch: PoolEntry[]): Promise<{ verdicts: Verdict[]; missing: PoolEntry[] }> {
  const candidates = batch
    .map((entry, index) => `${index + 1}. use case: ${entry.useCase}; skills: ${entry.skills.join(", ")}`)
    .join("\n");
  const output = await callStructured(ctx, {
    role: "strong",
    step: "pool-check",
    temperature: ctx.config.temperatures.poolCheck,
    messages: [["human", renderPrompt("poolCheck", ctx.config.prompts, { candidates })]],
    schema: poolCheckSchema(batch.length),
    schemaName: "plausibility_verdicts",
    check: (value) => {
      const repaired = repairVerdicts(value.verdicts, batch.length);
      return "problem" in repaired ? repaired.problem : undefined;
    },
  });
  // `check` refused every reply with a problem, so this one repairs cleanly.
  const repaired = repairVerdicts(output.verdicts, batch.length);
  const { byLine, missing } = verdictsByLine("verdicts" in repaired ? repaired.verdicts : [], batch.length);
  const verdicts: Verdict[] = [];
  for (const [line, verdict] of byLine) verdicts.push({ entry: batch[line - 1]!, plausible: verdict.plausible, reason: verdict.reason });
  return { verdicts, missing: missing.map((line) => batch[line - 1]!) };
}

const batchesOf = <T>(items: readonly T[], size: number): T[][] => {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
};

/**
 * A verdict for every candidate: batches of `plausibilityBatchSize`; lines a reply left out are asked
 * again (up to MAX_REASKS times) in batches of their own; a call that fails after its retries, or a line
 * still without a verdict, is a failure of the check for that candidate, never a verdict.
 */
async function checkCandidates(ctx: CallContext, candidates: PoolEntry[]): Promise<Verdict[]> {
  const out: Verdict[] = [];
  let pending = candidates;
  for (let ask = 0; ask <= MAX_REASKS && pending.length > 0; ask++) {
    const results = await Promise.all(
      batchesOf(pending, ctx.config.plausibilityBatchSize).map(async (batch) => {
        try {
          return await checkBatch(ctx, batch);
        } catch (error) {
          if (!(error instanceof ModelCallError)) throw error;
          const malformed = error.message.includes("malformed output");
          return { verdicts: batch.map((entry): Verdict => ({ entry, plausible: false, reason: "", failure: error.message, malformed })), missing: [] };
        }
      }),
    );
    out.push(...results.flatMap((result) => result.verdicts));
    pending = results.flatMap((result) => result.missing);
  }
  const failure = `pool-check (strong model): no verdict for this candidate in ${MAX_REASKS + 1} replies`;
  out.push(...pending.map((entry): Verdict => ({ entry, plausible: false, reason: "", failure, malformed: true })));
  // In candidate order, whatever order the replies came in: the pool's order (and ids) stays reproducible.
  const rank = new Map(candidates.map((entry, index) => [entry, index]));
  return out.sort((a, b) => rank.get(a.entry)! - rank.get(b.entry)!);
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
      return { pool: numberPool(entries), poolStats: { user: entries.length, size: entries.length, ...skillCounts(entries) } };
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
    let checked = 0;
    let checkFailed = 0;
    let checkMalformed = 0;

    for (let round = 0; round < MAX_MIX_ROUNDS && pool.length < config.poolSize; round++) {
      const candidates = mixAndMatch(source, { count: config.poolSize - pool.length, skillsMax: config.skillsMax, rng, taken });
      if (candidates.length === 0) break;
      for (const candidate of candidates) taken.add(metadataKey(candidate));
      if (!config.plausibilityCheck) {
        pool.push(...candidates);
        augmented += candidates.length;
        continue;
      }
      const verdicts = await checkCandidates(ctx, candidates);
      checked += candidates.length;
      let judged = 0;
      for (const verdict of verdicts) {
        const { entry } = verdict;
        if (!verdict.failure) judged++;
        if (verdict.plausible) {
          pool.push(entry);
          augmented++;
          continue;
        }
        const { failure } = verdict;
        if (!failure) implausible++;
        else {
          checkFailed++;
          if (verdict.malformed) checkMalformed++;
        }
        dropped.push({
          id: `candidate-${metadataKey(entry)}`,
          kind: "metadata",
          reason: failure ? "failure" : "implausible",
          ...(failure ? { step: "pool-check" as const, error: failure } : { error: verdict.reason }),
          metadata: { useCase: entry.useCase, skills: entry.skills },
          runId,
        });
      }
      // Not one verdict in a whole round: the check is broken (malformed replies, a failing endpoint), and
      // fresh candidates would fail the same way. Stop spending; the summary says mix-and-match was off.
      if (judged === 0) break;
    }

    const final = pool.slice(0, config.poolSize);
    return {
      pool: numberPool(final),
      poolStats: {
        seedsEncoded: encoded.length,
        seedMetadata: start.length,
        augmented,
        implausible,
        checked,
        checkFailed,
        checkMalformed,
        requested: config.poolSize,
        size: final.length,
        ...skillCounts(final),
      },
      dropped,
      tally: tallyOf(dropped),
      usage: ctx.meter.totals,
    };
  };
}

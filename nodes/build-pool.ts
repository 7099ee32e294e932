import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext } from "./runtime.js";
import { attempt } from "./attempt.js";
import type { CodecConfig } from "../lib/config.js";
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
  candidatesToCheck,
  repairVerdicts,
  seedEntries,
  skillCounts,
  verdictsByLine,
} from "../lib/pool.js";
import type { DroppedRecord, PoolEntry } from "../lib/records.js";
import { type Rng, createRng, sampleWithoutReplacement } from "../lib/rng.js";
import { type CallContext, callStructured } from "../models/call.js";
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
async function checkBatch(
  ctx: CallContext,
  batch: PoolEntry[],
): Promise<{ verdicts: Verdict[]; missing: PoolEntry[] }> {
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
  for (const [line, verdict] of byLine)
    verdicts.push({ entry: batch[line - 1]!, plausible: verdict.plausible, reason: verdict.reason });
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
        const result = await attempt(() => checkBatch(ctx, batch));
        if (result.ok) return result.value;
        const failure = result.error.message;
        const malformed = failure.includes("malformed output");
        return {
          verdicts: batch.map((entry): Verdict => ({ entry, plausible: false, reason: "", failure, malformed })),
          missing: [],
        };
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

/** User-written metadata is the pool as written: the user chose exactly the distribution they want. */
function userPool(metadata: NonNullable<CodecState["metadata"]>, skillsMax: number): CodecUpdate {
  const seen = new Set<string>();
  const entries: PoolEntry[] = [];
  for (const item of metadata) {
    const normalized = normalizeMetadata(item, skillsMax);
    const key = metadataKey(normalized);
    if (normalized.useCase === "" || normalized.skills.length === 0 || seen.has(key)) continue;
    seen.add(key);
    entries.push({ id: "", origin: "user", seedIds: [], ...normalized });
  }
  return {
    pool: numberPool(entries),
    poolStats: { user: entries.length, size: entries.length, ...skillCounts(entries) },
  };
}

/** What the mix-and-match rounds count, for the pool's stats. */
interface MixCounts {
  augmented: number;
  implausible: number;
  checked: number;
  checkFailed: number;
  checkMalformed: number;
}

/** The pool so far, the candidates already taken, and what the rounds dropped and counted. */
interface MixState {
  pool: PoolEntry[];
  taken: Set<string>;
  dropped: DroppedRecord[];
  counts: MixCounts;
}

/** Adds a round's verdicts to the pool (plausible) or the drops (implausible, check failed); returns how many were judged. */
function applyVerdicts(mix: MixState, verdicts: Verdict[], runId: string): number {
  let judged = 0;
  for (const verdict of verdicts) {
    const { entry, failure } = verdict;
    if (!failure) judged++;
    if (verdict.plausible) {
      mix.pool.push(entry);
      mix.counts.augmented++;
      continue;
    }
    if (!failure) mix.counts.implausible++;
    else {
      mix.counts.checkFailed++;
      if (verdict.malformed) mix.counts.checkMalformed++;
    }
    mix.dropped.push({
      id: `candidate-${metadataKey(entry)}`,
      kind: "metadata",
      reason: failure ? "failure" : "implausible",
      ...(failure ? { step: "pool-check" as const, error: failure } : { error: verdict.reason }),
      metadata: { useCase: entry.useCase, skills: entry.skills },
      runId,
    });
  }
  return judged;
}

/** Rounds of fresh mix-and-match candidates, each checked for plausibility (when on), until the pool is full. */
async function mixRounds(
  ctx: CallContext,
  mix: MixState,
  source: ReturnType<typeof mixSource>,
  rng: Rng,
  runId: string,
): Promise<void> {
  const { config } = ctx;
  for (let round = 0; round < MAX_MIX_ROUNDS && mix.pool.length < config.poolSize; round++) {
    const needed = config.poolSize - mix.pool.length;
    const candidates = mixAndMatch(source, {
      count: config.plausibilityCheck
        ? candidatesToCheck(needed, config.plausibilityBatchSize, config.plausibilitySpare)
        : needed,
      skillsMax: config.skillsMax,
      rng,
      taken: mix.taken,
    });
    if (candidates.length === 0) break;
    for (const candidate of candidates) mix.taken.add(metadataKey(candidate));
    if (!config.plausibilityCheck) {
      mix.pool.push(...candidates);
      mix.counts.augmented += candidates.length;
      continue;
    }
    const verdicts = await checkCandidates(ctx, candidates);
    mix.counts.checked += candidates.length;
    // Not one verdict in a whole round: the check is broken (malformed replies, a failing endpoint), and
    // fresh candidates would fail the same way. Stop spending; the summary says mix-and-match was off.
    if (applyVerdicts(mix, verdicts, runId) === 0) break;
  }
}

/** The seeds' own metadata in seed order, and the part of it the pool starts from. */
function seedMetadata(state: CodecState, config: CodecConfig, rng: Rng) {
  const seedOrder = new Map((state.seeds ?? []).map((seed, index) => [seed.id, index]));
  const encoded: EncodedSeed[] = [...state.encoded].sort(
    (a, b) => (seedOrder.get(a.seedId) ?? 0) - (seedOrder.get(b.seedId) ?? 0),
  );
  const base = seedEntries(encoded, config.skillsMax);
  const start = !config.keepSeedMetadata
    ? []
    : base.length > config.poolSize
      ? sampleWithoutReplacement(rng, base, config.poolSize)
      : base;
  return { encoded, base, start };
}

/** App. A.3: the metadata pool, by mix-and-match of the seeds' use cases and skills to `poolSize`. */
export async function buildPool(state: CodecState, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const ctx = callContext(runtime);
  const { config } = ctx;
  if (state.metadata && state.metadata.length > 0) return userPool(state.metadata, config.skillsMax);
  const runId = state.runId ?? "";
  const rng = createRng(config.seed, "pool");
  const { encoded, base, start } = seedMetadata(state, config, rng);
  const counts: MixCounts = { augmented: 0, implausible: 0, checked: 0, checkFailed: 0, checkMalformed: 0 };
  const mix: MixState = { pool: [...start], taken: new Set(base.map(metadataKey)), dropped: [], counts };
  await mixRounds(ctx, mix, mixSource(encoded, config.skillsMax), rng, runId);
  // In candidate order: plausible spares past the pool's size are left out.
  const final = mix.pool.slice(0, config.poolSize);
  counts.augmented = final.length - start.length;
  return {
    pool: numberPool(final),
    poolStats: {
      seedsEncoded: encoded.length,
      seedMetadata: start.length,
      ...counts,
      requested: config.poolSize,
      size: final.length,
      ...skillCounts(final),
    },
    dropped: mix.dropped,
    tally: tallyOf(mix.dropped),
    usage: ctx.meter.totals,
  };
}

/**
 * `--dry-run`: calls, tokens and cost a run will probably need, from the seeds and the settings alone,
 * before anything is spent. Contrastive Filtering keeps an unknown share of instructions, so the
 * estimate assumes a keep rate per filtering pass and gives a range for a lower and a higher one.
 */
import { type CodecConfig, judgeSettings } from "./config.js";
import { firstRoundPerMetadata } from "./plan.js";
import { type BudgetStop, budgetBlock, emptySpend } from "./budget.js";
import { DEFAULT_PROMPTS, type PromptName } from "../prompts/index.js";
import { costUsd, priceFor } from "./prices.js";
import type { Metadata, ModelRole, Seed } from "./records.js";

export interface EstimateInput {
  /** Seed instructions and their mean length in characters; absent with user-written metadata. */
  seeds?: { count: number; meanChars: number };
  /** User-written metadata entries (instead of seeds). */
  metadata?: number;
}

export interface EstimateAssumptions {
  /** Share of instructions a filtering pass keeps (the gap exceeds theta). */
  keepPerPass: number;
  /** Typical answer length in tokens (capped by maxTokens). */
  answerTokens: number;
  /** Typical instruction length in tokens. */
  instructionTokens: number;
}

export const DEFAULT_ASSUMPTIONS: EstimateAssumptions = { keepPerPass: 0.5, answerTokens: 400, instructionTokens: 60 };

export interface StepEstimate {
  step: string;
  role: ModelRole;
  model: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Undefined when the model has no price. */
  costUsd?: number;
}

export interface Estimate {
  steps: StepEstimate[];
  total: { calls: number; inputTokens: number; outputTokens: number; costUsd: number; unpriced: string[] };
  /** Instructions expected to go through filtering. */
  instructions: number;
  assumptions: EstimateAssumptions;
  /** The same estimate for a pessimistic and an optimistic keep rate. */
  range: { keepPerPass: number; calls: number; costUsd: number }[];
  /** A budget the central estimate would hit, if any. */
  budgetStop?: BudgetStop;
}

const tokensOf = (chars: number) => Math.ceil(chars / 4);

function templateTokens(config: CodecConfig, name: PromptName): number {
  const override = config.prompts[name];
  return tokensOf((override && override.trim() !== "" ? override : DEFAULT_PROMPTS[name].template).length);
}

/** Expected filtering passes per instruction and the chance it is kept, with `q` kept per pass and `k` passes at most. */
export function filteringExpectation(q: number, k: number): { passes: number; keptShare: number } {
  let passes = 0;
  for (let i = 0; i < k; i++) passes += (1 - q) ** i;
  return { passes, keptShare: 1 - (1 - q) ** k };
}

export function estimateRun(
  input: EstimateInput,
  config: CodecConfig,
  assumptions: EstimateAssumptions = DEFAULT_ASSUMPTIONS,
): Estimate {
  const central = estimateWith(input, config, assumptions);
  const range = [Math.max(0.05, assumptions.keepPerPass - 0.2), Math.min(0.95, assumptions.keepPerPass + 0.2)].map(
    (keepPerPass) => {
      const other = estimateWith(input, config, { ...assumptions, keepPerPass });
      return { keepPerPass, calls: other.total.calls, costUsd: other.total.costUsd };
    },
  );
  const { total } = central;
  const budgetStop = budgetBlock(config.budget, emptySpend(), emptySpend(), {
    calls: total.calls,
    inputTokens: total.inputTokens,
    outputTokens: total.outputTokens,
    costUsd: total.costUsd,
  });
  return { ...central, range, ...(budgetStop ? { budgetStop } : {}) };
}

function estimateWith(
  input: EstimateInput,
  config: CodecConfig,
  a: EstimateAssumptions,
): Omit<Estimate, "range" | "budgetStop"> {
  const models: Record<ModelRole, string> = {
    strong: config.strong.model,
    target: config.target.model,
    judge: judgeSettings(config).model,
  };
  const steps: StepEstimate[] = [];
  const add = (step: string, role: ModelRole, calls: number, inputTokens: number, outputTokens: number) => {
    if (calls <= 0) return;
    const model = models[role];
    const cost = costUsd(priceFor(model, config.prices), calls * inputTokens, calls * outputTokens);
    steps.push({
      step,
      role,
      model,
      calls: Math.ceil(calls),
      inputTokens: Math.ceil(calls * inputTokens),
      outputTokens: Math.ceil(calls * outputTokens),
      ...(cost !== undefined ? { costUsd: cost } : {}),
    });
  };
  const answer = Math.min(config.maxTokens, a.answerTokens);
  const instruction = a.instructionTokens;
  const pool = input.metadata ?? config.poolSize;

  if (input.seeds) {
    const seeds = input.seeds.count;
    add("encode", "strong", seeds, templateTokens(config, "encode") + tokensOf(input.seeds.meanChars), 40);
    const seedMetadata = config.keepSeedMetadata ? Math.min(seeds, config.poolSize) : 0;
    const augmented = Math.max(0, config.poolSize - seedMetadata);
    if (config.plausibilityCheck && augmented > 0) {
      // About one candidate in ten is rejected and replaced, in another round of checks.
      const batches = Math.ceil((augmented * 1.1) / config.plausibilityBatchSize);
      add(
        "pool-check",
        "strong",
        batches,
        templateTokens(config, "poolCheck") + config.plausibilityBatchSize * 20,
        config.plausibilityBatchSize * 25,
      );
    }
  }
  const { passes, keptShare } = filteringExpectation(a.keepPerPass, config.maxIterations);
  const instructions = Math.ceil(config.size / Math.max(keptShare, 1e-6));
  // Rubrics are written when an instruction of the metadata first needs improving, once per metadata: a
  // metadata whose filtered instructions were all kept at their first pass never pays for them.
  const improvable = config.maxIterations > 1 ? 1 - a.keepPerPass ** (instructions / Math.max(1, pool)) : 0;
  add(
    "rubric-generate",
    "strong",
    pool * improvable,
    templateTokens(config, "rubricGenerate") + 20,
    config.rubricCount * 2 * 30,
  );
  const perMetadata = firstRoundPerMetadata(config.size, pool, config.instructionsPerMetadata, config.expectedKeepRate);
  const firstRound = perMetadata * pool;
  const decodeRounds = 1 + (instructions > firstRound ? Math.min(config.topUpRounds, 1) : 0);
  const perCall = Math.ceil(instructions / Math.max(1, pool * decodeRounds));
  add("decode", "strong", pool * decodeRounds, templateTokens(config, "decode") + 20, perCall * instruction);

  // Each later pass works on an instruction one action longer.
  const meanInstruction = instruction * (1 + (passes - 1) * 0.5);
  add("answer-strong", "strong", instructions * passes, templateTokens(config, "answer") + meanInstruction, answer);
  add("answer-target", "target", instructions * passes, templateTokens(config, "answer") + meanInstruction, answer);
  add("judge", "judge", instructions * passes * 2, templateTokens(config, "judge") + meanInstruction + 2 * answer, 20);
  add(
    "action-apply",
    "strong",
    instructions * (passes - 1),
    templateTokens(config, "actionApply") + meanInstruction + 20,
    instruction * 1.5,
  );

  const unpriced = [...new Set(steps.filter((step) => step.costUsd === undefined).map((step) => step.model))];
  const total = steps.reduce(
    (sum, step) => ({
      calls: sum.calls + step.calls,
      inputTokens: sum.inputTokens + step.inputTokens,
      outputTokens: sum.outputTokens + step.outputTokens,
      costUsd: sum.costUsd + (step.costUsd ?? 0),
      unpriced,
    }),
    { calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpriced },
  );
  return { steps, total, instructions, assumptions: a };
}

/** The estimate of a run over these seeds (or user-written metadata) with these settings. */
export function estimateFor(input: { seeds: Seed[] } | { metadata: Metadata[] }, config: CodecConfig): Estimate {
  return estimateRun(
    "seeds" in input
      ? {
          seeds: {
            count: input.seeds.length,
            meanChars:
              input.seeds.reduce((sum, seed) => sum + seed.instruction.length, 0) / Math.max(1, input.seeds.length),
          },
        }
      : { metadata: input.metadata.length },
    config,
  );
}

import type { LangGraphRunnableConfig } from "@langchain/langgraph";
import { z } from "zod";
import { callContext, runOf } from "./runtime.js";
import { writeRubricsAhead } from "./rubric-generate.js";
import { writesRubricsAhead } from "../lib/plan.js";
import { type CodecUpdate } from "./state.js";
import { attempt, droppedUpdate } from "./attempt.js";
import type { InstructionTask } from "../lib/tasks.js";
import type { PoolEntry } from "../lib/records.js";
import { callStructured } from "../models/call.js";
import { renderPrompt } from "../prompts/index.js";
import { DECODE_AVOID_PREFIX } from "../prompts/decode.js";

export const DecodeOutputSchema = z.object({
  instructions: z.array(z.string()).describe("The new instructions, none answered"),
});

/** What the graph sends to decode for one metadata in one round. */
export interface DecodeRequest {
  entry: PoolEntry;
  count: number;
  round: number;
  /** The metadata's place in the seeded dispatch order. */
  rank: number;
  /** Instructions decoded for this metadata in earlier rounds. */
  avoid: string[];
  runId?: string;
}

/** Dispatch order: round first, then the k-th instruction of every metadata, metadata in seeded order. */
export const dispatchOrder = (round: number, index: number, rank: number) => round * 1e9 + index * 1e5 + rank;

/** Strip list numbering a model may add, and drop empty or repeated instructions. */
export function cleanInstructions(items: readonly string[], avoid: readonly string[] = []): string[] {
  const seen = new Set(avoid.map((item) => item.trim().toLowerCase()));
  const out: string[] = [];
  for (const raw of items) {
    const text = raw.replace(/^\s*(?:\d+[.)]|[-*•])\s+/, "").trim();
    const key = text.toLowerCase();
    if (text === "" || seen.has(key)) continue;
    seen.add(key);
    out.push(text);
  }
  return out;
}

/** The structured-output check for an instruction list: at least `count` distinct instructions not in `avoid`. */
export const enoughInstructions =
  (count: number, avoid: readonly string[]) =>
  (value: { instructions: string[] }): string | undefined => {
    const usable = cleanInstructions(value.instructions, avoid).length;
    return usable < count ? `expected ${count} distinct new instructions, got ${usable}` : undefined;
  };

/** The decoded instructions as tasks of the metadata, in the seeded dispatch order. */
function decodedTasks(request: DecodeRequest, instructions: string[]): InstructionTask[] {
  const { entry, count, round, rank, avoid } = request;
  return cleanInstructions(instructions, avoid)
    .slice(0, count)
    .map((basicInstruction, index) => ({
      id: `${entry.id}-r${round}-${index}`,
      order: dispatchOrder(round, index, rank),
      round,
      metadataId: entry.id,
      metadataOrigin: entry.origin,
      seedIds: entry.seedIds,
      metadata: { useCase: entry.useCase, skills: entry.skills },
      basicInstruction,
      actions: [],
    }));
}

/** §4.1 Decode: the strong model writes `count` basic instructions that need the metadata's skills. */
export async function decode(request: DecodeRequest, runtime: LangGraphRunnableConfig): Promise<CodecUpdate> {
  const { entry, count, round, avoid } = request;
  const ctx = callContext(runtime, { metadataId: entry.id, round });
  const { config } = ctx;
  const avoidText = avoid.length > 0 ? DECODE_AVOID_PREFIX + avoid.map((item) => `- ${item}`).join("\n") : "";
  const values = { useCase: entry.useCase, skills: entry.skills.join(", "), count, avoid: avoidText };
  const result = await attempt(() =>
    callStructured(ctx, {
      role: "strong",
      step: "decode",
      temperature: config.temperatures.decode,
      messages: [["human", renderPrompt("decode", config.prompts, values)]],
      schema: DecodeOutputSchema,
      schemaName: "instructions",
      check: enoughInstructions(count, avoid),
    }),
  );
  if (!result.ok) {
    const metadata = { useCase: entry.useCase, skills: entry.skills };
    const record = {
      id: `${entry.id}-r${round}`,
      kind: "metadata",
      reason: "failure",
      step: "decode",
      error: result.error.message,
      metadata,
      runId: request.runId ?? "",
    } as const;
    return droppedUpdate(ctx, record, { round, requested: count });
  }
  const decoded = decodedTasks(request, result.value.instructions);
  if (runOf(runtime).filtersHere && writesRubricsAhead(config, round, decoded.length))
    writeRubricsAhead(runtime, entry.id, { useCase: entry.useCase, skills: entry.skills });
  return {
    decoded,
    decodedCount: decoded.length,
    requested: count,
    recent: { [entry.id]: decoded.map((task) => task.basicInstruction) },
    round,
    usage: ctx.meter.totals,
  };
}

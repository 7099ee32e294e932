/** Real run and evaluation outputs for report tests, made in-process with scripted models (no network). */
import { setMaxListeners } from "node:events";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { resolveEvalConfig } from "../../eval/config.js";
import { evalPathsFor, runEvalToFiles } from "../../eval/output.js";
import { outputPathsFor } from "../../runner/output.js";
import { runToFiles } from "../../runner/run.js";
import type { Ablation } from "../../lib/ablation.js";
import type { Seed } from "../../lib/records.js";
import { evalResponder } from "../support/eval-responder.js";
import { ScriptedChatModel, scriptedModels } from "../support/scripted-model.js";

setMaxListeners(0);

export const HOSTILE = `<script>alert("x")</script> & <img src=x onerror=alert(1)>`;

export const SEEDS: Seed[] = [
  { id: "a", instruction: "Write a limerick about a cat who learns to code." },
  { id: "b", instruction: "How do I compute a moving average over a pandas DataFrame column?" },
  { id: "c", instruction: "Explain compound interest to a teenager." },
  { id: "d", instruction: "Summarise the causes of the French Revolution in five bullet points." },
  { id: "e", instruction: `Explain why this is unsafe HTML: ${HOSTILE}` },
];

/** A generate run's three files in `dir`; returns the kept file's path. */
export async function makeRun(dir: string, name = "run", ablation: Ablation = "full", size = 24): Promise<string> {
  await mkdir(dir, { recursive: true });
  const paths = outputPathsFor(join(dir, `${name}.jsonl`));
  await runToFiles({
    input: { seeds: SEEDS },
    config: {
      size,
      poolSize: 10,
      seed: 5,
      concurrency: 4,
      ablation,
      strong: { model: "openai:strong" },
      target: { model: "openai:target" },
    },
    paths,
    graph: { models: scriptedModels() },
  });
  return paths.kept;
}

export const BENCHMARK: Seed[] = [
  ...["win", "loss", "split", "equal", "win", "loss", "win"].map((scenario, i) => ({
    id: String(i + 1),
    category: i < 4 ? "writing" : "coding",
    instruction: `[${scenario}] Question ${i + 1}`,
  })),
  { id: "8", category: HOSTILE, instruction: `[malformed] ${HOSTILE}` },
];

/** An evaluation's files in `dir`; returns eval.jsonl's path. */
export async function makeEval(dir: string): Promise<string> {
  const respond = evalResponder({ modelName: "m", referenceName: "r", judgeName: "j" });
  const as = (name: string) =>
    new ScriptedChatModel((prompt) => respond({ model: name, messages: [{ role: "user", content: prompt }] }));
  const paths = evalPathsFor(dir);
  await runEvalToFiles({
    benchmark: BENCHMARK,
    benchmarkLabel: "bench.jsonl",
    config: resolveEvalConfig({
      model: { model: "openai:m" },
      reference: { model: "openai:r" },
      judge: { model: "openai:j" },
      judgeRetries: 1,
    }),
    models: { model: as("m"), reference: as("r"), judge: as("j") },
    paths,
  });
  return paths.items;
}

/** One benchmark run in its own process: reports its peak RSS to the parent (bench/scale.ts rssRun). */
import { setUpLikeTheCli } from "./like-cli.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outputPathsFor } from "../runner/output.js";
import { runToFiles } from "../runner/run.js";
import { BENCH_KEY, type RunShape, accountCalls, benchSeeds, runConfig } from "./scale.js";

await setUpLikeTheCli();

const { url, shape } = JSON.parse(process.argv[2] ?? "{}") as { url: string; shape: RunShape };
const dir = await mkdtemp(join(tmpdir(), "codeclm-rss-"));
const paths = outputPathsFor(join(dir, "out.jsonl"));
const started = performance.now();
const summary = await runToFiles({
  input: { seeds: benchSeeds(shape.seeds) },
  config: runConfig(shape),
  paths,
  graph: { env: { OPENAI_BASE_URL: url, OPENAI_API_KEY: BENCH_KEY } },
  checkpoint: shape.checkpoint === "none" ? { kind: "none" } : { kind: "sqlite", path: paths.checkpoint },
});
const wallMs = performance.now() - started;
const account = await accountCalls(summary, paths.kept, paths.dropped);
await rm(dir, { recursive: true, force: true });
process.send?.({
  size: shape.size,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  wallMs,
  calls: summary.spend?.calls ?? summary.calls.total.calls,
  kept: summary.kept,
  account,
});
process.disconnect?.();

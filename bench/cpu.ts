/**
 * CPU per model call: the process's CPU time (user + system, process.cpuUsage) over a whole pipeline run at
 * zero latency against the benchmark endpoint (in its own process, so its CPU is not counted), divided by the
 * calls answered; beside the same number of bare ChatOpenAI calls at the same concurrency (the client's share).
 */
import type { Endpoint } from "./endpoint.js";
import { type RunShape, bareClientRun, scaleRun } from "./scale.js";

export interface CpuResult {
  shape: RunShape;
  calls: number;
  wallMs: number;
  cpuMsPerCall: number;
  bareCpuMsPerCall: number;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

export async function cpuPerCall(endpoint: Endpoint, shape: RunShape): Promise<CpuResult> {
  // Warm-up: module loading, JIT, connections.
  await scaleRun(endpoint, { ...shape, size: 40, pool: 20, seeds: 10 });
  await bareClientRun(endpoint, 500, shape.concurrency);
  let started = process.cpuUsage();
  const run = await scaleRun(endpoint, shape);
  const cpuMsPerCall = cpuMs(started) / run.calls;
  started = process.cpuUsage();
  await bareClientRun(endpoint, run.calls, shape.concurrency);
  return { shape, calls: run.calls, wallMs: run.wallMs, cpuMsPerCall, bareCpuMsPerCall: cpuMs(started) / run.calls };
}

export const formatCpuRow = (result: CpuResult) =>
  `N=${result.shape.size}, concurrency ${result.shape.concurrency}, checkpoint ${result.shape.checkpoint}: ${result.calls} calls, ` +
  `${result.cpuMsPerCall.toFixed(2)} CPU ms/call (bare ChatOpenAI calls ${result.bareCpuMsPerCall.toFixed(2)} CPU ms/call)`;

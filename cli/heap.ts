/**
 * How far the V8 heap may grow past what the last full collection kept alive. V8's own factor adapts up to
 * 4×: over a long run at a high call rate the heap swells to several times its live data, and peak RSS grows
 * with the run's length rather than with what it holds (477 MB at 500 pairs, 733 MB at 5,000, with a live
 * heap under 100 MB in both). A fixed factor of 2 gave 352 and 474 MB, with CPU per call within the noise
 * (README, "Memory"). The CLI sets it; the library leaves the embedding process's heap alone.
 */
export const HEAP_GROWTH_VARIABLE = "CODECLM_HEAP_GROWTH";
export const DEFAULT_HEAP_GROWTH_PERCENT = 100;

/**
 * The young generation's semi-space, in MB (V8's default is 16). Most of what a run allocates dies within a
 * call (promises, configs, request and response objects); a bigger young generation collects it less often,
 * for about 11% less CPU per call at concurrency 128 and 18% shorter zero-latency runs, at about 85–150 MB
 * more peak RSS (README, "Memory"). V8 sizes the young generation only at start-up, so this is a
 * command-line flag: the package's npm scripts pass it (test/unit/heap.test.ts holds them to this value).
 * The installed bin cannot: a shebang carries one argument, and `env -S` is missing from BusyBox (Alpine)
 * and the BSDs, so its users set NODE_OPTIONS (README). The library leaves the process as it was started.
 */
export const YOUNG_GENERATION_FLAG = "--max-semi-space-size=64";

/** Whether this process was started with a semi-space size of its own (on its command line or in NODE_OPTIONS). */
export function youngGenerationSet(
  execArgv: readonly string[] = process.execArgv,
  env: Record<string, string | undefined> = process.env,
): boolean {
  const options = (env.NODE_OPTIONS ?? "").split(/\s+/);
  return [...execArgv, ...options].some((arg) => arg.startsWith("--max-semi-space-size"));
}

/** A bad CODECLM_HEAP_GROWTH: a usage error (exit 2). */
export class HeapGrowthError extends Error {}

/** The percent the heap may grow past its live size (0: V8's adaptive default), from the environment. */
export function heapGrowthPercent(env: Record<string, string | undefined>): number {
  const raw = env[HEAP_GROWTH_VARIABLE]?.trim();
  if (raw === undefined || raw === "") return DEFAULT_HEAP_GROWTH_PERCENT;
  if (!/^\d+$/.test(raw) || Number(raw) > 1000)
    throw new HeapGrowthError(
      `${HEAP_GROWTH_VARIABLE}=${JSON.stringify(raw)}: expected a whole percent from 0 to 1000 ` +
        `(how far the heap may grow past its live size; 0 leaves V8's own factor; default ${DEFAULT_HEAP_GROWTH_PERCENT})`,
    );
  return Number(raw);
}

/** Apply `heapGrowthPercent` to this process (V8 reads the flag each time it sizes the heap after a collection). */
export async function boundHeapGrowth(env: Record<string, string | undefined> = process.env): Promise<number> {
  const percent = heapGrowthPercent(env);
  if (percent > 0) (await import("node:v8")).setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}

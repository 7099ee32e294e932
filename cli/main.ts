#!/usr/bin/env node
import { setMaxListeners } from "node:events";
import { CommanderError } from "commander";
import { buildProgram, commanderExitCode, namedCommand } from "./program.js";

// LangGraph and the OpenAI SDK derive an abort signal per task and per call, each listening on its
// parent: with thousands of concurrent instructions the default cap of 10 only produces false alarms.
// Infinity, not 0: with 0 undici's fetch builds and discards an error per request (see runner/run.ts).
setMaxListeners(Number.POSITIVE_INFINITY);

try {
  if (namedCommand(process.argv.slice(2))) {
    // LangGraph validates every node update with freshly built partial zod schemas; compiling each one (zod's
    // JIT) costs more than interpreting it once. The CLI process parses nothing where the JIT would pay off.
    // (Loaded here, not at the top: the command list needs no zod.)
    (await import("zod")).z.config({ jitless: true });
    await (await import("./heap.js")).boundHeapGrowth();
  }
  await (await buildProgram()).parseAsync(process.argv);
} catch (error) {
  // The error classes' modules (and the settings schema) load only when there is an error to report.
  process.exitCode =
    error instanceof CommanderError ? commanderExitCode(error) : (await import("./errors.js")).reportError(error);
}

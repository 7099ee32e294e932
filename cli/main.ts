#!/usr/bin/env node
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { reportError } from "./errors.js";
import { registerAblate } from "./ablate.js";
import { registerEval } from "./eval.js";
import { registerExport } from "./export.js";
import { registerGenerate } from "./generate.js";
import { registerProtocol } from "./protocol.js";
import { registerRecover } from "./recover.js";
import { registerReport } from "./report.js";
import { registerSplit } from "./split.js";
import { registerWorker } from "./worker.js";

function version(): string {
  for (const path of ["../package.json", "../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      // try the next layout (source tree vs dist/)
    }
  }
  return "0.0.0";
}

export function buildProgram(): Command {
  const program = new Command()
    .name("codeclm")
    .description("CodecLM: tailored synthetic instruction data for aligning a target model")
    .version(version())
    // Usage errors: one short line and where to look, exit 2 (not the whole help, not exit 1).
    // Set before the commands are added: each inherits them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`codeclm: ${text.replace(/^error: /, "")}`) })
    .showHelpAfterError("(codeclm --help lists the commands)");
  registerGenerate(program);
  registerEval(program);
  registerAblate(program);
  registerReport(program);
  registerExport(program);
  registerSplit(program);
  registerProtocol(program);
  registerWorker(program);
  registerRecover(program);
  for (const command of program.commands) {
    command.showHelpAfterError(`(codeclm ${command.name()} --help lists its options and their defaults)`);
  }
  return program;
}

/** Exit code for a commander error: 0 after --help or --version, 2 for a usage error. */
export const commanderExitCode = (error: CommanderError): number => (error.exitCode === 0 ? 0 : 2);

// LangGraph and the OpenAI SDK derive an abort signal per task and per call, each listening on its
// parent: with thousands of concurrent instructions the default cap of 10 only produces false alarms.
setMaxListeners(0);
// LangGraph validates every node update with freshly built partial zod schemas; compiling each one (zod's
// JIT) costs more than interpreting it once. The CLI process parses nothing where the JIT would pay off.
z.config({ jitless: true });

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = error instanceof CommanderError ? commanderExitCode(error) : reportError(error);
}

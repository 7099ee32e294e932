#!/usr/bin/env node
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { z } from "zod";
import { reportError } from "./errors.js";

type Register = (program: Command) => void;

/**
 * The commands in the order `--help` lists them, each module loaded only when it is named (all of them only for
 * the command list or an unknown command). A command's module registers its options from light modules and
 * loads what its run needs (LangGraph, providers, checkpointers, plotting) in its action: one more command is
 * one more entry here.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  generate: async () => (await import("./generate.js")).registerGenerate,
  eval: async () => (await import("./eval.js")).registerEval,
  ablate: async () => (await import("./ablate.js")).registerAblate,
  report: async () => (await import("./report.js")).registerReport,
  export: async () => (await import("./export.js")).registerExport,
  split: async () => (await import("./split.js")).registerSplit,
  protocol: async () => (await import("./protocol.js")).registerProtocol,
};

/** The registrations `argv` (as in `process.argv.slice(2)`) needs: the named command's, else every one. */
export async function commandsFor(argv: readonly string[]): Promise<Register[]> {
  // The program itself has no option taking a value: the first word that is not an option names the command.
  const named = argv.find((arg) => !arg.startsWith("-"));
  const load = named !== undefined && Object.hasOwn(COMMANDS, named) ? [COMMANDS[named]!] : Object.values(COMMANDS);
  return Promise.all(load.map((entry) => entry()));
}

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

export async function buildProgram(argv: readonly string[] = process.argv.slice(2)): Promise<Command> {
  const program = new Command()
    .name("codeclm")
    .description("CodecLM: tailored synthetic instruction data for aligning a target model")
    .version(version())
    // Usage errors: one short line and where to look, exit 2 (not the whole help, not exit 1).
    // Set before the commands are added: each inherits them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`codeclm: ${text.replace(/^error: /, "")}`) })
    .showHelpAfterError("(codeclm --help lists the commands)");
  for (const register of await commandsFor(argv)) register(program);
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
  await (await buildProgram()).parseAsync(process.argv);
} catch (error) {
  process.exitCode = error instanceof CommanderError ? commanderExitCode(error) : reportError(error);
}

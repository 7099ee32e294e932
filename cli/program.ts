/**
 * The `codeclm` program: its commands, each module loaded only when the command is named. The command list
 * (`codeclm --help`, an unknown command) is drawn from the table below without loading any command.
 */
import { readFileSync } from "node:fs";
import { Command, type CommanderError, Help } from "commander";

type Register = (program: Command) => void;

interface CommandEntry {
  /** As the command list shows it: the name, `[options]`, the arguments. */
  term: string;
  description: string;
  load: () => Promise<Register>;
}

/**
 * In the order `--help` lists them. A command's module registers its options from light modules and loads what
 * its run needs (LangGraph, providers, checkpointers, plotting) in its action; one more command is one more entry.
 * Terms and descriptions must match the modules' own (test/unit/program.test.ts compares them).
 */
export const COMMANDS: Record<string, CommandEntry> = {
  generate: {
    term: "generate [options]",
    description: "Generate tailored instruction-response pairs from seed instructions or metadata (CodecLM)",
    load: async () => (await import("./generate.js")).registerGenerate,
  },
  eval: {
    term: "eval [options]",
    description:
      "Evaluate a model against a reference by the paper's protocol (pairwise judge, both orders, wins-twice rule) and report CRR",
    load: async () => (await import("./eval.js")).registerEval,
  },
  ablate: {
    term: "ablate [options]",
    description:
      "Generate the paper's Table 3 rows at the same size and evaluate the model fine-tuned on each (fine-tuning is yours to do)",
    load: async () => (await import("./ablate.js")).registerAblate,
  },
  report: {
    term: "report [options] <file>",
    description: "Write a self-contained HTML report (plots and browsable examples) for a generate run or an eval",
    load: async () => (await import("./report.js")).registerReport,
  },
  export: {
    term: "export [options] <kept>",
    description: "Convert kept pairs (the --out file of generate) into a fine-tuning format",
    load: async () => (await import("./export.js")).registerExport,
  },
  split: {
    term: "split [options] <set>",
    description:
      "Split an evaluation set into seeds and held-out items (seeded, stratified by category), as the paper did (20% seeds)",
    load: async () => (await import("./split.js")).registerSplit,
  },
  protocol: {
    term: "protocol [options]",
    description:
      "One row of the paper's Table 1: split the benchmark (seeds), generate, export; with --tuned, evaluate on the held-out part beside the paper's CRR",
    load: async () => (await import("./protocol.js")).registerProtocol,
  },
  worker: {
    term: "worker [options]",
    description:
      "Run instructions' filtering for `generate --engine dbos` drivers sharing a Postgres database (DBOS Transact)",
    load: async () => (await import("./worker.js")).registerWorker,
  },
  recover: {
    term: "recover [options]",
    description: "Hand the unfinished instructions of a worker that will not come back to the other workers",
    load: async () => (await import("./recover.js")).registerRecover,
  },
};

/** The command `argv` (as `process.argv.slice(2)`) names, also as `help NAME`; undefined for none or an unknown one. */
export function namedCommand(argv: readonly string[]): string | undefined {
  // The program itself has no option taking a value: the first word that is not an option names the command.
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined;
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

/**
 * The program for `argv`: the named command registered in full, or, with none named, every command as an entry of
 * the list (name and description only). `all` registers every command in full (tests).
 */
export async function buildProgram(
  argv: readonly string[] = process.argv.slice(2),
  options: { all?: boolean } = {},
): Promise<Command> {
  const program = new Command()
    .name("codeclm")
    .description("CodecLM: tailored synthetic instruction data for aligning a target model")
    .version(version())
    // Usage errors: one short line and where to look, exit 2 (not the whole help, not exit 1).
    // Set before the commands are added: each inherits them.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`codeclm: ${text.replace(/^error: /, "")}`) })
    .showHelpAfterError("(codeclm --help lists the commands)");
  const named = namedCommand(argv);
  if (options.all || named) {
    const names = options.all ? Object.keys(COMMANDS) : [named!];
    for (const register of await Promise.all(names.map((name) => COMMANDS[name]!.load()))) register(program);
  } else {
    for (const [name, entry] of Object.entries(COMMANDS)) program.command(name).description(entry.description);
    const help = new Help();
    program.configureHelp({
      subcommandTerm: (command) => COMMANDS[command.name()]?.term ?? help.subcommandTerm(command),
    });
  }
  for (const command of program.commands) {
    command.showHelpAfterError(`(codeclm ${command.name()} --help lists its options and their defaults)`);
  }
  return program;
}

/** Exit code for a commander error: 0 after --help or --version, 2 for a usage error. */
export const commanderExitCode = (error: CommanderError): number => (error.exitCode === 0 ? 0 : 2);

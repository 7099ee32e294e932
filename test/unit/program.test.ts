/** The command list is drawn from cli/program.ts's table without loading a command: it must say what the commands say. */
import { describe, expect, it } from "vitest";
import { COMMANDS, buildProgram, namedCommand } from "../../cli/program.js";

describe("the program's command table", () => {
  it("lists every command as its own module registers it (term and description)", async () => {
    const list = await buildProgram(["--help"]);
    const full = await buildProgram(["--help"], { all: true });
    expect(list.commands.map((command) => command.name())).toEqual(Object.keys(COMMANDS));
    expect(list.helpInformation()).toBe(full.helpInformation());
  });

  it("loads only the command named (also as `help NAME`), and none for the list or an unknown command", async () => {
    expect(namedCommand(["generate", "--size", "3"])).toBe("generate");
    expect(namedCommand(["--help"])).toBeUndefined();
    expect(namedCommand(["help", "split"])).toBe("split");
    expect(namedCommand(["generat"])).toBeUndefined();
    expect(namedCommand(["constructor"])).toBeUndefined();
    const program = await buildProgram(["report", "x.jsonl"]);
    expect(program.commands.map((command) => command.name())).toEqual(["report"]);
    expect(program.commands[0]!.options.length).toBeGreaterThan(0);
  });
});

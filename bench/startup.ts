/**
 * Start-up: `codeclm --help` from a clone (through tsx) beside a bare tsx start, and from the built package
 * (`npm run build` first) beside a bare node start. Each command runs in turn with the others, after a
 * warm-up, and the median wall time is reported.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export interface StartupRow {
  label: string;
  medianMs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function timeOnce(args: string[]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: "ignore" });
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited with ${result.status}`);
  return performance.now() - started;
}

/** Medians of `runs` interleaved runs of each command (one warm-up each). */
export function runStartupBench(runs = 9): { rows: StartupRow[]; built: boolean } {
  const empty = join(mkdtempSync(join(tmpdir(), "codeclm-startup-")), "empty.ts");
  writeFileSync(empty, "export {};\n");
  const built = existsSync(join(root, "dist", "cli", "main.js"));
  const commands: Array<[string, string[]]> = [
    ["bare tsx start (an empty .ts file)", ["--import", "tsx", empty]],
    ["codeclm --help from the clone (tsx)", ["--import", "tsx", "cli/main.ts", "--help"]],
    ["codeclm generate --help from the clone (tsx)", ["--import", "tsx", "cli/main.ts", "generate", "--help"]],
    ["bare node start", ["-e", "0"]],
    ...(built
      ? ([
          ["codeclm --help from the built package", ["dist/cli/main.js", "--help"]],
          ["codeclm generate --help from the built package", ["dist/cli/main.js", "generate", "--help"]],
        ] as Array<[string, string[]]>)
      : []),
  ];
  for (const [, args] of commands) timeOnce(args);
  const times = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) commands.forEach(([, args], j) => times[j]!.push(timeOnce(args)));
  return { rows: commands.map(([label], j) => ({ label, medianMs: median(times[j]!) })), built };
}

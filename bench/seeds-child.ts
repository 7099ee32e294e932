/**
 * `codeclm ARGS` in a process of its own that, on exit, writes its peak RSS to $CODECLM_BENCH_REPORT
 * (bench/seeds.ts). The CLI itself is unchanged: this only adds the report.
 */
import { writeFileSync } from "node:fs";

const report = process.env.CODECLM_BENCH_REPORT;
if (report)
  process.on("exit", () => writeFileSync(report, JSON.stringify({ peakRssMb: process.resourceUsage().maxRSS / 1024 })));
process.argv = [process.argv[0]!, "codeclm", ...process.argv.slice(2)];
await import("../cli/main.js");

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createCodecGraph } from "./codeclm.js";

/**
 * Keys from the shell, or from the project's `.env` when there is one: langgraph.json names no env file (the
 * LangGraph CLI refuses to start when a named one is missing, as on a fresh clone), so this module reads it.
 * Variables already set in the shell win over the file's.
 */
function loadEnvFileIfPresent(path: string): void {
  if (!existsSync(path)) return;
  if (typeof process.loadEnvFile !== "function") {
    process.stderr.write(
      `codeclm: ${path} not read: Node ${process.version} cannot read .env files (20.12 or later can); set the keys in the shell\n`,
    );
    return;
  }
  process.loadEnvFile(path);
}
loadEnvFileIfPresent(fileURLToPath(new URL("../.env", import.meta.url)));

/**
 * The graph LangGraph Studio and the dev server load (langgraph.json). No checkpointer: the server
 * brings its own. Models are built on first use, so loading this needs no API key. The server can only
 * send JSON settings, so every run it makes of this graph gets its own run (models, call services,
 * budget, near-duplicate index) built when the invocation starts (graphs/codeclm.ts, `ownRunPerInvocation`).
 */
export const graph = createCodecGraph();

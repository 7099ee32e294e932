/**
 * `.env` for the dev server: langgraph.json names no env file (the LangGraph CLI refuses to start when a
 * named one is missing, as on a fresh clone), so the graph module reads `.env` itself when there is one.
 * Variables already set in the shell win over the file's.
 */
import { existsSync } from "node:fs";

/** Load `path` into `process.env` when the file exists; returns whether it was read. */
export function loadEnvFileIfPresent(path: string): boolean {
  if (!existsSync(path)) return false;
  if (typeof process.loadEnvFile !== "function") {
    process.stderr.write(`codeclm: ${path} not read: Node ${process.version} cannot read .env files (20.12 or later can); set the keys in the shell\n`);
    return false;
  }
  process.loadEnvFile(path);
  return true;
}

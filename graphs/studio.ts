import { fileURLToPath } from "node:url";
import { loadEnvFileIfPresent } from "../io/env-file.js";
import { createCodecGraph } from "./codeclm.js";

// Keys from the shell, or from the project's .env when there is one (langgraph.json names none).
loadEnvFileIfPresent(fileURLToPath(new URL("../.env", import.meta.url)));

/**
 * The graph LangGraph Studio and the dev server load (langgraph.json). No checkpointer: the server
 * brings its own. Models are built on first use, so loading this needs no API key. Every run the server
 * makes of it gets its own call services and budget (graphs/runtime.ts, `scopeOf`).
 */
export const graph = createCodecGraph();

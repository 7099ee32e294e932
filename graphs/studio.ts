import { createCodecGraph } from "./codeclm.js";

/**
 * The graph LangGraph Studio and the dev server load (langgraph.json). No checkpointer: the server
 * brings its own. Models are built on first use, so loading this needs no API key. Every run the server
 * makes of it gets its own call services and budget (graphs/runtime.ts, `scopeOf`).
 */
export const graph = createCodecGraph();

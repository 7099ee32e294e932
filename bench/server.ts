/**
 * The benchmark's model endpoint, in its own process (as a real endpoint would be): the project's
 * OpenAI-compatible test server answering every CodecLM prompt, with configurable latency and faults.
 * Started by bench/endpoint.ts through `fork`; prints nothing, talks over IPC.
 */
import { codecReply } from "../test/support/codec-responder.js";
import { type FaultKind, startOpenAIServer } from "../test/support/openai-server.js";

export interface EndpointOptions {
  latencyMs: number;
  jitterMs: number;
  faultRate: number;
  faultKinds: FaultKind[];
  seed: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as EndpointOptions;
const server = await startOpenAIServer({
  recordRequests: false,
  seed: options.seed,
  latencyMs: { mean: options.latencyMs, jitter: options.jitterMs },
  retryAfterSeconds: 1,
  ...(options.faultRate > 0 ? { faults: { rate: options.faultRate, kinds: options.faultKinds } } : {}),
  respond: (request) => {
    const reply = codecReply(
      request.model === "target-model" ? "target" : "strong",
      request.messages.map((message) => message.content).join("\n"),
    );
    return typeof reply === "string" ? { text: reply } : { json: reply };
  },
});

process.on("message", (message: { type: string }) => {
  if (message.type === "counters") process.send?.({ type: "counters", counters: server.counters });
  if (message.type === "reset") {
    server.reset();
    process.send?.({ type: "reset" });
  }
  if (message.type === "close") void server.close().then(() => process.exit(0));
});
process.on("disconnect", () => void server.close().then(() => process.exit(0)));
process.send?.({ type: "ready", url: server.url });

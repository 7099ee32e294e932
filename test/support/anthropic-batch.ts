/**
 * A minimal in-process server speaking Anthropic's Messages API (`POST /v1/messages`, text replies) and its
 * Message Batches (`POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`, the results file), for the
 * batch collector's Anthropic dialect. Every answer is "echo: <last user text>".
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface AnthropicBatchServer {
  url: string;
  /** Bodies of single `/v1/messages` requests. */
  singles: Record<string, unknown>[];
  /** Each batch's requests, in creation order. */
  batches: Array<Array<{ custom_id: string; params: Record<string, unknown> }>>;
  /** Headers the batch requests came with (lower-cased). */
  batchHeaders: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

function message(params: Record<string, unknown>): Record<string, unknown> {
  const messages = (params.messages ?? []) as Array<{ content: unknown }>;
  const last = messages.at(-1)?.content;
  const text = typeof last === "string" ? last : JSON.stringify(last);
  return {
    id: `msg_${randomUUID()}`,
    type: "message",
    role: "assistant",
    model: params.model,
    content: [{ type: "text", text: `echo: ${text}` }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 },
  };
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => resolve(body));
  });

function send(res: ServerResponse, status: number, value: unknown, type = "application/json"): void {
  const body = typeof value === "string" ? value : JSON.stringify(value);
  res.writeHead(status, { "content-type": type });
  res.end(body);
}

export async function startAnthropicBatchServer(
  options: { failIds?: Set<string> } = {},
): Promise<AnthropicBatchServer> {
  const state: Omit<AnthropicBatchServer, "url" | "close"> = { singles: [], batches: [], batchHeaders: [] };
  const polls = new Map<string, number>();
  let base = "";
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "POST" && path === "/v1/messages") {
      const body = JSON.parse(await read(req)) as Record<string, unknown>;
      state.singles.push(body);
      return send(res, 200, message(body));
    }
    if (req.method === "POST" && path === "/v1/messages/batches") {
      const { requests } = JSON.parse(await read(req)) as { requests: AnthropicBatchServer["batches"][number] };
      state.batches.push(requests);
      state.batchHeaders.push(req.headers);
      const id = `msgbatch_${state.batches.length - 1}`;
      polls.set(id, 0);
      return send(res, 200, { id, type: "message_batch", processing_status: "in_progress", results_url: null });
    }
    const batch = /^\/v1\/messages\/batches\/(msgbatch_\d+)(\/results)?$/.exec(path);
    if (req.method === "GET" && batch) {
      const id = batch[1]!;
      const requests = state.batches[Number(id.split("_")[1])]!;
      if (batch[2]) {
        const lines = requests.map(({ custom_id, params }) =>
          JSON.stringify({
            custom_id,
            result: options.failIds?.has(custom_id)
              ? { type: "errored", error: { type: "error", error: { type: "api_error", message: "overloaded" } } }
              : { type: "succeeded", message: message(params) },
          }),
        );
        return send(res, 200, lines.join("\n"), "application/binary");
      }
      const count = (polls.get(id) ?? 0) + 1;
      polls.set(id, count);
      const ended = count >= 2; // in progress at the first poll, ended at the second
      return send(res, 200, {
        id,
        type: "message_batch",
        processing_status: ended ? "ended" : "in_progress",
        results_url: ended ? `${base}/v1/messages/batches/${id}/results` : null,
      });
    }
    send(res, 404, { type: "error", error: { type: "not_found_error", message: `no route ${path}` } });
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    ...state,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * How a call becomes a batch line without building its request by hand: the call is sent as usual, by the
 * provider's own client (so the line's body is exactly the chat-completions body a single call sends: tools,
 * JSON schema, temperature, max tokens), inside `inBatch`; the client's fetch (`batchFetch`, installed in
 * OpenAI clients by the factory) sees the ticket and hands the request to the batch collector instead of
 * the network, then gives the client the line's response as if the server had answered it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** One call waiting as a batch line. */
export interface BatchTicket {
  /** The line's custom_id (the call's journal key). */
  readonly customId: string;
  /** Turns the intercepted request into the line's response (the collector). */
  readonly line: (ticket: BatchTicket, url: string, init: RequestInit | undefined) => Promise<Response>;
  /** Set once the request reached the collector: the call was sent as a batch line. */
  used: boolean;
  /** Set when the line came back with an error: the call is to be sent as a single request. */
  lineError?: string;
}

const scope = new AsyncLocalStorage<BatchTicket>();

export function inBatch<T>(ticket: BatchTicket, run: () => Promise<T>): Promise<T> {
  return scope.run(ticket, run);
}

/** Requests the batch endpoints accept (and the provider's client sends for a chat call). */
const BATCHABLE = /\/(chat\/completions|responses|v1\/messages)$/;

function urlOf(input: string | URL | Request): string {
  if (typeof input === "string") return input;
  return input instanceof URL ? input.href : input.url;
}

/** The fetch of OpenAI (and Anthropic) clients: a chat request made inside `inBatch` is a batch line; any other goes out as usual. */
export const batchFetch: typeof fetch = (input, init) => {
  const ticket = scope.getStore();
  const url = urlOf(input);
  if (!ticket || ticket.used || init?.method !== "POST" || !BATCHABLE.test(new URL(url).pathname)) {
    return fetch(input, init);
  }
  ticket.used = true;
  return ticket.line(ticket, url, init);
};

/** Start and drive the benchmark endpoint (bench/server.ts) in a child process. */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FaultKind, ServerCounters } from "../test/support/openai-server.js";
import type { EndpointOptions } from "./server.js";

export interface Endpoint {
  url: string;
  counters(): Promise<ServerCounters>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_FAULT_KINDS: FaultKind[] = ["429", "500", "503", "malformed-json", "drop"];

export async function startEndpoint(options: Partial<EndpointOptions> = {}): Promise<Endpoint> {
  const full: EndpointOptions = {
    latencyMs: 0,
    jitterMs: 0,
    faultRate: 0,
    faultKinds: DEFAULT_FAULT_KINDS,
    seed: 1,
    ...options,
  };
  const child: ChildProcess = fork(fileURLToPath(new URL("./server.ts", import.meta.url)), [JSON.stringify(full)], {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string } & T) => {
        if (message.type !== type) return;
        child.off("message", onMessage);
        resolve(message);
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`benchmark endpoint exited (${code})`)));
    });
  const { url } = await next<{ url: string }>("ready");
  return {
    url,
    async counters() {
      const reply = next<{ counters: ServerCounters }>("counters");
      child.send({ type: "counters" });
      return (await reply).counters;
    },
    async reset() {
      const reply = next("reset");
      child.send({ type: "reset" });
      await reply;
    },
    async close() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.send({ type: "close" });
      await exited;
    },
  };
}

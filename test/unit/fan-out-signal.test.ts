import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { fanOutAbortListeners } from "../../lib/fan-out-signal.js";

describe("fanOutAbortListeners", () => {
  it("keeps one native listener however many are added", () => {
    const controller = new AbortController();
    const signal = fanOutAbortListeners(controller.signal);
    const listeners = Array.from({ length: 2000 }, () => () => {});
    for (const listener of listeners) signal.addEventListener("abort", listener, { once: true });
    expect(getEventListeners(signal, "abort")).toHaveLength(1);
    for (const listener of listeners) signal.removeEventListener("abort", listener);
    expect(fanOutAbortListeners(signal)).toBe(signal); // idempotent
    expect(Object.prototype.hasOwnProperty.call(AbortSignal.prototype, "addEventListener")).toBe(false);
  });

  it("calls listeners once, in the order added, with the signal and the event, as EventTarget does", () => {
    const run = (fanned: boolean) => {
      const controller = new AbortController();
      const signal = fanned ? fanOutAbortListeners(controller.signal) : controller.signal;
      const seen: string[] = [];
      const listener = (name: string) =>
        function (this: AbortSignal, event: Event) {
          seen.push(`${name}:${this === signal}:${event.type}:${String(signal.reason)}`);
        };
      const [a, b, c, d] = ["a", "b", "c", "d"].map(listener);
      signal.addEventListener("abort", a!);
      signal.addEventListener("abort", b!, { once: true });
      signal.addEventListener("abort", a!); // a duplicate is ignored
      signal.addEventListener("abort", c!);
      signal.removeEventListener("abort", c!);
      signal.addEventListener("abort", d!, { capture: true }); // left to EventTarget
      controller.abort("why");
      controller.abort("again");
      signal.addEventListener("abort", c!); // after the abort: never called
      return seen;
    };
    expect(run(true)).toEqual(run(false));
    expect(run(true)).toEqual(["a:true:abort:why", "b:true:abort:why", "d:true:abort:why"]);
  });

  it("runs the other listeners when one throws, and reports the error as uncaught", async () => {
    const controller = new AbortController();
    const signal = fanOutAbortListeners(controller.signal);
    const seen: string[] = [];
    signal.addEventListener("abort", () => {
      throw new Error("listener failed");
    });
    signal.addEventListener("abort", () => seen.push("after"));
    const uncaught = new Promise<unknown>((resolve) => {
      const listeners = process.listeners("uncaughtException");
      process.removeAllListeners("uncaughtException");
      process.once("uncaughtException", (error) => {
        for (const listener of listeners) process.on("uncaughtException", listener);
        resolve(error);
      });
    });
    controller.abort();
    expect(seen).toEqual(["after"]);
    expect(String(await uncaught)).toContain("listener failed");
  });

  it("leaves other events and listener objects to EventTarget", () => {
    const controller = new AbortController();
    const signal = fanOutAbortListeners(controller.signal);
    const seen: string[] = [];
    const object = { handleEvent: () => seen.push("object") };
    signal.addEventListener("abort", object);
    signal.addEventListener("other", () => seen.push("other"));
    signal.dispatchEvent(new Event("other"));
    controller.abort();
    expect(seen).toEqual(["other", "object"]);
  });
});

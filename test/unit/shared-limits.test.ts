import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { fleetEndpointKey } from "../../models/shared-limits.js";

describe("fleetEndpointKey", () => {
  it("keeps a remote endpoint as it is: every worker calling it shares its cap", () => {
    expect(fleetEndpointKey("openai|https://api.openai.com/v1|gpt-4o")).toBe("openai|https://api.openai.com/v1|gpt-4o");
  });

  it("gives each machine its own cap for a loopback server or an in-process model", () => {
    for (const endpoint of [
      "openai|http://localhost:8000/v1|target",
      "openai|http://127.0.0.1:8000/v1|target",
      "openai|http://[::1]:8000|target",
      "local|local|default",
    ])
      expect(fleetEndpointKey(endpoint)).toBe(`${endpoint}|host:${hostname()}`);
  });
});

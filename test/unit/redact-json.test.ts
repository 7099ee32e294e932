import { describe, expect, it } from "vitest";
import { parseJsonLoose } from "../../lib/json.js";
import { errorMessage, redactSecrets, registerSecret } from "../../lib/redact.js";

describe("redactSecrets", () => {
  it("removes OpenAI-style keys, masked echoes included", () => {
    const out = redactSecrets("Incorrect API key provided: sk-test-SECRET1234567890abcdef. Also sk-proj-****abcd1234.");
    expect(out).not.toContain("SECRET1234567890abcdef");
    expect(out).not.toContain("abcd1234");
    expect(out).toContain("[redacted]");
    expect(out).toContain("Incorrect API key provided:");
  });

  it("removes Google API keys and ?key= query parameters", () => {
    // Assembled at run time so that no key-shaped literal sits in the repository (secret scanners).
    const key = ["AIza", "SyA1234567890", "abcdefghijklmnopqrstu"].join("");
    expect(redactSecrets(`bad key ${key} here`)).toBe("bad key [redacted] here");
    expect(redactSecrets("GET /v1beta/models/x:generateContent?alt=sse&key=plainvalue123 failed")).toBe(
      "GET /v1beta/models/x:generateContent?alt=sse&key=[redacted] failed",
    );
  });

  it("removes bearer tokens but keeps the word", () => {
    expect(redactSecrets("Authorization: Bearer abc.def-ghi_jkl")).toBe("Authorization: Bearer [redacted]");
  });

  it("removes a registered secret that matches no pattern, everywhere it appears", () => {
    const secret = "plain-registered-value-42";
    expect(redactSecrets(`x ${secret} y`)).toContain(secret);
    registerSecret(secret);
    expect(redactSecrets(`x ${secret} y ${secret}`)).toBe("x [redacted] y [redacted]");
  });

  it("ignores absent and very short registered values", () => {
    registerSecret(undefined);
    registerSecret("");
    registerSecret("abc");
    expect(redactSecrets("abc abcdef")).toBe("abc abcdef");
  });

  it("leaves ordinary text alone", () => {
    const text = "The model returned an empty answer; skills: sk- short, sk-1234";
    expect(redactSecrets(text)).toBe(text);
  });

  // Regression: the OpenAI pattern once had no left boundary and mangled "task-oriented", "risk-adjusted".
  it("does not mistake words containing 'sk-' for keys", () => {
    const text = "malformed output: a task-oriented plan with risk-adjusted returns";
    expect(redactSecrets(text)).toBe(text);
  });

  it("errorMessage redacts Error messages and other thrown values", () => {
    expect(errorMessage(new Error("401 key sk-abcdefghijklmnop rejected"))).toBe("401 key [redacted] rejected");
    expect(errorMessage("sk-abcdefghijklmnop")).toBe("[redacted]");
  });
});

describe("parseJsonLoose", () => {
  it("parses plain JSON objects and arrays", () => {
    expect(parseJsonLoose('{"a": 1}')).toEqual({ a: 1 });
    expect(parseJsonLoose(" [1, 2] ")).toEqual([1, 2]);
  });

  it("takes JSON out of a ```json fence", () => {
    expect(parseJsonLoose('Here you go:\n```json\n{"use_case": "qa", "skills": ["x"]}\n```\nDone.')).toEqual({
      use_case: "qa",
      skills: ["x"],
    });
    expect(parseJsonLoose("```\n[3]\n```")).toEqual([3]);
  });

  it("takes one object out of surrounding prose", () => {
    expect(parseJsonLoose('Sure! {"assistant1": 8, "assistant2": 4} Hope that helps.')).toEqual({
      assistant1: 8,
      assistant2: 4,
    });
  });

  it("keeps braces inside strings", () => {
    expect(parseJsonLoose('note {"t": "a } b"} end')).toEqual({ t: "a } b" });
  });

  it("throws when there is no JSON value", () => {
    expect(() => parseJsonLoose("no json here")).toThrow(/no JSON value/);
    expect(() => parseJsonLoose('{"a": ')).toThrow(/no JSON value/);
    expect(() => parseJsonLoose("")).toThrow(/no JSON value/);
  });
});

import { describe, expect, it } from "vitest";
import { InputError } from "../../io/input-error.js";
import {
  parseKeptPairs,
  serialise,
  splitValidation,
  toTrainingRecord,
  validationCount,
  validationPathFor,
} from "../../io/formats.js";

const pair = { id: "m1-r1-0", instruction: "Write a haiku about rain.", response: "Soft rain on the roof..." };

describe("training formats", () => {
  it("openai-chat: the fine-tuning chat format, system message first when given", () => {
    expect(toTrainingRecord(pair, "openai-chat")).toEqual({
      messages: [
        { role: "user", content: pair.instruction },
        { role: "assistant", content: pair.response },
      ],
    });
    expect(toTrainingRecord(pair, "openai-chat", "You are helpful.")).toEqual({
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: pair.instruction },
        { role: "assistant", content: pair.response },
      ],
    });
  });

  it("alpaca: instruction, empty input, output (system as LLaMA-Factory's column)", () => {
    expect(toTrainingRecord(pair, "alpaca")).toEqual({
      instruction: pair.instruction,
      input: "",
      output: pair.response,
    });
    expect(toTrainingRecord(pair, "alpaca", "Be brief.")).toMatchObject({ system: "Be brief." });
  });

  it("sharegpt: conversations of human and gpt turns, a system turn first when given", () => {
    expect(toTrainingRecord(pair, "sharegpt", "Be brief.")).toEqual({
      conversations: [
        { from: "system", value: "Be brief." },
        { from: "human", value: pair.instruction },
        { from: "gpt", value: pair.response },
      ],
    });
    expect((toTrainingRecord(pair, "sharegpt") as { conversations: unknown[] }).conversations).toHaveLength(2);
  });

  it("jsonl: plain instruction/output; a blank system prompt is no system prompt", () => {
    expect(toTrainingRecord(pair, "jsonl", "  ")).toEqual({ instruction: pair.instruction, output: pair.response });
  });

  it("serialises as JSONL, or a JSON array", () => {
    const records = [toTrainingRecord(pair, "jsonl"), toTrainingRecord(pair, "jsonl")];
    expect(
      serialise(records, false)
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual(records);
    expect(JSON.parse(serialise(records, true))).toEqual(records);
  });
});

describe("validation split", () => {
  const items = Array.from({ length: 50 }, (_, index) => index);

  it("holds out the rounded fraction, at least one, never everything", () => {
    expect(validationCount(50, 0.1)).toBe(5);
    expect(validationCount(50, 0)).toBe(0);
    expect(validationCount(3, 0.01)).toBe(1);
    expect(validationCount(1, 0.5)).toBe(0);
    expect(validationCount(4, 0.99)).toBe(3);
  });

  it("is seeded, disjoint, complete, and keeps the input order", () => {
    const a = splitValidation(items, 0.2, 7);
    const b = splitValidation(items, 0.2, 7);
    const c = splitValidation(items, 0.2, 8);
    expect(a).toEqual(b);
    expect(c.validation).not.toEqual(a.validation);
    expect(a.validation).toHaveLength(10);
    expect([...a.train, ...a.validation].sort((x, y) => x - y)).toEqual(items);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
  });

  it("names the validation file beside the output", () => {
    expect(validationPathFor("out/train.jsonl")).toBe("out/train.val.jsonl");
    expect(validationPathFor("alpaca.json")).toBe("alpaca.val.json");
    expect(validationPathFor("data")).toBe("data.val");
  });
});

describe("parseKeptPairs", () => {
  it("reads kept pairs, skipping blank lines and CRLF", () => {
    const text = `${JSON.stringify({ ...pair, source: "strong" })}\r\n\n${JSON.stringify({ id: "x", instruction: "a", response: "b" })}\n`;
    expect(parseKeptPairs(text, "kept.jsonl")).toEqual([pair, { id: "x", instruction: "a", response: "b" }]);
  });

  it.each([
    ["not JSON", `${JSON.stringify(pair)}\n{oops\n`, "kept.jsonl:2: not valid JSON"],
    ["a JSON array", `[${JSON.stringify(pair)}]`, "kept.jsonl:1: a JSON array: expected JSONL"],
    [
      "no response",
      `${JSON.stringify({ instruction: "a" })}\n`,
      'kept.jsonl:1: not a kept pair from `codeclm generate`: "response"',
    ],
    [
      "a seed file",
      `${JSON.stringify({ id: "1", prompt: "hi" })}\n`,
      'kept.jsonl:1: not a kept pair from `codeclm generate`: "instruction"',
    ],
    [
      "the dropped file",
      `${JSON.stringify({ id: "1", reason: "max-iterations", instruction: "x" })}\n`,
      "kept.jsonl:1: this is a dropped record",
    ],
    ["a string", `"text"\n`, "kept.jsonl:1: expected a kept pair"],
    ["empty", "\n\n", "kept.jsonl: holds no kept pairs"],
  ])("rejects %s with the file and line", (_label, text, message) => {
    let error: unknown;
    try {
      parseKeptPairs(text, "kept.jsonl");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.startsWith(message)).toBe(true);
  });
});

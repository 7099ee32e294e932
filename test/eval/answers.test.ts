import { describe, expect, it } from "vitest";
import { parseAnswers } from "../../eval/answers.js";
import { InputError } from "../../io/input-error.js";
import type { Seed } from "../../lib/records.js";

const BENCHMARK: Seed[] = [
  { id: "1", instruction: "How can I improve my time management skills?" },
  { id: "2", instruction: "What are the most effective ways to deal with stress?" },
];

const jsonl = (records: unknown[]) => records.map((record) => JSON.stringify(record)).join("\n");

describe("parseAnswers", () => {
  it("matches by id, numbers and strings alike, with the usual answer fields", () => {
    const answers = parseAnswers(
      jsonl([
        { question_id: 2, response: "Breathe." },
        { id: "1", answer: "Plan." },
      ]),
      "a.jsonl",
      BENCHMARK,
    );
    expect(answers).toEqual(
      new Map([
        ["1", "Plan."],
        ["2", "Breathe."],
      ]),
    );
  });

  it("reads FastChat model answers (choices[0].turns[0])", () => {
    const text = jsonl([
      { question_id: 1, model_id: "m", choices: [{ index: 0, turns: ["Use a calendar.\r\nAnd lists."] }] },
      { question_id: 2, model_id: "m", choices: [{ index: 0, turns: ["Exercise."] }] },
    ]);
    expect(parseAnswers(text, "fastchat.jsonl", BENCHMARK).get("1")).toBe("Use a calendar.\nAnd lists.");
  });

  it("matches a file without ids by instruction text (AlpacaEval style JSON array)", () => {
    const text = JSON.stringify([
      { instruction: "What are the most effective  ways to deal with stress?", output: "Sleep." },
      { instruction: "How can I improve my time management skills?", output: "Prioritise." },
    ]);
    expect(parseAnswers(text, "alpaca.json", BENCHMARK)).toEqual(
      new Map([
        ["1", "Prioritise."],
        ["2", "Sleep."],
      ]),
    );
  });

  it("honours --answer-field", () => {
    const text = jsonl([
      { id: 1, generated: "A" },
      { id: 2, generated: "B" },
    ]);
    expect(parseAnswers(text, "x.jsonl", BENCHMARK, { field: "generated" }).get("2")).toBe("B");
  });

  it.each([
    [
      "a missing answer",
      jsonl([{ id: 1, answer: "x" }]),
      'no answer for 1 of the 2 benchmark item(s) (matched by id): "2"',
    ],
    [
      "a duplicate id",
      jsonl([
        { id: 1, answer: "x" },
        { id: 1, answer: "y" },
      ]),
      'x.jsonl:2: a second answer for id "1"',
    ],
    ["no answer field", jsonl([{ id: 1, reply: "x" }]), "x.jsonl:1: no answer field"],
    ["a non-string answer", jsonl([{ id: 1, answer: 3 }]), 'the answer field "answer" must be a string'],
    ["an empty file", "", "no answers found"],
  ])("rejects %s with a message naming the file", (_label, text, message) => {
    expect(() => parseAnswers(text, "x.jsonl", BENCHMARK)).toThrow(InputError);
    expect(() => parseAnswers(text, "x.jsonl", BENCHMARK)).toThrow(message);
  });
});

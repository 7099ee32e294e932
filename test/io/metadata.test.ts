import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseMetadata, readMetadata, type ReadMetadataOptions } from "../../io/metadata.js";
import { type ExpectedInputError, expectInputError, inputFixtures } from "../support/input-files.js";

const { fixture, folder } = inputFixtures("codeclm-metadata-");

const opts: ReadMetadataOptions = { skillsMax: 3 };
const jsonl = (...records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

async function read(name: string, content: string, options: ReadMetadataOptions = opts) {
  return readMetadata(await fixture(name, content), options);
}

const expectPathError = (path: string, expected: ExpectedInputError, options: ReadMetadataOptions = opts) =>
  expectInputError(path, () => readMetadata(path, options), expected);

async function expectError(
  name: string,
  content: string | Uint8Array,
  expected: ExpectedInputError,
  options: ReadMetadataOptions = opts,
) {
  return expectPathError(await fixture(name, content), expected, options);
}

describe("readMetadata: accepted input", () => {
  it("reads JSONL, skipping blank lines and trimming", async () => {
    const text = `${jsonl({ useCase: " code generation ", skills: ["python", " recursion "] })}\r\n${jsonl({
      useCase: "poem writing",
      skills: ["rhyme"],
    })}`;
    expect(await read("m.jsonl", text)).toEqual([
      { useCase: "code generation", skills: ["python", "recursion"] },
      { useCase: "poem writing", skills: ["rhyme"] },
    ]);
  });

  it("reads a JSON array, use_case, and comma-separated skills", async () => {
    const text = JSON.stringify(
      [
        { use_case: "math word problems", skills: "arithmetic, unit conversion" },
        { useCase: "email writing", skills: ["tone", "formatting"], note: "ignored" },
      ],
      null,
      2,
    );
    expect(await read("m.json", text)).toEqual([
      { useCase: "math word problems", skills: ["arithmetic", "unit conversion"] },
      { useCase: "email writing", skills: ["tone", "formatting"] },
    ]);
  });

  it('reads { "data": [...] } and a single object, and sniffs unknown extensions', async () => {
    expect(await read("m.json", '{"data": [{"useCase": "a", "skills": ["b"]}]}')).toEqual([
      { useCase: "a", skills: ["b"] },
    ]);
    expect(await read("one.json", '{\n "useCase": "a",\n "skills": "b"\n}')).toEqual([{ useCase: "a", skills: ["b"] }]);
    expect(await read("m.meta", jsonl({ useCase: "a", skills: ["b"] }, { useCase: "c", skills: ["d"] }))).toHaveLength(
      2,
    );
    expect(await read("m.meta", '[{"useCase": "a", "skills": ["b"]}]')).toHaveLength(1);
  });

  it("accepts exactly skillsMax skills", async () => {
    expect(await read("m.jsonl", jsonl({ useCase: "a", skills: ["1", "2", "3"] }))).toEqual([
      { useCase: "a", skills: ["1", "2", "3"] },
    ]);
  });

  it("parseMetadata is pure and strips \\r", () => {
    expect(parseMetadata('{"useCase":"a\\r\\nb","skills":["c\\r"]}\r\n', "mem.jsonl", opts)).toEqual([
      { useCase: "a\nb", skills: ["c"] },
    ]);
  });
});

describe("readMetadata: bad input", () => {
  it("missing file and directory", async () => {
    await expectPathError(join(folder(), "none.jsonl"), { line: null, contains: ["file not found"] });
    const sub = join(folder(), "meta-dir.jsonl");
    await mkdir(sub);
    await expectPathError(sub, { line: null, contains: ["is a directory"] });
  });

  it.each([
    ["e.jsonl", ""],
    ["e.json", "  \n"],
    ["e.meta", ""],
  ])("empty file %s", async (name, content) => {
    await expectError(name, content, { line: null, contains: ["no metadata found"] });
  });

  it("empty JSON array", async () => {
    await expectError("e.json", "[]", { line: null, contains: ["JSON array is empty"] });
  });

  it("a line that is not JSON", async () => {
    await expectError("b.jsonl", `${jsonl({ useCase: "a", skills: ["b"] })}{useCase: a}\n`, {
      line: 2,
      contains: ["not valid JSON"],
    });
  });

  it("a JSON array that does not parse", async () => {
    await expectError("b.json", '[\n {"useCase": "a", "skills": ["b"]},\n {"useCase": "a" "skills": []}\n]', {
      line: 3,
      contains: ["not valid JSON"],
    });
  });

  it("a file that is not JSON at all", async () => {
    await expectError("m.txt", "\ncode generation: python\n", { line: 2, contains: ["expected JSONL"] });
  });

  it("NUL bytes", async () => {
    await expectError("m.jsonl", Buffer.from([0x7b, 0x0a, 0x00]), { line: 2, contains: ["NUL"] });
  });

  it.each([
    ["a string", '"code generation"'],
    ["an array", '["a", ["b"]]'],
    ["null", "null"],
  ])("a record that is %s", async (what, literal) => {
    await expectError("r.jsonl", `${jsonl({ useCase: "a", skills: ["b"] })}${literal}\n`, {
      line: 2,
      contains: [what, "useCase"],
    });
  });

  it("missing useCase lists the fields", async () => {
    await expectError("u.jsonl", jsonl({ useCase: "a", skills: ["b"] }, { task: "a", skills: ["b"] }), {
      line: 2,
      contains: ['"useCase"', "use_case", "task, skills"],
    });
  });

  it("empty or non-string useCase", async () => {
    await expectError("u.jsonl", jsonl({ useCase: "  ", skills: ["b"] }), {
      line: 1,
      contains: ['"useCase" is empty'],
    });
    await expectError("u.jsonl", jsonl({ use_case: "", skills: ["b"] }), {
      line: 1,
      contains: ['"use_case" is empty'],
    });
    await expectError("u.jsonl", jsonl({ useCase: 3, skills: ["b"] }), { line: 1, contains: ["must be a string"] });
  });

  it("missing, empty or malformed skills", async () => {
    await expectError("s.jsonl", jsonl({ useCase: "a" }), { line: 1, contains: ['no "skills" field', "useCase"] });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: [] }), {
      line: 1,
      contains: ['"skills" is empty', "1 to 3"],
    });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: "" }), { line: 1, contains: ["skill 1 is empty"] });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: ["x", " "] }), {
      line: 1,
      contains: ["skill 2 is empty"],
    });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: "x,,y" }), { line: 1, contains: ["skill 2 is empty"] });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: ["x", 5] }), {
      line: 1,
      contains: ["skill 2 must be a string"],
    });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: { x: 1 } }), { line: 1, contains: ["comma-separated"] });
    await expectError("s.jsonl", jsonl({ useCase: "a", skills: ["SQL", "sql"] }), {
      line: 1,
      contains: ["listed twice"],
    });
  });

  it("more than skillsMax skills is an error naming the line, not a truncation", async () => {
    const text = jsonl(
      { useCase: "a", skills: ["1"] },
      { useCase: "b", skills: ["1", "2"] },
      { useCase: "c", skills: "1, 2, 3, 4" },
    );
    await expectError("many.jsonl", text, { line: 3, contains: ["4 skills", "at most 3"] });
    await expectError("many.jsonl", text, { line: 2, contains: ["2 skills", "at most 1"] }, { skillsMax: 1 });
    const arr = JSON.stringify(
      [
        { useCase: "a", skills: ["1"] },
        { useCase: "b", skills: ["1", "2", "3", "4"] },
      ],
      null,
      2,
    );
    await expectError("many.json", arr, { line: 8, contains: ["4 skills"] });
  });

  it("rejects an invalid skillsMax as a programming error", async () => {
    expect(() => parseMetadata("[]", "x.json", { skillsMax: 0 })).toThrow(RangeError);
    await expect(readMetadata(join(folder(), "none.jsonl"), { skillsMax: 1.5 })).rejects.toThrow(RangeError);
  });
});

import { spawnSync } from "node:child_process";
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InputError, decodeInputBytes } from "../../io/input-error.js";
import {
  detectSeedFormat,
  parseSeeds,
  readSeedSample,
  readSeeds,
  streamSeeds,
  type ReadSeedsOptions,
} from "../../io/seeds.js";
import { selectSeeds } from "../../lib/seed-sample.js";
import { type ExpectedInputError, expectInputError, inputFixtures } from "../support/input-files.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { fixture, folder } = inputFixtures("codeclm-seeds-");

async function read(name: string, content: string | Uint8Array, options?: ReadSeedsOptions) {
  return readSeeds(await fixture(name, content), options);
}

async function expectError(
  name: string,
  content: string | Uint8Array,
  expected: ExpectedInputError,
  options?: ReadSeedsOptions,
) {
  return expectPathError(await fixture(name, content), expected, options);
}

const expectPathError = (path: string, expected: ExpectedInputError, options?: ReadSeedsOptions) =>
  expectInputError(path, () => readSeeds(path, options), expected);

const jsonl = (...records: unknown[]) => records.map((r) => JSON.stringify(r)).join("\n") + "\n";

describe("InputError", () => {
  it("formats FILE:LINE: reason and FILE: reason", () => {
    const a = new InputError("seeds.jsonl", 7, "bad thing");
    expect(a).toBeInstanceOf(Error);
    expect(a.name).toBe("InputError");
    expect(a.message).toBe("seeds.jsonl:7: bad thing");
    expect(a.file).toBe("seeds.jsonl");
    expect(a.line).toBe(7);
    expect(a.reason).toBe("bad thing");
    const b = new InputError("seeds.jsonl", undefined, "file not found");
    expect(b.message).toBe("seeds.jsonl: file not found");
    expect(b.line).toBeUndefined();
  });
});

describe("formats", () => {
  it("reads JSONL, skipping blank lines, ids from line numbers", async () => {
    const seeds = await read("s.jsonl", `${jsonl({ instruction: "First" })}\n   \n${jsonl({ instruction: "Second" })}`);
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "First" },
      { id: "seed-4", instruction: "Second" },
    ]);
  });

  it("reads .ndjson as JSONL, including a last line without newline and CRLF endings", async () => {
    const seeds = await read("s.ndjson", '{"prompt":"A"}\r\n{"prompt":"B"}');
    expect(seeds.map((s) => s.instruction)).toEqual(["A", "B"]);
  });

  it("accepts bare JSON strings as JSONL records", async () => {
    const seeds = await read("s.jsonl", '"Just a string"\n{"instruction":"obj"}\n');
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "Just a string" },
      { id: "seed-2", instruction: "obj" },
    ]);
  });

  it("reads a pretty-printed JSON array of objects; generated ids use the element position", async () => {
    const text = JSON.stringify(
      [{ instruction: "One" }, { instruction: "Two", id: "x" }, { instruction: "Three" }],
      null,
      2,
    );
    const seeds = await read("s.json", text);
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "One" },
      { id: "x", instruction: "Two" },
      { id: "seed-3", instruction: "Three" },
    ]);
  });

  it("reads a compact JSON array of strings", async () => {
    const seeds = await read("s.json", '["a", "b", " c "]');
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "a" },
      { id: "seed-2", instruction: "b" },
      { id: "seed-3", instruction: "c" },
    ]);
  });

  it('reads { "data": [...] } and reports element lines inside it', async () => {
    const text = [
      "{",
      '  "meta": {"note": "[not the array]", "data": 1},',
      '  "data": [',
      '    {"instruction": "ok"},',
      '    {"instruction": "  "}',
      "  ]",
      "}",
    ].join("\n");
    const seeds = parseSeeds(text.replace('"  "', '"fine"'), "d.json");
    expect(seeds.map((s) => s.instruction)).toEqual(["ok", "fine"]);
    await expectError("d.json", text, { line: 5, contains: ["empty"] });
  });

  it("reads a single JSON object as one record", async () => {
    const seeds = await read("one.json", '{\n  "instruction": "Solo",\n  "category": "x"\n}\n');
    expect(seeds).toEqual([{ id: "seed-1", instruction: "Solo", category: "x" }]);
  });

  it("reads a .json file that really holds JSONL as JSONL", async () => {
    const seeds = await read("mislabelled.json", jsonl({ instruction: "A" }, { instruction: "B" }));
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "A" },
      { id: "seed-2", instruction: "B" },
    ]);
  });

  it("reads RFC 4180 CSV: quoted commas, doubled quotes, newlines inside quotes, CRLF", async () => {
    const csv = [
      "id,instruction,category",
      'a,"Hello, world",greet',
      'b,"He said ""hi""",',
      'c,"Line one',
      'line two",multi',
      "d,plain text,",
      "",
    ].join("\r\n");
    const seeds = await read("s.csv", csv);
    expect(seeds).toEqual([
      { id: "a", instruction: "Hello, world", category: "greet" },
      { id: "b", instruction: 'He said "hi"' },
      { id: "c", instruction: "Line one\nline two", category: "multi" },
      { id: "d", instruction: "plain text" },
    ]);
  });

  it("CSV ids default to the record's starting line, counting lines inside quoted fields", async () => {
    const csv = 'instruction\n"multi\nline"\nnext\n\n"last"';
    const seeds = await read("s.csv", csv);
    expect(seeds.map((s) => s.id)).toEqual(["seed-2", "seed-4", "seed-6"]);
    expect(seeds[0]?.instruction).toBe("multi\nline");
  });

  it("CSV: empty id cell falls back to the line, quoted empty field and trailing empty cells are fine", async () => {
    const csv = 'id,prompt,category\n,"first",\nz,second,cat,\n';
    const seeds = await read("s.csv", csv);
    expect(seeds).toEqual([
      { id: "seed-2", instruction: "first" },
      { id: "z", instruction: "second", category: "cat" },
    ]);
  });

  it("reads TSV", async () => {
    const seeds = await read("s.tsv", 'question\tcategory\nWhat, exactly?\tqa\n"tab\tinside"\tqa\n');
    expect(seeds).toEqual([
      { id: "seed-2", instruction: "What, exactly?", category: "qa" },
      { id: "seed-3", instruction: "tab\tinside", category: "qa" },
    ]);
  });

  it("reads plain text, one instruction per non-blank line, stripping \\r", async () => {
    const seeds = await read("s.txt", "  First line  \r\n\r\nSecond {not json}\r\n[third]\r\n");
    expect(seeds).toEqual([
      { id: "seed-1", instruction: "First line" },
      { id: "seed-3", instruction: "Second {not json}" },
      { id: "seed-4", instruction: "[third]" },
    ]);
  });

  it("sniffs unknown extensions: [ → JSON, { → JSONL, else text", async () => {
    expect(await read("a.data", '\n  ["x", "y"]')).toHaveLength(2);
    expect(await read("b", jsonl({ prompt: "p1" }, { prompt: "p2" }, { prompt: "p3" }))).toHaveLength(3);
    expect(await read("c.seeds", "one\ntwo\n")).toEqual([
      { id: "seed-1", instruction: "one" },
      { id: "seed-2", instruction: "two" },
    ]);
  });

  it("an explicit format overrides the extension", async () => {
    expect(await read("x.txt", jsonl({ instruction: "j" }), { format: "jsonl" })).toEqual([
      { id: "seed-1", instruction: "j" },
    ]);
    expect(await read("x.dat", "prompt\nhello\n", { format: "csv" })).toEqual([{ id: "seed-2", instruction: "hello" }]);
    expect(await read("x.jsonl", '{"a":1}\n', { format: "text" })).toEqual([{ id: "seed-1", instruction: '{"a":1}' }]);
    expect(await read("x.txt", '["q"]', { format: "json" })).toEqual([{ id: "seed-1", instruction: "q" }]);
    expect(await read("x.txt", "instruction\tid\nt\t7\n", { format: "tsv" })).toEqual([{ id: "7", instruction: "t" }]);
  });

  it("detectSeedFormat follows the extension, then the content", () => {
    expect(detectSeedFormat("a.JSONL", "")).toBe("jsonl");
    expect(detectSeedFormat("a.ndjson", "")).toBe("jsonl");
    expect(detectSeedFormat("a.json", "")).toBe("json");
    expect(detectSeedFormat("a.csv", "")).toBe("csv");
    expect(detectSeedFormat("a.tsv", "")).toBe("tsv");
    expect(detectSeedFormat("a.txt", "[1]")).toBe("text");
    expect(detectSeedFormat("a.in", " [1]")).toBe("json");
    expect(detectSeedFormat("a.in", "{}")).toBe("json");
    expect(detectSeedFormat("a.in", "hello")).toBe("text");
    expect(detectSeedFormat("a.json", "x", "csv")).toBe("csv");
  });

  it("parseSeeds is pure and strips a UTF-8 BOM", () => {
    expect(parseSeeds('\uFEFF{"instruction":"x"}\n', "mem.jsonl")).toEqual([{ id: "seed-1", instruction: "x" }]);
    expect(parseSeeds("\uFEFFinstruction\ny\n", "mem.csv")).toEqual([{ id: "seed-2", instruction: "y" }]);
  });
});

describe("instruction field", () => {
  it.each([
    ["instruction", "v"],
    ["prompt", "v"],
    ["text", "v"],
    ["question", "v"],
    ["Instruction", "v"],
  ])("reads %s", async (field) => {
    const seeds = await read("f.jsonl", jsonl({ [field]: "  the text  " }));
    expect(seeds[0]?.instruction).toBe("the text");
  });

  it("reads turns[0]", async () => {
    const seeds = await read("f.jsonl", jsonl({ turns: ["first turn", "second turn"] }));
    expect(seeds[0]?.instruction).toBe("first turn");
  });

  it("takes the first present field in order instruction, prompt, text, question, turns, Instruction", async () => {
    const seeds = await read(
      "f.jsonl",
      jsonl(
        { Instruction: "6", turns: ["5"], question: "4", text: "3", prompt: "2", instruction: "1" },
        { Instruction: "6", turns: ["5"], question: "4", text: "3", prompt: "2" },
        { Instruction: "6", turns: ["5"], question: "4", text: "3" },
        { Instruction: "6", turns: ["5"], question: "4" },
        { Instruction: "6", turns: ["5"] },
        { Instruction: "6", instruction: null },
      ),
    );
    expect(seeds.map((s) => s.instruction)).toEqual(["1", "2", "3", "4", "5", "6"]);
  });

  it("--field picks an exact key, and takes the first element of an array", async () => {
    const seeds = await read(
      "f.jsonl",
      jsonl({ instruction: "no", query: "yes" }, { instruction: "no", query: ["yes2", "x"] }),
      {
        field: "query",
      },
    );
    expect(seeds.map((s) => s.instruction)).toEqual(["yes", "yes2"]);
  });

  it("--field picks a CSV column", async () => {
    const seeds = await read("f.csv", "instruction,Query\nno,yes\n", { field: "Query" });
    expect(seeds[0]?.instruction).toBe("yes");
  });

  it("--field is ignored for plain text and bare strings", async () => {
    expect((await read("f.txt", "hello\n", { field: "x" }))[0]?.instruction).toBe("hello");
    expect((await read("f.json", '["hello"]', { field: "x" }))[0]?.instruction).toBe("hello");
  });

  it("strips \\r inside instructions (escaped CR in JSON, CRLF inside quoted CSV fields)", async () => {
    const a = await read("r.jsonl", '{"instruction":"line1\\r\\nline2\\rline3\\r\\n"}\r\n');
    expect(a[0]?.instruction).toBe("line1\nline2\nline3");
    const b = await read("r.csv", 'instruction\r\n"x\r\ny"\r\n');
    expect(b[0]?.instruction).toBe("x\ny");
    for (const s of [...a, ...b]) expect(s.instruction).not.toContain("\r");
  });

  it("appends a non-empty instances[0].input after a blank line", async () => {
    const seeds = await read(
      "si.jsonl",
      jsonl(
        { id: "t1", instruction: "Rewrite the sentence.", instances: [{ input: " The cat sat. \r\n", output: "o" }] },
        { id: "t2", instruction: "Tell a joke.", instances: [{ input: "", output: "o" }] },
        {
          id: "t3",
          instruction: "Sum.",
          instances: [
            { input: "1 2", output: "3" },
            { input: "4 5", output: "9" },
          ],
        },
        { id: "t4", instruction: "No instances.", instances: [] },
      ),
    );
    expect(seeds.map((s) => s.instruction)).toEqual([
      "Rewrite the sentence.\n\nThe cat sat.",
      "Tell a joke.",
      "Sum.\n\n1 2",
      "No instances.",
    ]);
  });

  it("appends an Alpaca-style top-level input", async () => {
    const seeds = await read(
      "alp.json",
      JSON.stringify([{ instruction: "Translate to French.", input: "Hello", output: "Bonjour" }]),
    );
    expect(seeds[0]?.instruction).toBe("Translate to French.\n\nHello");
    const csv = await read("alp.csv", "instruction,input\nTranslate.,Hi\nJoke.,\n");
    expect(csv.map((s) => s.instruction)).toEqual(["Translate.\n\nHi", "Joke."]);
  });
});

describe("ids and categories", () => {
  it("uses id, question_id, idx (stringified) in that order, else seed-<line>", async () => {
    const seeds = await read(
      "ids.jsonl",
      jsonl(
        { id: "a", question_id: 1, idx: 2, instruction: "x" },
        { question_id: 81, idx: 3, instruction: "x" },
        { idx: 4, instruction: "x" },
        { instruction: "x" },
        { id: "", instruction: "x" },
        { id: " padded ", instruction: "x" },
      ),
    );
    expect(seeds.map((s) => s.id)).toEqual(["a", "81", "4", "seed-4", "seed-5", "padded"]);
  });

  it("keeps category from category, Skill or motivation_app", async () => {
    const seeds = await read(
      "cat.jsonl",
      jsonl(
        { instruction: "x", category: "writing", Skill: "no" },
        { instruction: "x", Skill: "Math" },
        { instruction: "x", motivation_app: "Grammarly" },
        { instruction: "x" },
        { instruction: "x", category: "" },
      ),
    );
    expect(seeds.map((s) => s.category)).toEqual(["writing", "Math", "Grammarly", undefined, undefined]);
    expect(Object.hasOwn(seeds[3] ?? {}, "category")).toBe(false);
  });

  it("rejects duplicate ids, naming both lines", async () => {
    await expectError(
      "dup.jsonl",
      jsonl({ id: "a", instruction: "x" }, { id: "b", instruction: "y" }, { id: "a", instruction: "z" }),
      {
        line: 3,
        contains: ['duplicate id "a"', "line 1"],
      },
    );
    await expectError("dup.csv", "id,instruction\n7,x\n\n7,y\n", { line: 4, contains: ['duplicate id "7"', "line 2"] });
    await expectError("dup.json", '[\n {"idx": 1, "Instruction": "a"},\n {"idx": 1, "Instruction": "b"}\n]', {
      line: 3,
      contains: ['duplicate id "1"', "line 2"],
    });
  });

  it("rejects a generated id that clashes with an explicit one", async () => {
    await expectError("clash.jsonl", jsonl({ id: "seed-2", instruction: "x" }, { instruction: "y" }), {
      line: 2,
      contains: ['duplicate id "seed-2"', "line 1"],
    });
  });

  it("rejects ids that are not strings or numbers", async () => {
    await expectError("badid.jsonl", jsonl({ instruction: "x" }, { id: { a: 1 }, instruction: "y" }), {
      line: 2,
      contains: ['"id"', "an object"],
    });
  });
});

describe("bad input", () => {
  it("missing file", async () => {
    await expectPathError(join(folder(), "nope", "missing.jsonl"), { line: null, contains: ["file not found"] });
  });

  it("a directory", async () => {
    const sub = join(folder(), "a-dir.jsonl");
    await mkdir(sub);
    await expectPathError(sub, { line: null, contains: ["is a directory"] });
  });

  it.skipIf(process.platform === "win32")(
    "no read permission (as root, read by a child running as nobody)",
    async () => {
      const path = await fixture("locked.jsonl", jsonl({ instruction: "x" }));
      await chmod(path, 0o000);
      try {
        if (process.getuid?.() !== 0) {
          await expectPathError(path, { line: null, contains: ["permission denied"] });
          return;
        }
        // Root reads any file: read it from a child that has dropped to nobody (setpriv, util-linux).
        await chmod(folder(), 0o755);
        const script = [
          `import { readSeeds } from ${JSON.stringify(join(root, "io", "seeds.ts"))};`,
          `try { await readSeeds(${JSON.stringify(path)}); console.log(JSON.stringify({ read: true })); }`,
          `catch (e) { console.log(JSON.stringify({ name: e.constructor.name, file: e.file, line: e.line ?? null, message: e.message })); }`,
        ].join("\n");
        const child = spawnSync(
          "setpriv",
          [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            process.execPath,
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            script,
          ],
          {
            cwd: root,
            encoding: "utf8",
            env: { PATH: process.env.PATH ?? "", HOME: "/tmp", TSX_TSCONFIG_PATH: join(root, "tsconfig.json") },
          },
        );
        expect(child.error, "setpriv (util-linux) must be installed to run this as root").toBeUndefined();
        expect(child.stderr).toBe("");
        const result = JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
        expect(result).toMatchObject({ name: "InputError", file: path, line: null });
        expect(String(result.message).startsWith(`${path}: `)).toBe(true);
        expect(String(result.message)).toContain("permission denied");
      } finally {
        await chmod(path, 0o644);
      }
    },
  );

  it.each([
    ["empty.jsonl", ""],
    ["blank.jsonl", "\n  \n\r\n"],
    ["empty.json", ""],
    ["empty.txt", ""],
    ["blank.txt", "\n\n \t\n"],
    ["empty.csv", ""],
    ["empty.data", ""],
  ])("empty file %s", async (name, content) => {
    await expectError(name, content, { line: null, contains: ["no instructions found"] });
  });

  it("empty JSON array and header-only CSV", async () => {
    await expectError("arr.json", "[\n]\n", { line: null, contains: ["JSON array is empty"] });
    await expectError("hdr.csv", "id,instruction\n", { line: null, contains: ["only a header row"] });
  });

  it("a JSONL line that is not JSON, with the parser's message", async () => {
    const err = await expectError("bad.jsonl", `${jsonl({ instruction: "ok" })}\n{"instruction": "x",}\n`, {
      line: 3,
      contains: ["not valid JSON"],
    });
    expect(err.reason).toMatch(/not valid JSON: .+\(column \d+\)/);
  });

  it("a JSONL file that is really a pretty-printed JSON array gets a hint", async () => {
    await expectError("arr.jsonl", '[\n  {"instruction": "x"}\n]\n', { line: 1, contains: ["--format json"] });
    await expectError("arr2.jsonl", '[{"instruction": "x"}]\n', {
      line: 1,
      contains: ["got an array", "--format json"],
    });
  });

  it("a JSON file that does not parse: line computed from the parser's position", async () => {
    const text = '[\n  {"instruction": "a"},\n  {"instruction": "b"},\n  {"instruction": "c" "oops"}\n]\n';
    const err = await expectError("bad.json", text, { line: 4, contains: ["not valid JSON", "column"] });
    expect(err.reason).not.toMatch(/position/);
  });

  it("a broken pretty-printed JSON object is reported where it breaks, not as JSONL line 1", async () => {
    await expectError("obj.json", '{\n  "instruction": "a",\n  "id": 1,,\n}\n', {
      line: 3,
      contains: ["not valid JSON"],
    });
    await expectError("obj.in", '{\n  "instruction": "a"\n  "id": 1\n}\n', { line: 3, contains: ["not valid JSON"] });
  });

  it("a truncated JSON file points at its last line", async () => {
    await expectError("trunc.json", '[\n  {"instruction": "a"},\n  {"instruction": "b"\n\n', {
      line: 3,
      contains: ["not valid JSON"],
    });
  });

  it("JSONL forced as JSON gets a hint", async () => {
    await expectError(
      "forced.jsonl",
      jsonl({ instruction: "a" }, { instruction: "b" }),
      { line: 2, contains: ["JSONL"] },
      { format: "json" },
    );
  });

  it("a top-level JSON value that is not an array or object", async () => {
    await expectError("num.json", "\n42\n", { line: 2, contains: ["expected a JSON array", "a number"] });
  });

  it.each([
    ["a number", "5"],
    ["an array", "[1, 2]"],
    ["null", "null"],
    ["a boolean", "true"],
  ])("a record that is %s", async (what, literal) => {
    await expectError("rec.jsonl", `${jsonl({ instruction: "ok" })}${literal}\n`, { line: 2, contains: [what] });
  });

  it("a non-object element of a JSON array names its line", async () => {
    await expectError("rec.json", '[\n  {"instruction": "ok"},\n\n  17\n]', { line: 4, contains: ["a number"] });
  });

  it("a record with no instruction field lists its fields and suggests --field", async () => {
    const err = await expectError("nofield.jsonl", jsonl({ instruction: "ok" }, { body: "x", title: "y" }), {
      line: 2,
      contains: ["no instruction field", "body, title", "--field"],
    });
    expect(err.message).toContain("instruction, prompt, text, question, turns, Instruction");
  });

  it("suggests a differently-cased field", async () => {
    await expectError("case.jsonl", jsonl({ PROMPT: "x" }), { line: 1, contains: ["--field PROMPT"] });
  });

  it("a top-level JSON object without instructions says an array was expected", async () => {
    await expectError("obj.json", '{\n "seeds": [{"instruction": "x"}]\n}', {
      line: 1,
      contains: ["seeds", "array of records"],
    });
  });

  it.each([
    ["blank string", { instruction: "  \r\n " }],
    ["empty turns[0]", { turns: [" "] }],
  ])("an empty instruction (%s)", async (_label, record) => {
    await expectError("emptyinst.jsonl", jsonl({ instruction: "ok" }, { instruction: "ok2" }, record), {
      line: 3,
      contains: ["empty"],
    });
  });

  it("an empty string record, an empty turns array, a non-string instruction", async () => {
    await expectError("es.json", '["ok",\n""]', { line: 2, contains: ["empty"] });
    await expectError("et.jsonl", jsonl({ turns: [] }), { line: 1, contains: ['"turns" is an empty array'] });
    await expectError("ns.jsonl", jsonl({ instruction: 42 }), {
      line: 1,
      contains: ['"instruction" must be a string', "a number"],
    });
    await expectError("nt.jsonl", jsonl({ turns: [{ a: 1 }] }), {
      line: 1,
      contains: ['first element of "turns"', "an object"],
    });
  });

  it("an empty line in plain text never errors, but an empty CSV instruction cell does", async () => {
    await expectError("ec.csv", "id,instruction\na,x\nb,   \n", { line: 3, contains: ["empty"] });
  });

  it("CSV with no instruction column lists the header's columns", async () => {
    await expectError("nocol.csv", "id,body,notes\n1,x,y\n", {
      line: 1,
      contains: ["no instruction column", "id, body, notes", "--field"],
    });
  });

  it("CSV header after blank lines is reported on its own line", async () => {
    await expectError("nocol2.csv", "\n\nid,body\n1,x\n", { line: 3, contains: ["id, body"] });
  });

  it("an unterminated quote in CSV names the line where the quote opens", async () => {
    await expectError("unterminated.csv", 'id,instruction\n1,ok\n2,"never closed\nstill going\n', {
      line: 3,
      contains: ["unterminated quote", "column 2"],
    });
  });

  it("text after a closing quote in CSV", async () => {
    await expectError("afterquote.csv", 'instruction\n"a"b\n', { line: 2, contains: ["after the closing quote"] });
  });

  it("a CSV row with more fields than the header (unquoted comma)", async () => {
    await expectError("extra.csv", "id,instruction\n1,Hello, world\n", {
      line: 2,
      contains: ["3 fields", "2 columns"],
    });
  });

  it("--field given but absent (JSON and CSV)", async () => {
    await expectError(
      "nf.jsonl",
      jsonl({ instruction: "x", Query: "q" }),
      { line: 1, contains: ['"query"', "--field", "instruction, Query", 'did you mean "Query"'] },
      { field: "query" },
    );
    await expectError(
      "nf.csv",
      "instruction,body\nx,y\n",
      { line: 1, contains: ['"query"', "instruction, body"] },
      { field: "query" },
    );
    await expectError(
      "nf2.jsonl",
      jsonl({ query: "a" }, { instruction: "b" }),
      { line: 2, contains: ['"query"'] },
      { field: "query" },
    );
  });

  it("an empty --field", async () => {
    await expectError("ef.jsonl", jsonl({ instruction: "x" }), { line: null, contains: ["--field"] }, { field: " " });
  });

  it("binary data with NUL bytes", async () => {
    await expectError("bin.jsonl", Buffer.from([0x7b, 0x7d, 0x0a, 0x00, 0x01, 0x02]), {
      line: 2,
      contains: ["NUL", "binary"],
    });
    expect(() => parseSeeds("a\nb\0c", "mem.txt")).toThrow(/mem\.txt:2: .*NUL/);
  });

  it("gzip, zip, UTF-16 and invalid UTF-8", async () => {
    await expectError("c.jsonl.gz", Buffer.from([0x1f, 0x8b, 0x08, 0x00]), { line: null, contains: ["gzip"] });
    await expectError("c.xlsx", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00]), { line: null, contains: ["ZIP", "CSV"] });
    await expectError("u16.txt", Buffer.from("\uFEFFhello", "utf16le"), { line: null, contains: ["UTF-16"] });
    await expectError(
      "latin1.txt",
      Buffer.concat([Buffer.from("ok\nfine\ncaf"), Buffer.from([0xe9]), Buffer.from("\n")]),
      {
        line: 3,
        contains: ["not valid UTF-8"],
      },
    );
    expect(decodeInputBytes(Buffer.from("\uFEFFhé", "utf8"), "x")).toBe("hé");
  });

  it("errors are thrown before anything is returned (all-or-nothing)", async () => {
    const lines = Array.from({ length: 100 }, (_, i) => JSON.stringify({ instruction: `i${i}` }));
    lines.push("{broken");
    await expectError("late.jsonl", lines.join("\n"), { line: 101 });
  });
});

describe("large files", () => {
  it("parses 20,000 JSONL lines and 5,000 CSV rows quickly", async () => {
    const n = 20_000;
    const body = Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        id: `t${i}`,
        instruction: `Instruction number ${i} with some more words in it.`,
        category: "c",
      }),
    ).join("\r\n");
    const start = performance.now();
    const seeds = await read("big.jsonl", body);
    expect(seeds).toHaveLength(n);
    expect(seeds[n - 1]).toEqual({
      id: `t${n - 1}`,
      instruction: `Instruction number ${n - 1} with some more words in it.`,
      category: "c",
    });

    const csv = ["id,instruction", ...Array.from({ length: 5000 }, (_, i) => `${i},"Row ${i}, quoted ""text"""`)].join(
      "\n",
    );
    const rows = await read("big.csv", csv);
    expect(rows).toHaveLength(5000);
    expect(rows[4999]?.instruction).toBe('Row 4999, quoted "text"');

    const arr = JSON.stringify(
      Array.from({ length: n }, (_, i) => ({ instruction: `x${i}` })),
      null,
      1,
    );
    const fromArray = await read("big.json", arr);
    expect(fromArray).toHaveLength(n);
    // Linear, not quadratic: a generous bound that holds on a loaded 2-core machine (the reads take ~1 s idle).
    expect(performance.now() - start).toBeLessThan(60_000);
  });
});

describe("streaming (files larger than one read)", () => {
  const big = 1_200_000; // past the reader's 1 MB blocks

  it("JSONL with CRLF and multi-byte characters across block boundaries reads as a whole parse would", async () => {
    const lines: string[] = [];
    for (let i = 0, length = 0; length < 2.5 * big; i++) {
      lines.push(JSON.stringify({ id: `q${i}`, prompt: `Écris un poème ${"é".repeat(i % 97)} n°${i}` }));
      length += lines.at(-1)!.length + 2;
    }
    const text = `${lines.join("\r\n")}\r\n`;
    const path = await fixture("big.jsonl", text);
    const streamed = await readSeeds(path);
    expect(streamed).toEqual(parseSeeds(text, path));
    expect(streamed).toHaveLength(lines.length);
  });

  it("CSV with quoted fields spanning lines, far into the file", async () => {
    const rows = ["id,instruction"];
    for (let i = 0; i < 40_000; i++) rows.push(`r${i},"Line one of ${i}\nline two, with ""quotes"""`);
    const text = `${rows.join("\n")}\n`;
    const path = await fixture("big.csv", text);
    const streamed = await readSeeds(path);
    expect(streamed).toEqual(parseSeeds(text, path));
    expect(streamed.at(-1)?.instruction).toMatch(/^Line one of \d+\nline two, with "quotes"$/);
  });

  it("CSV errors past the first block name their line, in the file and in memory", async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => `r${i},"Row ${i}\nspans two lines"`);
    const head = `id,instruction\n${rows.join("\n")}\n`;
    // 1 header line + 2 lines per row, then two blank lines: the unclosed row starts on line 60,004.
    const unclosed = `${head}\n\nlast,"never closed\nstill going\n`;
    await expectError("late-open.csv", unclosed, { line: 60_004, contains: ["unterminated quote", "column 2"] });
    expect(() => parseSeeds(unclosed, "mem.csv")).toThrow(/mem\.csv:60004: unterminated quote/);
    await expectError("late-close.csv", `${head}x,"a"b\n`, { line: 60_002, contains: ["after the closing quote"] });
  });

  it("a CSV file's bad bytes past the first block are named by their line, and reading stops early cleanly", async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => `r${i},Row ${i} ${"x".repeat(30)}`);
    const bytes = Buffer.concat([
      Buffer.from(`id,instruction\n${rows.join("\n")}\n`),
      Buffer.from([0x61, 0x2c, 0xff, 0x0a]),
    ]);
    await expectError("late-utf8.csv", bytes, { line: 40_002, contains: ["UTF-8"] });
    const path = await fixture("early-stop.csv", `id,instruction\n${rows.join("\n")}\n`);
    const first: string[] = [];
    for await (const { seed } of streamSeeds(path)) if (first.push(seed.id) === 3) break;
    expect(first).toEqual(["r0", "r1", "r2"]);
  });

  it("a quote inside an unquoted CSV field is an error naming line and column (RFC 4180)", async () => {
    await expectError("inner-quote.csv", 'id,instruction\n1,say 5" tall\n', {
      line: 2,
      contains: ["column 2", "in quotes"],
    });
  });

  it("a bad line past the first block is named by its line", async () => {
    const good = Array.from({ length: 40_000 }, (_, i) =>
      JSON.stringify({ instruction: `Seed ${i} ${"x".repeat(30)}` }),
    );
    await expectError("late.jsonl", `${good.join("\n")}\n{not json\n`, { line: 40_001, contains: ["not valid JSON"] });
    const bytes = Buffer.concat([Buffer.from(`${good.join("\n")}\n`), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])]);
    await expectError("late-utf8.jsonl", bytes, { line: 40_001, contains: ["UTF-8"] });
    await expectError(
      "late-dup.jsonl",
      `${good.join("\n")}\n${JSON.stringify({ id: "seed-3", instruction: "again" })}\n`,
      {
        line: 40_001,
        contains: ['duplicate id "seed-3"', "line 3"],
      },
    );
  });
});

describe("readSeedSample: the seeds a run uses, from a file of any size", () => {
  it("merges identical seeds and samples as the file streams, as selectSeeds does on the whole list", async () => {
    const lines = [
      ...Array.from({ length: 10 }, (_, i) => ({
        id: `copy${i}`,
        instruction: i % 2 ? "Summarise  this article." : "Summarise this article.",
      })),
      ...Array.from({ length: 5 }, (_, i) => ({ id: `other${i}`, instruction: `Other task ${i}` })),
    ];
    const path = await fixture("dups.jsonl", jsonl(...lines));
    const { seeds, selection } = await readSeedSample(path, { sampleSize: 50, seed: 42, maxChars: 1000 });
    expect(seeds.map((seed) => seed.id)).toEqual(["copy0", "other0", "other1", "other2", "other3", "other4"]);
    expect(selection).toMatchObject({ read: 15, unique: 6, duplicates: 9, sampled: 6 });

    const many = Array.from({ length: 5000 }, (_, i) => ({ id: `m${i}`, instruction: `Task ${i % 3000}` }));
    const manyPath = await fixture("many.txt", many.map((seed) => seed.instruction).join("\n"));
    const sample = await readSeedSample(manyPath, { sampleSize: 20, seed: 7, maxChars: 1000 });
    const whole = selectSeeds(await readSeeds(manyPath), { sampleSize: 20, seed: 7 });
    expect(sample).toEqual(whole);
    expect(sample.selection).toMatchObject({ read: 5000, unique: 3000, sampled: 20 });
  });

  it("rejects a seed longer than the limit by file and line", async () => {
    const path = await fixture("long.jsonl", jsonl({ instruction: "short" }, { instruction: "x".repeat(5001) }));
    await expect(readSeedSample(path, { sampleSize: "all", seed: 1, maxChars: 5000 })).rejects.toThrow(
      new RegExp(
        `${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: the instruction is 5001 characters long, over the limit of 5000`,
      ),
    );
  });
});

const dataDir = fileURLToPath(new URL("../../data/benchmarks/", import.meta.url));
const realFiles: [string, number][] = [
  ["vicuna-80.jsonl", 80],
  ["mt-bench-80.jsonl", 80],
  ["koala-180.jsonl", 180],
  ["self-instruct-user-252.jsonl", 252],
  ["self-instruct-seed-175.jsonl", 175],
  ["evol-instruct-218.jsonl", 218],
];

describe("the evaluation sets shipped in data/benchmarks", () => {
  it.each(realFiles)("%s has %i records, unique ids, no \\r", async (name, count) => {
    const seeds = await readSeeds(join(dataDir, name));
    expect(seeds).toHaveLength(count);
    expect(new Set(seeds.map((s) => s.id)).size).toBe(count);
    for (const s of seeds) {
      expect(s.instruction).not.toContain("\r");
      expect(s.instruction).toBe(s.instruction.trim());
      expect(s.instruction.length).toBeGreaterThan(0);
    }
  });

  it("keeps ids and categories from each benchmark's own fields", async () => {
    const vicuna = await readSeeds(join(dataDir, "vicuna-80.jsonl"));
    expect(vicuna[0]).toEqual({
      id: "1",
      instruction: "How can I improve my time management skills?",
      category: "generic",
    });
    const mt = await readSeeds(join(dataDir, "mt-bench-80.jsonl"));
    expect(mt[0]?.id).toBe("81");
    expect(mt[0]?.category).toBe("writing");
    expect(mt[0]?.instruction).not.toContain("Rewrite your previous response");
    const evol = await readSeeds(join(dataDir, "evol-instruct-218.jsonl"));
    expect(evol[0]).toEqual({
      id: "1",
      instruction: "If a car travels 120 miles in 2 hours, what is its average speed in miles per hour?",
      category: "Math",
    });
    const koala = await readSeeds(join(dataDir, "koala-180.jsonl"));
    expect(koala[0]?.id).toBe("koala_0");
    expect(koala[0]?.category).toBeUndefined();
    const user = await readSeeds(join(dataDir, "self-instruct-user-252.jsonl"));
    expect(user[0]?.id).toBe("user_oriented_task_0");
    expect(user[0]?.category).toBe("Grammarly");
    expect(user[0]?.instruction).toMatch(/unnecessary words\.\n\nIf you have any questions about my rate/);
    const seed = await readSeeds(join(dataDir, "self-instruct-seed-175.jsonl"));
    expect(seed[0]?.id).toBe("seed_task_0");
    expect(seed[0]?.instruction).toBe(
      "Is there anything I can eat for a breakfast that doesn't include eggs, yet includes protein, and has roughly 700-1000 calories?",
    );
  });
});

/** Input-file fixtures for the readers' tests: files in a temporary folder, and the InputError they must raise. */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { InputError } from "../../io/input-error.js";

/**
 * A temporary folder for the calling test file (made before its tests, removed after); `fixture` writes `content`
 * to a fresh file named `name` in it and returns its path.
 */
export function inputFixtures(prefix: string): {
  fixture: (name: string, content: string | Uint8Array) => Promise<string>;
  /** The folder itself (set once the tests run). */
  folder: () => string;
} {
  let dir = "";
  let counter = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  return {
    folder: () => dir,
    async fixture(name, content) {
      const sub = join(dir, String(counter++));
      await mkdir(sub);
      const path = join(sub, name);
      await writeFile(path, content);
      return path;
    },
  };
}

export interface ExpectedInputError {
  /** The line the error names; `null`: none. */
  line?: number | null;
  contains?: (string | RegExp)[];
}

/** Asserts that `read` fails with an InputError naming `path` and (optionally) the line, and returns it. */
export async function expectInputError(
  path: string,
  read: () => Promise<unknown>,
  expected: ExpectedInputError,
): Promise<InputError> {
  const caught = await read().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(caught).toBeInstanceOf(InputError);
  const err = caught as InputError;
  expect(err.file).toBe(path);
  expect(err.message).toContain(path);
  if (expected.line === null) {
    expect(err.line).toBeUndefined();
    expect(err.message.startsWith(`${path}: `)).toBe(true);
  } else if (expected.line !== undefined) {
    expect(err.line).toBe(expected.line);
    expect(err.message.startsWith(`${path}:${expected.line}: `)).toBe(true);
  }
  for (const c of expected.contains ?? []) {
    if (typeof c === "string") expect(err.message).toContain(c);
    else expect(err.message).toMatch(c);
  }
  return err;
}

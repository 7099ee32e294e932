/**
 * Skips that say why, and that never hide in CI: under CI=true a test whose service, data or tool is missing
 * fails, naming what is missing, instead of skipping. Outside CI the skip prints its reason.
 */
import { describe, it } from "vitest";

export const inCI = /^(1|true|yes)$/i.test(process.env.CI ?? "");

/**
 * Returns true when the caller should skip (`describe.skipIf(skip(...))`). Under CI, or when `required`, a
 * missing prerequisite registers a failing test named after it instead.
 */
export function skipUnless(available: boolean, reason: string, options: { required?: boolean } = {}): boolean {
  if (available) return false;
  if (inCI || options.required) {
    describe("prerequisite", () => {
      it(`is present: ${reason}`, () => {
        throw new Error(`${reason}${inCI ? " (CI=true: this test must run, not skip)" : ""}`);
      });
    });
    return true;
  }
  console.warn(`[skipped] ${reason}`);
  return true;
}

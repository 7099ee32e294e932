import { InvalidArgumentError, Option } from "commander";
import { UsageError } from "./errors.js";

/** Commander value parsers that reject bad numbers with a message naming the problem. */
export function integer(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min)
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}, got "${value}"`);
    return parsed;
  };
}

export function decimal(min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(
        `expected a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ""}, got "${value}"`,
      );
    }
    return parsed;
  };
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Say once on stderr that a flag was renamed. */
export function warnDeprecated(old: string, replacement: string, why = ""): void {
  process.stderr.write(`codeclm: ${old} is deprecated: use ${replacement}${why ? ` (${why})` : ""}\n`);
}

/** eval/ablate: `--max-tokens` was the per-call limit there, but is a token budget in generate. */
export const deprecatedMaxTokens = () =>
  new Option("--max-tokens <n>", "deprecated: --max-output-tokens").argParser(integer(16)).hideHelp();

export function takeDeprecatedMaxTokens(flags: { maxTokens?: number; maxOutputTokens?: number }): void {
  if (flags.maxTokens === undefined) return;
  warnDeprecated("--max-tokens", "--max-output-tokens", "in generate --max-tokens is a token budget");
  flags.maxOutputTokens ??= flags.maxTokens;
  delete flags.maxTokens;
}

/** An old output flag kept as a hidden alias of `--out`. */
export const deprecatedOutAlias = (flag: string, value = "<file>") =>
  new Option(`${flag} ${value}`, "deprecated: --out").hideHelp();

/** `--out`, or the deprecated alias (with a warning); a usage error when both are given and differ. */
export function outFrom(out: string | undefined, old: string | undefined, alias: string): string | undefined {
  if (old === undefined) return out;
  warnDeprecated(alias, "--out");
  if (out !== undefined && out !== old) throw new UsageError(`give --out or ${alias}, not both`);
  return old;
}

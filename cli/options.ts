import { InvalidArgumentError } from "commander";

/** Commander value parsers that reject bad numbers with a message naming the problem. */
export function integer(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min) throw new InvalidArgumentError(`expected a whole number ≥ ${min}, got "${value}"`);
    return parsed;
  };
}

export function decimal(min: number, max = Number.POSITIVE_INFINITY) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`expected a number from ${min}${Number.isFinite(max) ? ` to ${max}` : ""}, got "${value}"`);
    }
    return parsed;
  };
}

export const collect = (value: string, previous: string[] = []) => [...previous, value];

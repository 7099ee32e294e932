/**
 * Command-line flags derived from a zod settings schema: a setting's flag name, description, default,
 * choices and value check all come from its one line in the schema (`lib/config.ts`, `eval/config.ts`).
 * A flag whose name must differ from the setting's path is listed in that command's `renamed` table.
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";

/** How one command names the settings of one schema. */
export interface FlagNaming {
  /** Dotted setting path -> flag name (without `--`), where the flag is not the path in kebab case; "" drops an object's prefix. */
  renamed?: Readonly<Record<string, string>>;
  /** Dotted paths with no generic flag (roles, files, free-form values). */
  skipped?: readonly string[];
  /** When given, only these dotted paths get a flag. */
  only?: readonly string[];
}

/** One setting reachable from the command line. */
export interface SettingFlag {
  /** Where the value goes in the settings object, e.g. ["budget", "maxCalls"]. */
  path: readonly string[];
  /** The flag without `--`, e.g. "max-calls". */
  name: string;
  /** Commander's key for the parsed value, e.g. "maxCalls". */
  attribute: string;
  schema: z.ZodType;
}

export const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
export const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** The schema inside defaults, optionals and nullables, with the default if there is one. */
function unwrapField(schema: z.ZodType): {
  inner: z.ZodType;
  defaultValue: unknown;
} {
  let inner = schema;
  let defaultValue: unknown;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) {
    if (inner instanceof z.ZodDefault && defaultValue === undefined) defaultValue = inner.def.defaultValue;
    inner = inner.unwrap() as z.ZodType;
  }
  return { inner, defaultValue };
}

/** The settings of `schema` that get a flag, in schema order (nested objects flattened). */
export function settingFlags(
  schema: z.ZodObject,
  naming: FlagNaming = {},
  path: string[] = [],
  prefix = "",
): SettingFlag[] {
  const flags: SettingFlag[] = [];
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    const fieldPath = [...path, key];
    const dotted = fieldPath.join(".");
    if (naming.skipped?.includes(dotted)) continue;
    const name = naming.renamed?.[dotted] ?? [prefix, kebab(key)].filter(Boolean).join("-");
    const { inner } = unwrapField(field);
    if (inner instanceof z.ZodObject) {
      flags.push(...settingFlags(inner, naming, fieldPath, name));
    } else if (!(inner instanceof z.ZodRecord) && (!naming.only || naming.only.includes(dotted))) {
      flags.push({
        path: fieldPath,
        name,
        attribute: camel(name),
        schema: field,
      });
    }
  }
  return flags;
}

/** `<n>`, `<x>`, `<n|all>`: what the flag takes, from the schema. */
function placeholder(schema: z.ZodType): string {
  if (schema instanceof z.ZodNumber) return schema.format === "safeint" || schema.isInt ? "n" : "x";
  if (schema instanceof z.ZodLiteral) return schema.values.size === 1 ? String([...schema.values][0]) : "value";
  if (schema instanceof z.ZodUnion)
    return (schema.options as z.ZodType[]).map((option) => placeholder(unwrapField(option).inner)).join("|");
  if (schema instanceof z.ZodEnum) return "choice";
  return "value";
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/** A commander value parser that checks the text with the setting's own schema (a number when it reads as one). */
export function schemaParser(schema: z.ZodType) {
  return (text: string): unknown => {
    const candidates: unknown[] = NUMBER.test(text.trim()) ? [Number(text), text] : [text];
    let message = "invalid value";
    for (const candidate of candidates) {
      const parsed = schema.safeParse(candidate);
      if (parsed.success) return parsed.data;
      if (message === "invalid value") message = parsed.error.issues[0]?.message ?? message;
    }
    throw new InvalidArgumentError(`${message}.`);
  };
}

const shownDefault = (value: unknown): string =>
  value === undefined || (typeof value === "object" && value !== null)
    ? ""
    : ` (default: ${typeof value === "string" ? value : JSON.stringify(value)})`;

/**
 * The commander options for one setting. No option carries a commander default (a flag given must
 * override the config file, a default must not), so the default is said in the description instead.
 * A boolean gets `--NAME` and `--no-NAME`, so either can override the file.
 */
export function optionsFor(name: string, schema: z.ZodType, description?: string): Option[] {
  const { inner, defaultValue } = unwrapField(schema);
  const text = `${description ?? schema.description ?? unwrapField(schema).inner.description ?? ""}${shownDefault(defaultValue)}`;
  if (inner instanceof z.ZodBoolean) {
    const off = new Option(`--no-${name}`, `turn off --${name}${defaultValue === true ? " (on by default)" : ""}`);
    return [new Option(`--${name}`, text), off];
  }
  const option = new Option(`--${name} <${placeholder(inner)}>`, text);
  if (inner instanceof z.ZodEnum) return [option.choices(inner.options.map(String))];
  return [option.argParser(schemaParser(schema))];
}

/** Register the flags of `settings` on `command`. */
export function addSettingOptions(command: Command, settings: readonly SettingFlag[]): Command {
  for (const setting of settings)
    for (const option of optionsFor(setting.name, setting.schema)) command.addOption(option);
  return command;
}

/** The settings the flags gave, as a nested partial settings object (flags not given are left out). */
export function settingsFromFlags(
  flags: Readonly<Record<string, unknown>>,
  settings: readonly SettingFlag[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const setting of settings) {
    const value = flags[setting.attribute];
    if (value === undefined) continue;
    let node = out;
    for (const key of setting.path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[setting.path.at(-1)!] = value;
  }
  return out;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** `over` laid on `base`, nested objects merged key by key (flags over the config file). */
export function overlay(
  base: Readonly<Record<string, unknown>>,
  over: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? overlay(out[key], value) : value;
  }
  return out;
}

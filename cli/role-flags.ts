import type { Command } from "commander";
import { type RoleSettings, RoleSettingsSchema } from "../lib/config.js";
import { camel, kebab, optionsFor } from "./schema-flags.js";

const ROLE_FIELDS = Object.entries(RoleSettingsSchema.shape).filter(([field]) => field !== "model");
const capitalised = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/**
 * `--NAME SPEC` and one `--NAME-FIELD` flag per other field of `RoleSettingsSchema` (base URL, API key
 * variable, structured-output method, concurrency), described and checked by the schema.
 * `model: false` leaves out `--NAME` itself (a command that takes the model another way); `label` names
 * the model in the descriptions (default `--NAME`).
 */
export function addRoleOptions(
  command: Command,
  name: string,
  description: string,
  options: { model?: boolean; label?: string } = {},
): Command {
  if (options.model !== false) command.option(`--${name} <spec>`, description);
  for (const [field, schema] of ROLE_FIELDS) {
    const text = `${options.label ?? `--${name}`}: ${schema.description ?? field}`;
    for (const option of optionsFor(`${name}-${kebab(field)}`, schema, text)) command.addOption(option);
  }
  return command;
}

/**
 * The one reading of role flags (generate, eval, ablate): each flag given over `base` (e.g. the config
 * file's role); undefined when neither names a model.
 */
export function roleFromFlags(
  flags: Readonly<Record<string, unknown>>,
  name: string,
  base?: RoleSettings,
): RoleSettings | undefined {
  const key = camel(name);
  const settings: Record<string, unknown> = { ...base };
  for (const field of Object.keys(RoleSettingsSchema.shape)) {
    const value = flags[field === "model" ? key : `${key}${capitalised(field)}`];
    if (value !== undefined && value !== "") settings[field] = value;
  }
  return typeof settings.model === "string" && settings.model !== "" ? (settings as RoleSettings) : undefined;
}

/** `flags` without role NAME's flags (ablate: its --judge is the evaluation's judge, not the run's). */
export function withoutRole<T extends Record<string, unknown>>(flags: T, name: string): T {
  const key = camel(name);
  const rest: Record<string, unknown> = { ...flags };
  for (const field of Object.keys(RoleSettingsSchema.shape))
    delete rest[field === "model" ? key : `${key}${capitalised(field)}`];
  return rest as T;
}

import type { Command } from "commander";
import type { RoleSettings } from "../lib/config.js";

/** `--NAME SPEC`, `--NAME-base-url URL`, `--NAME-api-key-env VAR` for one model of a command. */
export function addRoleOptions(command: Command, name: string, description: string): Command {
  return command
    .option(`--${name} <spec>`, description)
    .option(`--${name}-base-url <url>`, `OpenAI-compatible base URL for the ${name} model`)
    .option(`--${name}-api-key-env <var>`, `environment variable holding the ${name} model's API key`);
}

const camel = (name: string) => name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** The role settings given by `addRoleOptions` flags; undefined when `--NAME` is absent. */
export function roleSettingsFrom(flags: Record<string, unknown>, name: string): RoleSettings | undefined {
  const key = camel(name);
  const model = flags[key];
  if (typeof model !== "string" || model === "") return undefined;
  const baseUrl = flags[`${key}BaseUrl`];
  const apiKeyEnv = flags[`${key}ApiKeyEnv`];
  return {
    model,
    ...(typeof baseUrl === "string" ? { baseUrl } : {}),
    ...(typeof apiKeyEnv === "string" ? { apiKeyEnv } : {}),
  };
}

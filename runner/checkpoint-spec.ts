/** Where checkpoints go, parsed and described without loading a checkpointer (the CLI checks it before a run). */
import { resolve } from "node:path";

export type CheckpointSpec = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string } | { kind: "none" };

/** `postgres://…` / `postgresql://…`, `none`, `sqlite:PATH` or a file path; absent: the default SQLite file. */
export function parseCheckpointSpec(value: string | undefined, defaultPath: string): CheckpointSpec {
  const text = value?.trim();
  if (!text) return { kind: "sqlite", path: resolve(defaultPath) };
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: "postgres", url: text };
  if (text === "none") return { kind: "none" };
  return { kind: "sqlite", path: resolve(text.replace(/^sqlite:/i, "")) };
}

/** For messages and the run-state file: never the Postgres URL itself (it may hold a password). */
export function describeCheckpoint(spec: CheckpointSpec): string {
  if (spec.kind === "sqlite") return `sqlite:${spec.path}`;
  if (spec.kind === "none") return "none";
  try {
    const url = new URL(spec.url);
    return `postgres://${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
  } catch {
    return "postgres";
  }
}

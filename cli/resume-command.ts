/** The command that continues a stopped run, printed without any database password. */
/** Quote a command-line argument for a POSIX shell when it needs it. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

/** A password in a connection URL (postgres://user:password@host/db), or undefined. */
export function urlPassword(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.password ? decodeURIComponent(url.password) : undefined;
  } catch {
    return undefined;
  }
}

/** A connection URL without its password (`postgres://bob:pw@db/x` → `postgres://bob@db/x`); other text as is. */
export function withoutUrlPassword(arg: string): string {
  const flag = /^(--[\w-]+=)(.*)$/s.exec(arg);
  if (flag) return `${flag[1]}${withoutUrlPassword(flag[2]!)}`;
  const password = urlPassword(arg);
  if (!password) return arg;
  const start = arg.indexOf("://") + 3;
  const slash = arg.slice(start).search(/[/?#]/);
  const authority = slash < 0 ? arg.slice(start) : arg.slice(start, start + slash);
  const at = authority.lastIndexOf("@");
  const colon = authority.indexOf(":");
  if (at < 0 || colon < 0 || colon > at) return arg;
  return `${arg.slice(0, start + colon)}${arg.slice(start + at)}`;
}

/**
 * The command that continues this run: the same arguments, `--resume` instead of `--force`. A password
 * in a URL is left out, so the command runs as printed once PGPASSWORD is set (libpq and node-postgres
 * read it when the URL has no password).
 */
export function resumeCommandFrom(args: readonly string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = withoutUrlPassword(args[i]!);
    if (arg === "--force" || arg === "--dry-run") continue;
    if (arg === "--resume") {
      if (args[i + 1] && !args[i + 1]!.startsWith("-")) i++;
      continue;
    }
    if (arg.startsWith("--resume=")) continue;
    kept.push(arg);
  }
  return ["codeclm", ...kept.map(shellQuote), "--resume"].join(" ");
}

/** What to add after a printed resume command whose database password was left out. */
export const passwordNote = (args: readonly string[]): string =>
  args.some((arg) => withoutUrlPassword(arg) !== arg)
    ? " (set PGPASSWORD to the database password first: it is not repeated here)"
    : "";

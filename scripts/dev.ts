/**
 * `npm run dev`: the LangGraph dev server (and so LangGraph Studio) for the graph in langgraph.json, on
 * 127.0.0.1 and a free port (2024, the CLI's default, is often taken), with the CLI's analytics off.
 * `npm run dev -- --port 8123` picks the port; other flags go to `langgraphjs dev` as they are.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A port nothing listens on now: the OS picks it. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `--port N` / `--port=N` from the arguments, and the arguments without it. */
export function takePort(args: readonly string[]): { port?: number; rest: string[] } {
  const rest: string[] = [];
  let port: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--port" || arg === "-p") port = Number(args[++i]);
    else if (arg.startsWith("--port=")) port = Number(arg.slice("--port=".length));
    else rest.push(arg);
  }
  return { port: port !== undefined && Number.isInteger(port) && port > 0 ? port : undefined, rest };
}

async function main(): Promise<void> {
  const { port: asked, rest } = takePort(process.argv.slice(2));
  const port = asked ?? (await freePort());
  // Keys come from the shell, or from .env when there is one (graphs/studio.ts reads it): none is created.
  const cli = join(root, "node_modules", "@langchain", "langgraph-cli", "dist", "cli", "cli.mjs");
  const child = spawn(
    process.execPath,
    [cli, "dev", "--host", "127.0.0.1", "--port", String(port), "--no-browser", ...rest],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, LANGGRAPH_CLI_NO_ANALYTICS: "1" },
    },
  );
  process.stderr.write(
    `codeclm dev server: http://127.0.0.1:${port} (Studio: https://smith.langchain.com/studio/?baseUrl=http://127.0.0.1:${port})\n`,
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();

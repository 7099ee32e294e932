/**
 * What a LangGraph user types first, `npx @langchain/langgraph-cli dev`, on a fresh clone: no `.env`.
 * The project's tracked files are copied (with node_modules linked) to a folder of their own, and the
 * CLI is started there as npx starts it. It must serve the graph; with a `.env` it must read the keys
 * from it (here the OpenAI base URL and key of the local OpenAI-protocol server, which a run then uses).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/dev.js";
import { startCodecServer } from "../support/codec-server.js";
import type { FakeOpenAIServer } from "../support/openai-server.js";
import { stopProcessGroup } from "../support/process-group.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const READY_MS = 60_000;
const ENVIRONMENTAL = /EADDRINUSE|EACCES|EPERM|ENOSPC|EMFILE/;

/** The files a clone has (tracked ones, as they are in the working tree), node_modules linked. */
async function freshClone(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "codeclm-clone-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
    .split("\0")
    .filter((file) => file !== "");
  for (const file of files) {
    if (file.startsWith("data/") || !existsSync(join(root, file))) continue;
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await cp(join(root, file), join(dir, file));
  }
  await symlink(realpathSync(join(root, "node_modules")), join(dir, "node_modules"));
  return dir;
}

interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
}

/** `npx @langchain/langgraph-cli dev`: npx runs the installed package's bin. */
async function startNpxDev(cwd: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(
    "npx",
    ["--no-install", "@langchain/langgraph-cli", "dev", "--host", "127.0.0.1", "--port", String(port), "--no-browser"],
    {
      cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        NO_COLOR: "1",
        BROWSER: "none",
        LANGGRAPH_CLI_NO_ANALYTICS: "1",
      },
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, url: `http://127.0.0.1:${port}`, log: () => output };
}

async function waitReady(server: Server): Promise<boolean> {
  const deadline = Date.now() + READY_MS;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return false;
    try {
      if ((await fetch(`${server.url}/ok`, { signal: AbortSignal.timeout(1_000) })).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

const stop = (server: Server | undefined): Promise<void> => stopProcessGroup(server?.child);

describe("npx @langchain/langgraph-cli dev on a fresh clone", () => {
  let clone: string;
  let models: FakeOpenAIServer;
  let server: Server | undefined;

  beforeAll(async () => {
    clone = await freshClone();
    models = await startCodecServer();
  }, 60_000);
  afterAll(async () => {
    await stop(server);
    await models?.close();
    if (clone) await rm(clone, { recursive: true, force: true });
  }, 20_000);

  async function serve(ctx: { skip: (reason: string) => void }): Promise<Client> {
    server = await startNpxDev(clone);
    if (!(await waitReady(server))) {
      const log = server.log();
      if (ENVIRONMENTAL.test(log)) ctx.skip(`the dev server could not start here: ${log.match(ENVIRONMENTAL)![0]}`);
      throw new Error(`the dev server did not come up:\n${log.slice(-4000)}`);
    }
    return new Client({ apiUrl: server.url });
  }

  it("with no .env: serves the graph (and creates no .env)", { timeout: READY_MS + 30_000 }, async (ctx) => {
    expect(existsSync(join(clone, ".env"))).toBe(false);
    const client = await serve(ctx);
    const assistants = await client.assistants.search({ graphId: "codeclm" });
    expect(assistants).toHaveLength(1);
    expect(existsSync(join(clone, ".env"))).toBe(false);
    await stop(server);
  });

  it("with a .env: the keys in it reach the models", { timeout: READY_MS + 90_000 }, async (ctx) => {
    await writeFile(join(clone, ".env"), `OPENAI_BASE_URL=${models.url}\nOPENAI_API_KEY=sk-test-from-dotenv\n`);
    const client = await serve(ctx);
    const [assistant] = await client.assistants.search({ graphId: "codeclm" });
    const thread = await client.threads.create();
    const before = models.counters.completed;
    const result = (await client.runs.wait(thread.thread_id, assistant!.assistant_id, {
      input: {
        seeds: [
          { id: "s1", instruction: "Write a short poem about the sea." },
          { id: "s2", instruction: "Explain binary search." },
        ],
      },
      // No base URL or key here: they come from .env.
      context: {
        strong: { model: "openai:strong-model" },
        target: { model: "openai:target-model" },
        size: 2,
        poolSize: 2,
        seed: 3,
      },
    })) as { summary?: { status: string; kept: number } };
    expect(result.summary).toMatchObject({ status: "complete", kept: 2 });
    expect(models.counters.completed).toBeGreaterThan(before);
  });
});

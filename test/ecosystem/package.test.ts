/**
 * A real package: `npm pack` (which builds dist/ first), install the tarball in a scratch project, run
 * the `codeclm` bin, import the library, and typecheck a consumer against the shipped declarations.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { writeConsumerProject } from "../support/consumer-lock.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const env = {
  ...process.env,
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
};

const CONSUMER = `import { type KeptPair, createCodecGraph, createCodecTool, resolveConfig, toTrainingRecord } from "codeclm";
const graph = createCodecGraph();
const size: number = resolveConfig({ size: 3 }).size;
const toRecord = (pair: KeptPair) => toTrainingRecord(pair, "openai-chat", "Be helpful.");
const tool = createCodecTool({ outputDir: "out" });
export { graph, size, toRecord, tool };
`;

describe("the npm package", () => {
  const scratch: string[] = [];
  afterAll(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it("packs dist/ with declarations, installs from the tarball, runs its bin and imports as a library", async () => {
    const packDir = await mkdtemp(join(tmpdir(), "codeclm-pack-"));
    const project = await mkdtemp(join(tmpdir(), "codeclm-consumer-"));
    scratch.push(packDir, project);
    const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };

    const packed = await run(npm, ["pack", "--json", "--pack-destination", packDir], {
      cwd: root,
      env,
      maxBuffer: 16 << 20,
    });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{
      filename: string;
      integrity: string;
      files: Array<{ path: string }>;
    }>;
    const files = info!.files.map((file) => file.path);
    for (const path of [
      "package.json",
      "README.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli/main.js",
      "dist/agent/tool.d.ts",
    ]) {
      expect(files).toContain(path);
    }
    // The evaluation sets ship with their README (sources, licences), and nothing else outside dist/.
    for (const path of [
      "data/benchmarks/README.md",
      "data/benchmarks/vicuna-80.jsonl",
      "data/benchmarks/evol-instruct-218.jsonl",
    ])
      expect(files).toContain(path);
    expect(
      files.filter(
        (path) =>
          !path.startsWith("dist/") &&
          !path.startsWith("data/benchmarks/") &&
          !["package.json", "README.md", "LICENSE"].includes(path),
      ),
    ).toEqual([]);
    expect(files.some((path) => /\.test\.|^dist\/test\//.test(path))).toBe(false);

    // Install it as a user would, offline (from the npm cache that installed this project: no registry), with
    // the project's lock (test/support/consumer-lock.ts); native llama.cpp binaries (optional, for local: models)
    // are not needed here.
    await writeConsumerProject(root, project, { path: join(packDir, info!.filename), integrity: info!.integrity });
    await run(npm, ["install", "--offline", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: project,
      env,
      maxBuffer: 16 << 20,
    });

    const bin = join(project, "node_modules", ".bin", "codeclm");
    const help = await run(bin, ["--help"], { cwd: project, env });
    expect(help.stdout).toContain("generate");
    expect(help.stdout).toContain("export");
    expect((await run(bin, ["--version"], { cwd: project, env })).stdout.trim()).toBe(version);

    const imported = await run(
      process.execPath,
      [
        "-e",
        "import('codeclm').then((m) => console.log(JSON.stringify([typeof m.createCodecGraph, typeof m.createCodecTool, typeof m.runToFiles, m.EXPORT_FORMATS])))",
      ],
      { cwd: project, env },
    );
    expect(JSON.parse(imported.stdout)).toEqual([
      "function",
      "function",
      "function",
      ["openai-chat", "alpaca", "sharegpt", "jsonl"],
    ]);

    // Built-in evaluation sets resolve inside the installed package (dist/io/ -> data/benchmarks/).
    const vicuna = await run(
      process.execPath,
      [
        "-e",
        "import('codeclm').then(async (m) => console.log((await m.readSeeds(m.resolveBenchmark('vicuna'))).length))",
      ],
      { cwd: project, env },
    );
    expect(vicuna.stdout.trim()).toBe("80");

    // The shipped declarations type a consumer's code (and catch its mistakes).
    await writeFile(join(project, "consumer.ts"), CONSUMER);
    const tsconfig = {
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ["consumer.ts"],
    };
    await writeFile(join(project, "tsconfig.json"), JSON.stringify(tsconfig));
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    await run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env });
    await writeFile(join(project, "consumer.ts"), `${CONSUMER}export const wrong: string = size;\n`);
    await expect(run(process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: project, env })).rejects.toMatchObject({
      stdout: expect.stringContaining("Type 'number' is not assignable to type 'string'"),
    });
  }, 300_000);
});

/**
 * A consumer project that installs the packed tarball offline, from the npm cache alone. npm resolves a bare
 * `npm install TARBALL` through the registry's package documents, which the cache holds only for packages someone
 * once installed by name; a lock naming each package's tarball address and integrity needs none of them (the
 * tarballs are in the cache by integrity, put there by the project's own install). The lock is the project's own,
 * less its dev-only packages, under the consumer's root.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

interface LockEntry {
  version?: string;
  resolved?: string;
  name?: string;
  dev?: boolean;
  link?: boolean;
  license?: string;
  dependencies?: Record<string, string>;
  bin?: unknown;
  engines?: unknown;
}

const REGISTRY = "https://registry.npmjs.org";

function withTarballAddress(path: string, entry: LockEntry): LockEntry {
  if (entry.resolved || !entry.version) return entry;
  const name = entry.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
  const base = name.slice(name.lastIndexOf("/") + 1);
  return { ...entry, resolved: `${REGISTRY}/${name}/-/${base}-${entry.version}.tgz` };
}

export async function writeConsumerProject(
  projectRoot: string,
  consumerDir: string,
  tarball: { path: string; integrity: string },
): Promise<void> {
  const lock = JSON.parse(await readFile(join(projectRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const root = lock.packages[""]!;
  const spec = `file:${tarball.path}`;
  const packages: Record<string, LockEntry | Record<string, unknown>> = {
    "": { name: "consumer", dependencies: { codeclm: spec } },
    "node_modules/codeclm": {
      version: root.version,
      resolved: spec,
      integrity: tarball.integrity,
      license: root.license,
      dependencies: root.dependencies,
      ...(root.bin ? { bin: root.bin } : {}),
      ...(root.engines ? { engines: root.engines } : {}),
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || entry.dev || entry.link) continue;
    packages[path] = withTarballAddress(path, entry);
  }
  const manifest = { name: "consumer", private: true, type: "module", dependencies: { codeclm: spec } };
  await writeFile(join(consumerDir, "package.json"), JSON.stringify(manifest));
  await writeFile(
    join(consumerDir, "package-lock.json"),
    JSON.stringify({ name: "consumer", lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

import { type CodecConfig, judgeSettings } from "../lib/config.js";
import type { ModelRole } from "../lib/records.js";
import { resolveLocalModel } from "../models/local/index.js";
import { expandLocalDefault } from "../models/local/resolve.js";
import { parseModelSpec } from "../models/spec.js";

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A download progress bar on a TTY; a line every 10% otherwise. */
function progressBar(label: string, quiet: boolean) {
  let lastTenth = -1;
  return ({ downloadedBytes, totalBytes }: { downloadedBytes: number; totalBytes?: number }) => {
    if (quiet) return;
    const fraction = totalBytes ? downloadedBytes / totalBytes : 0;
    if (process.stderr.isTTY) {
      const width = 30;
      const filled = Math.round(fraction * width);
      const total = totalBytes ? ` of ${formatBytes(totalBytes)}` : "";
      process.stderr.write(
        `\r${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${formatBytes(downloadedBytes)}${total}`,
      );
      if (totalBytes && downloadedBytes >= totalBytes) process.stderr.write("\n");
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      process.stderr.write(`${label}: ${Math.round(fraction * 100)}% (${formatBytes(downloadedBytes)})\n`);
    }
  };
}

/**
 * Resolve every `local:` role before the run: a user's GGUF is checked (a broken file gets a clear error,
 * never a native abort), a model URI is downloaded once into the cache, resuming a broken download.
 * With no network and no cached copy this fails fast with the ways forward.
 */
export async function prepareLocalModels(
  config: CodecConfig,
  options: { quiet: boolean; roles?: readonly ModelRole[] },
): Promise<void> {
  const specs = new Set<string>();
  const byRole = { strong: config.strong, target: config.target, judge: judgeSettings(config) };
  for (const role of options.roles ?? (["strong", "target", "judge"] as const)) {
    const settings = byRole[role];
    const spec = parseModelSpec(settings.model);
    if (spec.provider === "local") specs.add(expandLocalDefault(spec.model));
  }
  for (const spec of specs) {
    const resolved = await resolveLocalModel(spec, {
      onProgress: progressBar(`codeclm: downloading ${spec}`, options.quiet),
    });
    if (resolved.source === "download" && !options.quiet)
      process.stderr.write(`codeclm: cached ${spec} at ${resolved.path}\n`);
  }
}

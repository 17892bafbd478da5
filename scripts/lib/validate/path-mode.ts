/** Path mode: any files and folders of manifests (and `-` for stdin), like kubeconform on files. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../cli/run-main.ts";
import type { ValidateConfig } from "./config.ts";
import type { FileInput, Scope } from "./engine.ts";

const MANIFEST = /\.(ya?ml|json)$/;

async function expand(p: string): Promise<string[]> {
  const st = statSync(p);
  if (st.isFile()) return [p];
  // A FIFO, a device or a socket named on the command line would block or never end.
  if (!st.isDirectory()) throw new UsageError(`${p} is not a regular file or a folder; not read`);
  const out: string[] = [];
  for (const e of await readdir(p, { withFileTypes: true })) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const child = path.join(p, e.name);
    if (e.isDirectory()) out.push(...(await expand(child)));
    else if (e.isFile() && MANIFEST.test(e.name)) out.push(child);
  }
  return out.sort();
}

export async function collectPaths(
  paths: readonly string[],
  config: ValidateConfig,
  cwd: string,
  stdin?: string,
): Promise<Scope> {
  if (paths.length === 0) throw new UsageError("no paths given");
  const files: FileInput[] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    if (p === "-") {
      if (stdin === undefined) throw new UsageError("'-' given but no standard input was provided");
      files.push({ file: "<stdin>", text: stdin, kind: "manifests" });
      continue;
    }
    const full = path.resolve(cwd, p);
    if (!existsSync(full)) throw new UsageError(`no such file or folder: ${p}`);
    for (const f of await expand(full)) {
      if (seen.has(f)) continue;
      seen.add(f);
      const shown = path.relative(cwd, f);
      files.push({
        file: shown.startsWith("..") ? f : shown,
        // Synchronous on purpose: thousands of small files, each awaited in turn, cost more in
        // event-loop round trips than in reading.
        text: readFileSync(f, "utf8"),
        kind: "manifests",
        diskPath: f,
      });
    }
  }
  return {
    files,
    complete: false,
    platform: {
      gateways: config.platformGateways,
      opaqueNamespaces: new Set(config.opaqueNamespaces),
      rootNamespace: config.rootNamespace,
      clusterDomain: config.clusterDomain,
    },
  };
}

/**
 * The schema layer: ONE kubeconform run (-strict, -output json) over every manifest file, through
 * the pinned-tool wrapper; its results are mapped back to file, line and column.
 */
import { execFile } from "node:child_process";
import os from "node:os";
import { pointerToPath } from "../yaml-source.ts";
import { resolveTool } from "../tools/resolve.ts";

export interface KubeconformOptions {
  schemaLocations: string[];
  kubernetesVersion: string;
  skipKinds: string[];
  env?: NodeJS.ProcessEnv;
}

export interface KubeconformResult {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: string;
  msg: string;
  validationErrors?: Array<{ path: string; msg: string }>;
}

export function kubeconformArgs(files: readonly string[], o: KubeconformOptions): string[] {
  const args = [
    "-strict",
    "-output",
    "json",
    "-kubernetes-version",
    o.kubernetesVersion,
    "-n",
    String(Math.max(2, os.availableParallelism())),
  ];
  for (const loc of o.schemaLocations) args.push("-schema-location", loc);
  if (o.skipKinds.length) args.push("-skip", o.skipKinds.join(","));
  return [...args, ...files];
}

export async function resolveKubeconform(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return resolveTool("kubeconform", { env });
}

/**
 * Runs kubeconform once over the files and returns its per-resource results (errors and invalid
 * ones). With `bin` given, the process starts before this function first yields, so it runs in
 * parallel with whatever synchronous work the caller does next.
 */
export async function runKubeconform(
  files: readonly string[],
  o: KubeconformOptions,
  bin?: string,
): Promise<KubeconformResult[]> {
  if (files.length === 0) return [];
  bin ??= await resolveKubeconform(o.env);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      bin as string,
      kubeconformArgs(files, o),
      { maxBuffer: 512 * 1024 * 1024, env: o.env ?? process.env },
      (err, out, stderr) => {
        // Exit code 1 means "invalid resources found"; the JSON is on stdout either way.
        if (err && !out) reject(new Error(`kubeconform failed: ${String(stderr || err.message).trim()}`));
        else resolve(out);
      },
    );
  });
  let parsed: { resources?: KubeconformResult[] };
  try {
    parsed = JSON.parse(stdout) as { resources?: KubeconformResult[] };
  } catch {
    throw new Error(`kubeconform printed something other than JSON: ${stdout.slice(0, 300)}`);
  }
  return parsed.resources ?? [];
}

export interface SchemaProblem {
  path: Array<string | number>;
  message: string;
  missingSchema: boolean;
}

/** Turns one kubeconform result into located problems (paths inside the resource). */
export function problemsOf(r: KubeconformResult): SchemaProblem[] {
  if (r.status === "statusError" && /could not find schema/.test(r.msg)) {
    return [
      {
        path: ["kind"],
        message: `no schema for ${r.kind} (${r.version}) at the configured schema locations`,
        missingSchema: true,
      },
    ];
  }
  if (r.validationErrors?.length) {
    return r.validationErrors.map((e) => {
      const base = pointerToPath(e.path);
      const extra = /additional properties '([^']+)'/.exec(e.msg)?.[1];
      return {
        path: extra ? [...base, extra] : base,
        message: `${e.path || "/"}: ${e.msg}`,
        missingSchema: false,
      };
    });
  }
  // Errors without a path: "at '/spec/x': ..." inside the message, or nothing at all.
  const at = /at '([^']*)'/.exec(r.msg);
  const msg = r.msg
    .replace(/^problem validating schema\. Check JSON formatting: /, "")
    .replace(/jsonschema validation failed with '[^']*' - /, "");
  return [{ path: at?.[1] ? pointerToPath(at[1]) : [], message: msg, missingSchema: false }];
}

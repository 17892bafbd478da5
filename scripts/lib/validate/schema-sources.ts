/**
 * Which schema locations a run uses, and the fail-fast check of the remote ones.
 *
 *   - VALIDATE_SCHEMA_ROOT or `schemaLocations:` in .validate.yaml: exactly those (CI's mirror);
 *   - otherwise the pinned bundle (schema-bundle.ts), which serves every kind the repository
 *     renders: repo mode needs no network at all;
 *   - path mode on arbitrary files may add the public upstreams after the bundle, for kinds the
 *     bundle lacks, only when asked (`remoteSchemas: true`, --remote-schemas).
 *
 * Remote locations are probed once per host before anything else runs: kubeconform would retry an
 * unreachable one with back-off for every resource, for many minutes, saying nothing.
 */
import { UPSTREAM_SCHEMA_LOCATIONS, type ValidateConfig } from "./config.ts";
import { bundleSchemaLocations } from "./schema-bundle.ts";
import { PROBE_TIMEOUT_MS, UnreachableError, unreachable } from "../net/reachable.ts";

/** What kubeconform's `default` location fetches from. */
export const KUBECONFORM_DEFAULT_URL =
  "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/";

export function isRemote(loc: string): boolean {
  return loc === "default" || /^https?:\/\//i.test(loc);
}

export async function effectiveSchemaLocations(
  config: ValidateConfig,
  mode: "repo" | "paths",
  bundleCacheRoot: string,
  remoteSchemas = config.remoteSchemas,
): Promise<string[]> {
  if (config.schemaSource !== "default") return config.schemaLocations;
  const bundle = (await bundleSchemaLocations(bundleCacheRoot)) ?? [];
  if (mode === "paths" && remoteSchemas) return [...bundle, ...UPSTREAM_SCHEMA_LOCATIONS];
  return bundle.length ? bundle : UPSTREAM_SCHEMA_LOCATIONS;
}

/**
 * Throws ONE UnreachableError naming every unreachable location, what needed it and how to run
 * offline; resolves when every remote location's host answers (or there is none).
 */
export async function checkSchemaLocations(
  locations: readonly string[],
  neededBy: string,
  config: Pick<ValidateConfig, "schemaSource">,
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<void> {
  const remote = locations.filter(isRemote);
  if (!remote.length) return;
  const urls = remote.map((l) => (l === "default" ? KUBECONFORM_DEFAULT_URL : l));
  const down = await unreachable(urls, timeoutMs);
  if (!down.length) return;
  const where =
    config.schemaSource === "config"
      ? "remove it from schemaLocations in .validate.yaml (the pinned bundle, scripts/schemas/bundle.json.gz, serves the repository's kinds)"
      : "drop --remote-schemas / remoteSchemas: true (the pinned bundle alone serves the repository's kinds)";
  throw new UnreachableError(
    `schema location unreachable: ${down.map((d) => `${d.url} (${d.reason})`).join("; ")}. ` +
      `kubeconform needs it for ${neededBy} and would retry it for every resource. ` +
      `Offline: set VALIDATE_SCHEMA_ROOT to a schema mirror in kubeconform's layout (e.g. ../shared/schemas), or ${where}`,
  );
}

/**
 * The validator's configuration: `.validate.yaml` at the repository root, then environment
 * overrides (VALIDATE_SCHEMA_ROOT, VALIDATE_CRD_DIR), then built-in defaults (public upstreams).
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../cli/run-main.ts";
import { DEFAULT_YAML_LIMITS, parseYaml, type YamlLimits } from "../yaml-source.ts";
import { asArray, asObj, asStringMap, isObj } from "./resource.ts";
import type { PlatformGateway } from "./resource-index.ts";

export const CONFIG_FILE = ".validate.yaml";

/** kubeconform's own default location, and the datreeio CRDs-catalog for custom resources. */
export const UPSTREAM_SCHEMA_LOCATIONS = [
  "default",
  "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json",
];

/** The offline mirror's layout (shared/schemas/README.md), relative to its root. */
export function mirrorSchemaLocations(root: string): string[] {
  return [
    path.join(
      root,
      "kubernetes/{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}/{{.ResourceKind}}{{.KindSuffix}}.json",
    ),
    path.join(root, "crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"),
  ];
}

export interface Suppression {
  rule: string;
  /** Glob on the finding's file (`*` within a segment, `**` across). */
  file?: string;
  /** `Kind/namespace/name` or `Kind/name`; `*` allowed. */
  resource?: string;
  reason: string;
}

export interface ValidateConfig {
  /** Folder the relative paths of the configuration are resolved against. */
  root: string;
  kubernetesVersion: string;
  schemaLocations: string[];
  /** Folders of CRD YAML files whose CEL rules are evaluated (besides the JSON schemas). */
  crdDirs: string[];
  /** Kinds kubeconform skips on purpose; each with a reason. */
  skipKinds: Array<{ kind: string; reason: string }>;
  platformGateways: PlatformGateway[];
  opaqueNamespaces: string[];
  rootNamespace: string;
  clusterDomain: string;
  limits: YamlLimits;
  suppressions: Suppression[];
  /**
   * Offline chart mirror (CHART_MIRROR, else `chartMirror:`): platform charts missing from the
   * chart cache are taken from there. Absent: only the cache (`pnpm charts` fills it online).
   */
  chartMirror?: string;
  /**
   * Path mode without VALIDATE_SCHEMA_ROOT or schemaLocations: after the pinned bundle, also try
   * the public upstreams for kinds the bundle lacks (`remoteSchemas: true` or --remote-schemas).
   */
  remoteSchemas: boolean;
  /** Whether schema locations came from VALIDATE_SCHEMA_ROOT (shown in reports). */
  schemaSource: "config" | "env" | "default";
}

const KNOWN_KEYS = new Set([
  "kubernetesVersion",
  "schemaLocations",
  "crdDirs",
  "skipKinds",
  "platformGateways",
  "opaqueNamespaces",
  "rootNamespace",
  "clusterDomain",
  "limits",
  "suppressions",
  "chartMirror",
  "remoteSchemas",
]);

function configError(message: string): never {
  throw new UsageError(`${CONFIG_FILE}: ${message}`);
}

export function loadConfig(root: string, env: NodeJS.ProcessEnv = process.env): ValidateConfig {
  const file = path.join(root, CONFIG_FILE);
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    const parsed = parseYaml(readFileSync(file, "utf8"), CONFIG_FILE);
    if (parsed.findings.length)
      configError(parsed.findings.map((f) => `${f.line}:${f.column} ${f.message}`).join("; "));
    const v = parsed.documents[0]?.value;
    if (v !== undefined && !isObj(v)) configError("must be a mapping");
    raw = (v as Record<string, unknown> | undefined) ?? {};
  }
  for (const k of Object.keys(raw))
    if (!KNOWN_KEYS.has(k)) configError(`unknown key '${k}' (known: ${[...KNOWN_KEYS].join(", ")})`);
  return resolveConfig(root, raw, env);
}

export function resolveConfig(
  root: string,
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ValidateConfig {
  const strings = (key: string): string[] | undefined => {
    if (raw[key] === undefined) return undefined;
    const list = asArray(raw[key]);
    if (!Array.isArray(raw[key]) || list.some((s) => typeof s !== "string"))
      configError(`${key} must be a list of strings`);
    return list as string[];
  };
  const resolveLocal = (loc: string) =>
    loc === "default" || /^https?:\/\//.test(loc) || path.isAbsolute(loc) ? loc : path.resolve(root, loc);

  let schemaLocations = strings("schemaLocations")?.map(resolveLocal);
  let schemaSource: ValidateConfig["schemaSource"] = schemaLocations ? "config" : "default";
  if (env.VALIDATE_SCHEMA_ROOT) {
    schemaLocations = mirrorSchemaLocations(path.resolve(root, env.VALIDATE_SCHEMA_ROOT));
    schemaSource = "env";
  }
  let crdDirs = (strings("crdDirs") ?? []).map((d) => path.resolve(root, d));
  if (env.VALIDATE_CRD_DIR)
    crdDirs = env.VALIDATE_CRD_DIR.split(path.delimiter)
      .filter(Boolean)
      .map((d) => path.resolve(root, d));

  const skipKinds = asArray(raw.skipKinds).map((s, i) => {
    const o = asObj(s);
    if (typeof o.kind !== "string" || typeof o.reason !== "string" || !o.reason.trim())
      configError(`skipKinds[${i}] needs kind and a non-empty reason`);
    return { kind: o.kind, reason: o.reason };
  });
  const platformGateways = asArray(raw.platformGateways).map((g, i) => {
    const o = asObj(g);
    if (typeof o.namespace !== "string" || !isObj(o.labels))
      configError(`platformGateways[${i}] needs namespace and labels`);
    return {
      namespace: o.namespace,
      labels: asStringMap(o.labels),
      origin: `platform gateway ${String(o.name ?? o.namespace)} (${CONFIG_FILE})`,
    };
  });
  const suppressions = asArray(raw.suppressions).map((s, i) => {
    const o = asObj(s);
    if (typeof o.rule !== "string") configError(`suppressions[${i}] needs a rule`);
    if (typeof o.reason !== "string" || !o.reason.trim())
      configError(`suppressions[${i}] (${o.rule}) needs a reason`);
    if (o.file === undefined && o.resource === undefined)
      configError(`suppressions[${i}] (${o.rule}) needs a file or a resource to apply to`);
    return {
      rule: o.rule,
      reason: o.reason,
      ...(typeof o.file === "string" ? { file: o.file } : {}),
      ...(typeof o.resource === "string" ? { resource: o.resource } : {}),
    };
  });
  const limits = asObj(raw.limits);
  if (raw.chartMirror !== undefined && typeof raw.chartMirror !== "string")
    configError("chartMirror must be a folder path");
  if (raw.remoteSchemas !== undefined && typeof raw.remoteSchemas !== "boolean")
    configError("remoteSchemas must be true or false");
  const chartMirror = env.CHART_MIRROR || (raw.chartMirror as string | undefined);
  return {
    ...(chartMirror ? { chartMirror: path.resolve(root, chartMirror) } : {}),
    root,
    kubernetesVersion: normalizeK8sVersion(
      typeof raw.kubernetesVersion === "string" ? raw.kubernetesVersion : "1.36.0",
    ),
    schemaLocations: schemaLocations ?? UPSTREAM_SCHEMA_LOCATIONS,
    schemaSource,
    remoteSchemas: raw.remoteSchemas === true,
    crdDirs,
    skipKinds,
    platformGateways,
    opaqueNamespaces: strings("opaqueNamespaces") ?? [],
    rootNamespace: typeof raw.rootNamespace === "string" ? raw.rootNamespace : "istio-system",
    clusterDomain: typeof raw.clusterDomain === "string" ? raw.clusterDomain : "cluster.local",
    limits: {
      maxBytes: typeof limits.maxBytes === "number" ? limits.maxBytes : DEFAULT_YAML_LIMITS.maxBytes,
      maxAliasCount:
        typeof limits.maxAliasCount === "number" ? limits.maxAliasCount : DEFAULT_YAML_LIMITS.maxAliasCount,
      maxExpandedBytes:
        typeof limits.maxExpandedBytes === "number"
          ? limits.maxExpandedBytes
          : DEFAULT_YAML_LIMITS.maxExpandedBytes!,
      maxParseMs: typeof limits.maxParseMs === "number" ? limits.maxParseMs : DEFAULT_YAML_LIMITS.maxParseMs!,
    },
    suppressions,
  };
}

/** `1.36` -> `1.36.0`; kubeconform wants three parts. */
export function normalizeK8sVersion(v: string): string {
  const s = v.replace(/^v/, "");
  return s.split(".").length === 2 ? `${s}.0` : s;
}

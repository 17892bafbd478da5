/**
 * A small model of how Argo CD 3 syncs the resource set: which Application owns an object, its
 * wave, destination and AppProject, what the project permits, and which resources the
 * `resource.exclusions`/`resource.inclusions` of argocd-cm drop. Shared by the argocd/* sync rules;
 * built once per index (a WeakMap), since several rules ask the same questions.
 *
 * Semantics follow Argo CD v3.5.1 (argoproj/argo-cd): `util/glob` (gobwas/glob), AppProject's
 * `isDestinationMatched` / `IsGroupKindNamePermitted` (pkg/apis/application/v1alpha1), and
 * `util/settings` (`FilteredResource`, `ResourcesFilter.IsExcludedResource`).
 */
import jsYaml from "js-yaml";
import { asArray, asObj, asString, CLUSTER_SCOPED_KINDS, type Obj, type Resource } from "../resource.ts";
import type { ResourceIndex } from "../resource-index.ts";
import { IN_CLUSTER_SERVER, isApplication, sources, wave } from "./argocd-util.ts";

export const TRACKING_ID_ANNOTATION = "argocd.argoproj.io/tracking-id";
export const SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options";

/** Kleene truth value: `undefined` when the answer depends on what is not known offline. */
export type Tri = boolean | undefined;

// ---------------------------------------------------------------------------------------------
// Pattern matching, as Argo CD does it.

const reCache = new Map<string, RegExp | null>();

function escapeRe(c: string): string {
  return /[.+?^${}()|[\]\\*/]/.test(c) ? `\\${c}` : c;
}

/**
 * gobwas/glob without separators (what `util/glob.Match(pattern, text)` compiles): `*` any
 * sequence, `?` one character, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` alternatives, `\` escapes.
 * A pattern that does not compile matches nothing (Argo CD logs a warning and returns false).
 */
export function globMatch(pattern: string, text: string): boolean {
  const key = `g:${pattern}`;
  let re = reCache.get(key);
  if (re === undefined) {
    re = compileGlob(pattern);
    reCache.set(key, re);
  }
  return re !== null && re.test(text);
}

function compileGlob(p: string): RegExp | null {
  let out = "";
  let depth = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\") {
      if (i + 1 >= p.length) return null;
      out += escapeRe(p[++i]!);
    } else if (c === "*") out += "[^]*";
    else if (c === "?") out += "[^]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) return null;
      let body = p.slice(i + 1, end);
      const neg = body.startsWith("!");
      if (neg) body = body.slice(1);
      out += `[${neg ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else if (c === "{") {
      depth++;
      out += "(?:";
    } else if (c === "}" && depth > 0) {
      depth--;
      out += ")";
    } else if (c === "," && depth > 0) out += "|";
    else out += escapeRe(c);
  }
  if (depth !== 0) return null;
  try {
    return new RegExp(`^${out}$`);
  } catch {
    return null;
  }
}

/**
 * Go's `filepath.Match` (the AppProject's group/kind/name lists): `*` any sequence without `/`,
 * `?` one character but `/`, `[...]` with `^` negation and ranges, `\` escapes. A malformed
 * pattern is an error in Go, which `isResourceInList` treats as no match.
 */
export function pathMatch(pattern: string, name: string): boolean {
  const key = `p:${pattern}`;
  let re = reCache.get(key);
  if (re === undefined) {
    re = compilePath(pattern);
    reCache.set(key, re);
  }
  return re !== null && re.test(name);
}

function compilePath(p: string): RegExp | null {
  let out = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\") {
      if (i + 1 >= p.length) return null;
      out += escapeRe(p[++i]!);
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end < 0) return null;
      let body = p.slice(i + 1, end);
      const neg = body.startsWith("^");
      if (neg) body = body.slice(1);
      out += `[${neg ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else out += escapeRe(c);
  }
  try {
    return new RegExp(`^${out}$`);
  } catch {
    return null;
  }
}

/** AppProject's `globMatch`: `!pattern` negates (where allowed), `*` always matches. */
function projectGlob(pattern: string, value: string): boolean {
  if (pattern.startsWith("!")) return !globMatch(pattern.slice(1), value);
  if (pattern === "*") return true;
  return globMatch(pattern, value);
}

// ---------------------------------------------------------------------------------------------
// Applications and what they own.

/** The cluster an Application deploys to, as far as it is known offline. */
export interface DestCluster {
  /** Undefined when not known (a destination given by server URL other than in-cluster). */
  name?: string;
  /** Undefined when not known (a registered cluster named by `name`: its URL is in a Secret). */
  server?: string;
}

export interface ArgoApp {
  app: Resource;
  name: string;
  /** metadata.namespace: the Argo CD instance that handles it (its control-plane namespace). */
  argocdNamespace: string;
  wave: number;
  namespace: string;
  cluster: DestCluster;
  projectName: string;
  project?: Resource;
  automated: boolean;
  retry: boolean;
  syncOptions: string[];
  /** Objects it renders (local, not peers). */
  objects: Resource[];
}

export interface ArgoModel {
  apps: ArgoApp[];
  byName: Map<string, ArgoApp>;
  ownerOf(r: Resource): ArgoApp | undefined;
  /** Whether an object is cluster-scoped (built-in list, or a CRD with `scope: Cluster`). */
  clusterScoped(r: Resource): boolean;
  /** The namespace Argo CD applies an object to: its own, else the destination's; "" when cluster-scoped. */
  namespaceOf(r: Resource, owner: ArgoApp): string;
}

export function trackingId(
  r: Resource,
): { app: string; group: string; kind: string; namespace: string; name: string } | undefined {
  const v = asObj(asObj(r.object.metadata).annotations)[TRACKING_ID_ANNOTATION];
  if (typeof v !== "string") return undefined;
  // <app>:<group>/<Kind>:<namespace>/<name> (Argo CD 3's annotation tracking)
  const m = /^([^:]+):([^/:]*)\/([^:]+):([^/]*)\/(.+)$/.exec(v);
  if (!m) return undefined;
  return { app: m[1]!, group: m[2]!, kind: m[3]!, namespace: m[4]!, name: m[5]! };
}

export function destinationCluster(dest: Obj): DestCluster {
  const name = asString(dest.name);
  const server = asString(dest.server);
  if (name !== undefined)
    return name === "in-cluster"
      ? { name, server: IN_CLUSTER_SERVER }
      : { name, ...(server ? { server } : {}) };
  if (server === IN_CLUSTER_SERVER) return { name: "in-cluster", server };
  return server !== undefined ? { server } : {};
}

/** `argocd.argoproj.io/sync-options` of an object, split and trimmed. */
export function annotationOptions(r: Resource): string[] {
  const v = asObj(asObj(r.object.metadata).annotations)[SYNC_OPTIONS_ANNOTATION];
  return typeof v === "string"
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

const models = new WeakMap<ResourceIndex, ArgoModel>();

export function argoModel(index: ResourceIndex): ArgoModel {
  let m = models.get(index);
  if (!m) {
    m = buildModel(index);
    models.set(index, m);
  }
  return m;
}

function buildModel(index: ResourceIndex): ArgoModel {
  const projects = new Map(index.allOf("AppProject").map((p) => [p.name, p] as const));
  const apps: ArgoApp[] = index.local.filter(isApplication).map((app) => {
    const spec = asObj(app.object.spec);
    const sp = asObj(spec.syncPolicy);
    const dest = asObj(spec.destination);
    const projectName = asString(spec.project) ?? "default";
    const project = projects.get(projectName);
    return {
      app,
      name: app.name,
      argocdNamespace: app.namespace ?? "argocd",
      wave: wave(app),
      namespace: asString(dest.namespace) ?? "",
      cluster: destinationCluster(dest),
      projectName,
      ...(project ? { project } : {}),
      automated: sp.automated !== undefined && sp.automated !== null,
      retry: sp.retry !== undefined && sp.retry !== null,
      syncOptions: asArray(sp.syncOptions).filter((o): o is string => typeof o === "string"),
      objects: [],
    };
  });
  const byName = new Map(apps.map((a) => [a.name, a] as const));
  // Directory sources: `/path/` with whether subfolders count (directory.recurse).
  const dirs = apps.flatMap((a) =>
    sources(a.app)
      .filter(({ source }) => typeof source.path === "string" && source.chart === undefined)
      .map(({ source }) => ({
        a,
        dir: `/${String(source.path).replace(/^\/+|\/+$/g, "")}/`,
        recurse: asObj(source.directory).recurse === true,
      })),
  );
  const ownerOf = (r: Resource): ArgoApp | undefined => {
    const t = trackingId(r);
    if (t) return byName.get(t.app);
    const file = `/${r.file}`;
    let best: { a: ArgoApp; len: number } | undefined;
    for (const d of dirs) {
      const at = file.indexOf(d.dir);
      if (at < 0) continue;
      const rest = file.slice(at + d.dir.length);
      if (!d.recurse && rest.includes("/")) continue;
      if (!best || d.dir.length > best.len) best = { a: d.a, len: d.dir.length };
    }
    return best?.a;
  };
  for (const r of index.local) {
    const a = ownerOf(r);
    if (a && a.app !== r) a.objects.push(r);
  }
  const crdScope = new Map<string, string>();
  for (const crd of index.allOf("CustomResourceDefinition")) {
    const s = asObj(crd.object.spec);
    crdScope.set(`${String(s.group)}/${String(asObj(s.names).kind)}`, String(s.scope ?? "Namespaced"));
  }
  const clusterScoped = (r: Resource) =>
    CLUSTER_SCOPED_KINDS.has(r.kind) || crdScope.get(`${r.group}/${r.kind}`) === "Cluster";
  return {
    apps,
    byName,
    ownerOf,
    clusterScoped,
    namespaceOf: (r, owner) => (clusterScoped(r) ? "" : (r.namespace ?? owner.namespace)),
  };
}

// ---------------------------------------------------------------------------------------------
// AppProject permissions.

/**
 * AppProject.isDestinationMatched for a cluster (name and server, as the controller resolves
 * it) and a namespace. A half of the cluster identity that is not known offline is evaluated both
 * ways; when the answers differ, the result is `undefined`.
 */
export function destinationPermitted(project: Resource, cluster: DestCluster, namespace: string): Tri {
  const dests = asArray(asObj(project.object.spec).destinations).map(asObj);
  const run = (unknown: boolean) => {
    const field = (pattern: unknown, value: string | undefined): boolean => {
      const p = typeof pattern === "string" ? pattern : "";
      // An absent pattern matches only "", which no real cluster name or URL is.
      if (value === undefined) return p === "" ? false : unknown;
      return value !== "" && projectGlob(p, value);
    };
    let any = false;
    for (const item of dests) {
      const nameM = field(item.name, cluster.name);
      const serverM = field(item.server, cluster.server);
      const nsM = projectGlob(typeof item.namespace === "string" ? item.namespace : "", namespace);
      const deny = (p: unknown) => typeof p === "string" && p.startsWith("!");
      if ((serverM || nameM) && nsM) any = true;
      else if ((!nameM && deny(item.name)) || (!serverM && deny(item.server) && nsM)) return false;
      else if (!nsM && deny(item.namespace) && serverM) return false;
    }
    return any;
  };
  let res: Tri;
  if (cluster.name !== undefined && cluster.server !== undefined) res = run(false);
  else {
    const a = run(true);
    const b = run(false);
    res = a === b ? a : undefined;
  }
  // Then only clusters registered to the project pass, which is cluster-side state.
  if (res === true && asObj(project.object.spec).permitOnlyProjectScopedClusters === true) return undefined;
  return res;
}

/** AppProject.IsGroupKindNamePermitted: namespaced kinds against the namespace lists, others against the cluster lists. */
export function groupKindPermitted(
  project: Resource,
  group: string,
  kind: string,
  name: string,
  namespaced: boolean,
): boolean {
  const spec = asObj(project.object.spec);
  const inList = (list: unknown[], withName: boolean) =>
    list.map(asObj).some((item) => {
      if (!pathMatch(String(item.kind ?? ""), kind) || !pathMatch(String(item.group ?? ""), group))
        return false;
      if (!withName || typeof item.name !== "string" || item.name === "") return true;
      return pathMatch(item.name, name);
    });
  if (namespaced) {
    const white = spec.namespaceResourceWhitelist;
    const black = asArray(spec.namespaceResourceBlacklist);
    // nil whitelist: everything; an empty list: nothing.
    const whiteListed =
      white === undefined || white === null || (asArray(white).length > 0 && inList(asArray(white), false));
    return whiteListed && !(black.length > 0 && inList(black, false));
  }
  const white = asArray(spec.clusterResourceWhitelist);
  const black = asArray(spec.clusterResourceBlacklist);
  return white.length > 0 && inList(white, true) && !(black.length > 0 && inList(black, true));
}

// ---------------------------------------------------------------------------------------------
// argocd-cm resource.exclusions / resource.inclusions.

export interface FilteredResource {
  apiGroups: string[];
  kinds: string[];
  clusters: string[];
}

export interface ResourceFilter {
  exclusions: FilteredResource[];
  inclusions: FilteredResource[];
  /** Where the lists come from, for messages. */
  origin: string;
}

/**
 * Always excluded, whatever argocd-cm says (`coreExcludedResources` in util/settings/resources_filter.go).
 */
export const CORE_EXCLUSIONS: readonly FilteredResource[] = [
  { apiGroups: ["events.k8s.io", "metrics.k8s.io"], kinds: [], clusters: [] },
  { apiGroups: [""], kinds: ["Event"], clusters: [] },
  { apiGroups: ["coordination.k8s.io"], kinds: ["Lease"], clusters: [] },
];

/**
 * `resource.exclusions` of the argocd-cm that Argo CD 3 installs (manifests/base/config/argocd-cm.yaml
 * since v3.0; the argo-cd Helm chart 10.x renders the same list by default). Used when no argocd-cm
 * is in sight: an Argo CD installed from the stock manifests has exactly these.
 */
export const STOCK_EXCLUSIONS: readonly FilteredResource[] = [
  { apiGroups: ["", "discovery.k8s.io"], kinds: ["Endpoints", "EndpointSlice"], clusters: [] },
  { apiGroups: ["coordination.k8s.io"], kinds: ["Lease"], clusters: [] },
  {
    apiGroups: ["authentication.k8s.io", "authorization.k8s.io"],
    kinds: [
      "SelfSubjectReview",
      "TokenReview",
      "LocalSubjectAccessReview",
      "SelfSubjectAccessReview",
      "SelfSubjectRulesReview",
      "SubjectAccessReview",
    ],
    clusters: [],
  },
  { apiGroups: ["certificates.k8s.io"], kinds: ["CertificateSigningRequest"], clusters: [] },
  { apiGroups: ["cert-manager.io"], kinds: ["CertificateRequest"], clusters: [] },
  {
    apiGroups: ["cilium.io"],
    kinds: ["CiliumIdentity", "CiliumEndpoint", "CiliumEndpointSlice"],
    clusters: [],
  },
  {
    apiGroups: ["kyverno.io", "reports.kyverno.io", "wgpolicyk8s.io"],
    kinds: [
      "PolicyReport",
      "ClusterPolicyReport",
      "EphemeralReport",
      "ClusterEphemeralReport",
      "AdmissionReport",
      "ClusterAdmissionReport",
      "BackgroundScanReport",
      "ClusterBackgroundScanReport",
      "UpdateRequest",
    ],
    clusters: [],
  },
];

function parseFiltered(text: string): FilteredResource[] | undefined {
  let v: unknown;
  try {
    v = jsYaml.load(text);
  } catch {
    return undefined;
  }
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return undefined;
  const strings = (x: unknown) => asArray(x).map((s) => String(s));
  return v.map((e) => {
    const o = asObj(e);
    return { apiGroups: strings(o.apiGroups), kinds: strings(o.kinds), clusters: strings(o.clusters) };
  });
}

/**
 * The filter of an argocd-cm: its keys when present (an unparsable value makes Argo CD fail to read
 * the settings; treated as absent here), else nothing beyond the core list. Without any argocd-cm,
 * the stock install's.
 */
export function resourceFilter(cm: Resource | undefined): ResourceFilter {
  if (!cm)
    return {
      exclusions: [...STOCK_EXCLUSIONS],
      inclusions: [],
      origin: "the resource.exclusions Argo CD 3 installs by default (no argocd-cm rendered)",
    };
  const data = asObj(cm.object.data);
  const ex =
    typeof data["resource.exclusions"] === "string" ? parseFiltered(data["resource.exclusions"]) : [];
  const inc =
    typeof data["resource.inclusions"] === "string" ? parseFiltered(data["resource.inclusions"]) : [];
  return {
    exclusions: ex ?? [],
    inclusions: inc ?? [],
    origin: `ConfigMap ${cm.ns}/${cm.name}${cm.peer ? ` (${cm.file})` : ""}`,
  };
}

function clusterMatch(r: FilteredResource, server: string | undefined): Tri {
  if (r.clusters.length === 0) return true;
  if (server === undefined) return r.clusters.some((c) => c === "*" || c === "**") ? true : undefined;
  return r.clusters.some((c) => globMatch(c, server));
}

function filterMatch(r: FilteredResource, group: string, kind: string, server: string | undefined): Tri {
  const g = r.apiGroups.length === 0 || r.apiGroups.some((p) => globMatch(p, group));
  const k = r.kinds.length === 0 || r.kinds.some((p) => p === "*" || p === kind);
  if (!g || !k) return false;
  return clusterMatch(r, server);
}

function anyMatch(
  list: readonly FilteredResource[],
  group: string,
  kind: string,
  server: string | undefined,
) {
  let res: Tri = false;
  for (const r of list) {
    const m = filterMatch(r, group, kind, server);
    if (m === true) return { tri: true as Tri, rule: r };
    if (m === undefined) res = undefined;
  }
  return { tri: res, rule: undefined };
}

/**
 * ResourcesFilter.IsExcludedResource(group, kind, destCluster.Server): excluded when an exclusion
 * (core or configured) matches; else allowed when an inclusion matches; else excluded when any
 * inclusion names this cluster. Argo CD matches `clusters` against the destination cluster's
 * server URL (controller/state.go), never its name; an unknown URL leaves cluster-specific
 * entries undecided. Returns the matching exclusion, if any.
 */
export function isExcluded(
  filter: ResourceFilter,
  group: string,
  kind: string,
  server: string | undefined,
): { excluded: Tri; by?: FilteredResource; byInclusions?: boolean } {
  const ex = anyMatch([...CORE_EXCLUSIONS, ...filter.exclusions], group, kind, server);
  if (ex.tri === true) return { excluded: true, ...(ex.rule ? { by: ex.rule } : {}) };
  const inc = anyMatch(filter.inclusions, group, kind, server);
  if (inc.tri === true) return { excluded: ex.tri === undefined ? undefined : false };
  let forCluster: Tri = false;
  for (const r of filter.inclusions) {
    const c = clusterMatch(r, server);
    if (c === true) {
      forCluster = true;
      break;
    }
    if (c === undefined) forCluster = undefined;
  }
  if (forCluster === true && inc.tri === false) return { excluded: true, byInclusions: true };
  if (ex.tri === undefined || inc.tri === undefined || forCluster === undefined)
    return { excluded: undefined };
  return { excluded: false };
}

/**
 * The argocd-cm of the Argo CD that handles an Application: the ConfigMap `argocd-cm` in the
 * Application's own namespace, from this scope or, failing that, from a peer scope (the remote
 * cluster's Applications live in, and are synced by, the primary's Argo CD).
 */
export function argocdCmFor(index: ResourceIndex, app: ArgoApp): Resource | undefined {
  const cms = index
    .allOf("ConfigMap")
    .filter((c) => c.name === "argocd-cm" && c.ns === app.argocdNamespace && c.apiVersion === "v1");
  return cms.find((c) => !c.peer) ?? cms[0];
}

export function describeFiltered(r: FilteredResource): string {
  const part = (k: string, v: string[]) =>
    v.length ? `${k}: [${v.map((x) => JSON.stringify(x)).join(", ")}]` : "";
  return `{${[part("apiGroups", r.apiGroups), part("kinds", r.kinds), part("clusters", r.clusters)].filter(Boolean).join(", ")}}`;
}

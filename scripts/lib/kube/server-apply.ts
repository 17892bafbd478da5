/**
 * Server-side apply against a real API server, the way Argo CD's ServerSideApply=true sync does it
 * (field manager `argocd-controller`, `force=true`), with `fieldValidation=Strict` so unknown or
 * duplicate fields are refused rather than dropped, and optionally `dryRun=All`. The outcome is
 * data (accepted, warnings, or the server's causes with their field paths), never an exception:
 * the caller turns it into located findings.
 */
import type { KubeRest } from "./rest.ts";

export const ARGOCD_FIELD_MANAGER = "argocd-controller";

export interface ServedKind {
  /** Resource name in URLs (`deployments`). */
  plural: string;
  namespaced: boolean;
}

/** Kind lookup from aggregated discovery (apidiscovery.k8s.io/v2): one request per root. */
export class Discovery {
  private constructor(private readonly kinds: Map<string, ServedKind>) {}

  static async load(rest: KubeRest): Promise<Discovery> {
    const kinds = new Map<string, ServedKind>();
    const accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    for (const root of ["/api", "/apis"]) {
      const r = await rest.request("GET", root, undefined, undefined, accept);
      if (r.status !== 200) throw new Error(`discovery ${root}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
      const items = (r.body as { items?: unknown[] } | undefined)?.items ?? [];
      for (const g of items as Array<{ metadata?: { name?: string }; versions?: unknown[] }>) {
        const group = g.metadata?.name ?? "";
        for (const v of (g.versions ?? []) as Array<{ version: string; resources?: unknown[] }>) {
          const apiVersion = group ? `${group}/${v.version}` : v.version;
          for (const res of (v.resources ?? []) as Array<{
            resource: string;
            responseKind?: { kind?: string };
            scope?: string;
          }>) {
            const kind = res.responseKind?.kind;
            if (!kind) continue;
            kinds.set(`${apiVersion}|${kind}`, {
              plural: res.resource,
              namespaced: res.scope === "Namespaced",
            });
          }
        }
      }
    }
    return new Discovery(kinds);
  }

  get(apiVersion: string, kind: string): ServedKind | undefined {
    return this.kinds.get(`${apiVersion}|${kind}`);
  }

  get size(): number {
    return this.kinds.size;
  }
}

export interface ApplyTarget {
  apiVersion: string;
  kind: string;
  name: string;
  /** For namespaced kinds. */
  namespace: string;
  object: Record<string, unknown>;
}

export interface Cause {
  message: string;
  /** The server's field path (`spec.template.metadata.labels`, `.spec.x`), when it names one. */
  field?: string;
}

export type ApplyOutcome =
  | { kind: "accepted"; warnings: string[]; created: boolean }
  | { kind: "rejected"; status: number; reason: string; causes: Cause[]; warnings: string[] }
  | { kind: "not-served" };

export function resourcePath(t: ApplyTarget, served: ServedKind): string {
  const [group, version] = t.apiVersion.includes("/") ? t.apiVersion.split("/") : ["", t.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const ns = served.namespaced ? `/namespaces/${encodeURIComponent(t.namespace)}` : "";
  return `${base}${ns}/${served.plural}/${encodeURIComponent(t.name)}`;
}

/** The body as Argo CD sends it: the object, namespace set for namespaced kinds, dropped for the others. */
function body(t: ApplyTarget, served: ServedKind): Record<string, unknown> {
  const metadata = { ...((t.object.metadata as Record<string, unknown> | undefined) ?? {}) };
  if (served.namespaced) metadata.namespace = t.namespace;
  else delete metadata.namespace;
  return { ...t.object, metadata };
}

export async function serverSideApply(
  rest: KubeRest,
  discovery: Discovery,
  t: ApplyTarget,
  options: { dryRun: boolean },
): Promise<ApplyOutcome> {
  const served = discovery.get(t.apiVersion, t.kind);
  if (!served) return { kind: "not-served" };
  const q = new URLSearchParams({
    fieldManager: ARGOCD_FIELD_MANAGER,
    force: "true",
    fieldValidation: "Strict",
    ...(options.dryRun ? { dryRun: "All" } : {}),
  });
  const r = await rest.request(
    "PATCH",
    `${resourcePath(t, served)}?${q}`,
    body(t, served),
    "application/apply-patch+yaml",
  );
  if (r.status === 200 || r.status === 201)
    return { kind: "accepted", warnings: r.warnings, created: r.status === 201 };
  return { kind: "rejected", status: r.status, ...statusCauses(r.body, r.text), warnings: r.warnings };
}

export async function deleteObject(rest: KubeRest, discovery: Discovery, t: ApplyTarget): Promise<void> {
  const served = discovery.get(t.apiVersion, t.kind);
  if (!served) return;
  const r = await rest.request("DELETE", `${resourcePath(t, served)}?propagationPolicy=Background`);
  if (r.status !== 200 && r.status !== 202 && r.status !== 404)
    throw new Error(`deleting ${t.kind} ${t.name}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
}

/**
 * The causes of a Status: `details.causes` (each with its `field`) when the server lists them,
 * otherwise the message, with the field path it starts with (`.spec.x: field not declared in
 * schema`) lifted out.
 */
export function statusCauses(body: unknown, text: string): { reason: string; causes: Cause[] } {
  const st = (body ?? {}) as {
    message?: string;
    reason?: string;
    details?: { causes?: Array<{ message?: string; field?: string; reason?: string }> };
  };
  const reason = st.reason ?? "";
  const message = st.message ?? text.slice(0, 500);
  const listed = (st.details?.causes ?? []).filter((c) => c.message || c.field);
  if (listed.length)
    return {
      reason,
      causes: listed.map((c) => ({
        message:
          c.field && c.message && !c.message.startsWith(c.field)
            ? `${c.field}: ${c.message}`
            : (c.message ?? ""),
        ...(c.field ? { field: c.field } : {}),
      })),
    };
  // SSA's typed-patch errors name the path after the GVK: "... Kind=Deployment): .spec.x: field not declared in schema".
  const m = /(?:^|[:)] )(\.[^\s:]+): /.exec(message);
  return { reason, causes: [{ message, ...(m ? { field: m[1]! } : {}) }] };
}

export type PathSegment = string | number;

/**
 * A server field path as a path into the object: `spec.template.spec.containers[0].name`,
 * SSA's `.spec.containers[name="app"].image` (the list item whose `name` is "app"), and map keys
 * in brackets (`metadata.labels[app.kubernetes.io/name]`). Stops where the object does not go on,
 * so the finding lands on the deepest node that exists.
 */
export function fieldPathToYamlPath(field: string, object: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  let node: unknown = object;
  const re = /\.?([^.[\]]+)|\[([^\]]*)\]/g;
  for (const m of field.replace(/^\./, "").matchAll(re)) {
    let seg: PathSegment;
    if (m[1] !== undefined) seg = m[1];
    else {
      const inner = m[2]!;
      const kv = /^([^=]+)="?(.*?)"?$/.exec(inner);
      if (/^\d+$/.test(inner)) seg = Number(inner);
      else if (kv && Array.isArray(node)) {
        const idx = node.findIndex(
          (item) =>
            typeof item === "object" &&
            item !== null &&
            String((item as Record<string, unknown>)[kv[1]!]) === kv[2],
        );
        if (idx < 0) break;
        seg = idx;
      } else seg = inner;
    }
    if (node === null || typeof node !== "object") break;
    const next = (node as Record<string | number, unknown>)[seg];
    if (next === undefined) break;
    out.push(seg);
    node = next;
  }
  return out;
}

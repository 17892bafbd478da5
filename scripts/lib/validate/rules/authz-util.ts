/** Shared by the authorization rules: which workloads a policy applies to, what its rules use. */
import { asArray, asObj, asString, type Obj, type Resource } from "../resource.ts";
import { hasTargetRef, policySelector } from "../istio.ts";
import type { ResourceIndex, Workload } from "../resource-index.ts";

/**
 * The workloads an AuthorizationPolicy or RequestAuthentication applies to: with a selector, the
 * matching ones in its namespace (anywhere, in the root namespace); without, all of its namespace
 * (all of the mesh, in the root namespace). Undefined when attached by targetRef (a Gateway or
 * Service, decided elsewhere).
 */
const workloadCache = new WeakMap<ResourceIndex, Map<Resource, Workload[] | undefined>>();

export function policyWorkloads(index: ResourceIndex, r: Resource): Workload[] | undefined {
  let cache = workloadCache.get(index);
  if (!cache) workloadCache.set(index, (cache = new Map()));
  if (cache.has(r)) return cache.get(r);
  const ws = computeWorkloads(index, r);
  cache.set(r, ws);
  return ws;
}

function computeWorkloads(index: ResourceIndex, r: Resource): Workload[] | undefined {
  if (hasTargetRef(r)) return undefined;
  const root = r.ns === index.platform.rootNamespace;
  const sel = policySelector(r);
  if (sel) return index.workloadsSelected(sel.labels, root ? undefined : r.ns);
  return root ? index.workloads : index.workloads.filter((w) => w.ns === r.ns);
}

export const sameWorkload = (a: Workload, b: Workload) =>
  a === b || (a.resource !== undefined && a.resource === b.resource);

export function rulesOf(ap: Resource): Obj[] {
  return asArray(asObj(ap.object.spec).rules).map(asObj);
}

const set = (v: unknown) => asArray(v).length > 0;

/** Whether a rule uses the request's JWT identity: requestPrincipals, or `when` on request.auth.*. */
export function usesRequestAuth(rule: Obj): { path: Array<string | number> } | undefined {
  for (const [j, f] of asArray(rule.from).entries()) {
    const src = asObj(asObj(f).source);
    for (const k of ["requestPrincipals", "notRequestPrincipals"])
      if (set(src[k])) return { path: ["from", j, "source", k] };
  }
  for (const [j, w] of asArray(rule.when).entries())
    if ((asString(asObj(w).key) ?? "").startsWith("request.auth.")) return { path: ["when", j, "key"] };
  return undefined;
}

/** The action of an AuthorizationPolicy (ALLOW when unset). */
export function actionOf(ap: Resource): string {
  return asString(asObj(ap.object.spec).action) ?? "ALLOW";
}

const raCache = new WeakMap<ResourceIndex, Map<Workload | Resource, Resource[]>>();

/** RequestAuthentications that apply to a workload (computed once per index, by workload). */
export function requestAuthsOf(index: ResourceIndex, w: Workload): Resource[] {
  let byWorkload = raCache.get(index);
  if (!byWorkload) {
    byWorkload = new Map();
    for (const ra of index.allOf("RequestAuthentication"))
      for (const x of policyWorkloads(index, ra) ?? []) {
        const key = x.resource ?? x;
        byWorkload.set(key, [...(byWorkload.get(key) ?? []), ra]);
      }
    raCache.set(index, byWorkload);
  }
  return byWorkload.get(w.resource ?? w) ?? [];
}

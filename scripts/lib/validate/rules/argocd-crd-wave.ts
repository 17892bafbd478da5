import { defineRule, type Report } from "../rule.ts";
import { asObj, describe, type Resource } from "../resource.ts";
import { argoModel } from "./argocd-model.ts";
import { isApplication, sources, wave } from "./argocd-util.ts";

/** CRD API groups installed by upstream charts (chart name as Argo CD's `chart:`). */
export const CHART_CRD_GROUPS: Record<string, string[]> = {
  base: ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io"],
  "cert-manager": ["cert-manager.io", "acme.cert-manager.io"],
  "kube-prometheus-stack": ["monitoring.coreos.com"],
  "prometheus-operator-crds": ["monitoring.coreos.com"],
  "argo-cd": ["argoproj.io"],
  "kiali-operator": ["kiali.io"],
};

export function isBuiltinGroup(group: string): boolean {
  if (group === "gateway.networking.k8s.io" || group === "gateway.networking.x-k8s.io") return false;
  return !group.includes(".") || group.endsWith(".k8s.io");
}

export default defineRule({
  code: "argocd/crd-wave",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "CRDs sync in an earlier wave than their custom resources",
  description:
    "Custom resources can only be applied once their CRD exists. The Application that installs a CRD must have a lower `argocd.argoproj.io/sync-wave` than another Application holding resources of that group; otherwise the first sync fails (`no matches for kind`). Within one Application a custom resource may share its CRD's wave: Argo CD applies a wave kind by kind, CRDs before custom resources, waits for each CRD to be established, and skips the dry run of resources whose CRD is in the same sync (gitops-engine sync_tasks.go `kindOrder`, sync_context.go `processCreateTasks`, `ensureCRDReady`); only an earlier wave than the CRD's fails. Platform charts known to install CRDs: Istio base, cert-manager, kube-prometheus-stack, argo-cd. An object belongs to the Application named by its `argocd.argoproj.io/tracking-id` annotation (rendered platform charts) or, for directory sources, whose path contains its file.",
  hint: "raise the sync wave of the Application with the custom resources above the one installing the CRDs",
  check({ index }) {
    const out: Report[] = [];
    const apps = index.allOf("Application").filter(isApplication);
    // group -> Applications that install its CRDs
    const providers = new Map<string, Resource[]>();
    for (const app of apps) {
      for (const { source } of sources(app)) {
        for (const g of CHART_CRD_GROUPS[String(source.chart ?? "")] ?? [])
          providers.set(g, [...(providers.get(g) ?? []), app]);
      }
    }
    // Who owns an object: its tracking-id (rendered platform charts), else the directory source
    // whose path holds its file (argocd-model.ts).
    const model = argoModel(index);
    const appOf = (r: Resource) => model.ownerOf(r)?.app;
    const crds = index.allOf("CustomResourceDefinition");
    for (const crd of crds) {
      const g = asObj(crd.object.spec).group;
      const app = appOf(crd);
      if (typeof g === "string" && app) providers.set(g, [...(providers.get(g) ?? []), app]);
    }
    // Object level: a CRD and its custom resources in the same set, ordered by their own waves.
    const crdByKind = new Map<string, Resource>();
    for (const crd of crds) {
      const spec = asObj(crd.object.spec);
      crdByKind.set(`${String(spec.group)}/${String(asObj(spec.names).kind)}`, crd);
    }
    const reported = new Set<string>();
    for (const r of index.local) {
      // Argo CD's own CRDs exist wherever Argo CD runs (it is bootstrapped before any Application).
      if (isBuiltinGroup(r.group) || r.group === "argoproj.io") continue;
      const crd = crdByKind.get(`${r.group}/${r.kind}`);
      if (crd && appOf(crd) === appOf(r) && wave(r) < wave(crd)) {
        out.push({
          resource: r,
          path: ["metadata"],
          message: `${describe(r)} (wave ${wave(r)}) is in an earlier sync wave than its CRD ${crd.name} (wave ${wave(crd)})`,
        });
        continue;
      }
      const app = appOf(r);
      if (!app) continue;
      for (const p of providers.get(r.group) ?? []) {
        // An Application that syncs its own CRD provider (app of apps) is ordered by the child waves.
        if (p === app || wave(p) < wave(app) || appOf(p) === app) continue;
        const key = `${app.id}|${p.id}|${r.group}`;
        if (reported.has(key) || app.peer) continue;
        reported.add(key);
        out.push({
          resource: app,
          path: ["metadata", "annotations"],
          message: `${describe(app)} (wave ${wave(app)}) syncs ${r.group} resources such as ${describe(r)}, but ${describe(p)} installs their CRDs in wave ${wave(p)}, not earlier`,
        });
      }
    }
    return out;
  },
});

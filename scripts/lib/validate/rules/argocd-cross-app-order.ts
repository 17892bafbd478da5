import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { argoModel, type ArgoApp } from "./argocd-model.ts";
import { CHART_CRD_GROUPS, isBuiltinGroup } from "./argocd-crd-wave.ts";
import { IN_CLUSTER_SERVER, sources } from "./argocd-util.ts";

/** Namespaces every cluster has: nobody needs to create them. */
const BUILTIN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

interface Dependency {
  provider: ArgoApp;
  what: string;
}

export default defineRule({
  code: "argocd/cross-app-order",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Applications that need another Application's namespace or CRD sync after it, and retry",
  description:
    "Two Argo CD behaviours make one Application's objects depend on another's. (1) A namespace created by another Application (its destination namespace with `CreateNamespace=true`, or a Namespace object it renders) must come from an Application in an earlier sync wave; objects in a namespace that does not exist yet fail to apply. (The same for custom resources and CRDs is argocd/crd-wave.) (2) Waves order only the sync of the parent (app of apps); an existing child Application refreshes and auto-syncs a new revision on its own, so when a chapter adds an Application with CRDs or a namespace and, in the same commit, objects that need them to an existing auto-synced Application, that Application can sync first and fail. Argo CD then does not try that revision again: \"Automatic sync will not reattempt a sync if the previous sync attempt against the same commit-SHA and parameters had failed\" (docs/user-guide/auto_sync.md; `alreadyAttemptedSync` in controller/appcontroller.go logs `Skipping auto-sync: failed previous sync attempt to <rev> and will not retry`). Only `syncPolicy.retry` (exponential backoff) retries the failed operation, so every auto-synced Application whose objects need a CRD or a namespace that another Application creates must have one.",
  hint: "add `syncPolicy.retry` (for example `{limit: 5, backoff: {duration: 10s, factor: 2, maxDuration: 3m}}`) to the Application, and give the Application that creates the namespace an earlier sync wave",
  check({ index }) {
    const model = argoModel(index);
    const out: Report[] = [];
    // group -> Applications that install CRDs of that group
    const crdProviders = new Map<string, ArgoApp[]>();
    const addCrd = (g: string, a: ArgoApp) => {
      const list = crdProviders.get(g) ?? [];
      if (!list.includes(a)) list.push(a);
      crdProviders.set(g, list);
    };
    // namespace -> Applications that create it
    const nsProviders = new Map<string, ArgoApp[]>();
    const addNs = (ns: string, a: ArgoApp) => {
      const list = nsProviders.get(ns) ?? [];
      if (!list.includes(a)) list.push(a);
      nsProviders.set(ns, list);
    };
    for (const a of model.apps) {
      for (const { source } of sources(a.app))
        for (const g of CHART_CRD_GROUPS[String(source.chart ?? "")] ?? []) addCrd(g, a);
      if (a.namespace && a.syncOptions.includes("CreateNamespace=true")) addNs(a.namespace, a);
      for (const r of a.objects) {
        if (r.kind === "CustomResourceDefinition") {
          const g = asObj(r.object.spec).group;
          if (typeof g === "string") addCrd(g, a);
        }
        if (r.kind === "Namespace" && r.group === "") addNs(r.name, a);
      }
    }
    for (const a of model.apps) {
      const deps: Dependency[] = [];
      const seen = new Set<string>();
      for (const r of a.objects) {
        if (!isBuiltinGroup(r.group) && r.group !== "argoproj.io") {
          const providers = crdProviders.get(r.group) ?? [];
          if (!providers.includes(a) && providers.length > 0 && !seen.has(`crd:${r.group}`)) {
            seen.add(`crd:${r.group}`);
            deps.push({ provider: providers[0]!, what: `the ${r.group} CRDs` });
          }
        }
        const ns = model.namespaceOf(r, a);
        if (!ns || BUILTIN_NAMESPACES.has(ns) || seen.has(`ns:${ns}`)) continue;
        // Argo CD's own namespace exists in its own cluster before any Application is handled.
        if (ns === a.argocdNamespace && a.cluster.server === IN_CLUSTER_SERVER) continue;
        const providers = nsProviders.get(ns) ?? [];
        if (providers.length === 0 || providers.includes(a)) continue;
        seen.add(`ns:${ns}`);
        const earliest = providers.reduce((x, y) => (y.wave < x.wave ? y : x));
        deps.push({ provider: earliest, what: `namespace ${ns}` });
        if (earliest.wave >= a.wave) {
          out.push({
            resource: r,
            path: r.namespace ? ["metadata", "namespace"] : ["metadata"],
            message: `${describe(r)} (Application ${a.name}, wave ${a.wave}) is in namespace ${ns}, which only ${providers.map((p) => `${p.name} (wave ${p.wave})`).join(", ")} create${providers.length === 1 ? "s" : ""}, not in an earlier wave: its first sync fails while the namespace does not exist`,
          });
        }
      }
      if (deps.length === 0 || !a.automated || a.retry) continue;
      // One finding per provider and dependency, without examples: the message then stays the same
      // across chapters, and repo mode reports it once for all of them.
      for (const d of deps) {
        out.push({
          resource: a.app,
          path: ["spec", "syncPolicy"],
          message: `${describe(a.app)} auto-syncs objects that need ${d.what}, which Application ${d.provider.name} creates, but has no syncPolicy.retry: if it syncs a new revision before they exist, the sync fails and Argo CD does not retry that revision`,
        });
      }
    }
    return out;
  },
});

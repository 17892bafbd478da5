import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe, type Resource } from "../resource.ts";
import { argocdCmFor, argoModel, describeFiltered, isExcluded, resourceFilter } from "./argocd-model.ts";

/** The Service whose endpoints an Endpoints/EndpointSlice object provides, when it is selector-less. */
function selectorlessServiceOf(r: Resource, siblings: Resource[]): Resource | undefined {
  const svcName =
    r.kind === "EndpointSlice"
      ? asStringMap(asObj(r.object.metadata).labels)["kubernetes.io/service-name"]
      : r.kind === "Endpoints"
        ? r.name
        : undefined;
  if (!svcName) return undefined;
  return siblings.find(
    (s) =>
      s.kind === "Service" &&
      s.name === svcName &&
      s.ns === r.ns &&
      Object.keys(asObj(asObj(s.object.spec).selector)).length === 0,
  );
}

export default defineRule({
  code: "argocd/resource-excluded",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "No object an Application renders is dropped by Argo CD's resource.exclusions / inclusions",
  description:
    "Argo CD removes every target object whose group and kind match `resource.exclusions` of its argocd-cm (or that `resource.inclusions` leave out for the cluster) before it syncs, with only an `ExcludedResourceWarning` condition (`Resource G/K name is excluded in the settings`, controller/state.go): the object is never applied. Since Argo CD 3.0 argocd-cm ships default exclusions (Endpoints, EndpointSlice, Lease, CertificateSigningRequest, cert-manager's CertificateRequest, ...; the argo-cd chart renders the same list), on top of the built-in Events, events.k8s.io, metrics.k8s.io and Leases (`coreExcludedResources`, util/settings). Entries match `apiGroups` by glob, `kinds` exactly (or `*`), and `clusters` by glob against the destination cluster's server URL (controller/state.go passes `destCluster.Server`; a destination given by name is first resolved to its registered cluster and that cluster's URL, `GetDestinationCluster` in util/argo/argo.go; `in-cluster` is https://kubernetes.default.svc; a URL unknown offline leaves cluster-specific entries undecided). The settings are those of the Argo CD that handles the Application (the `argocd-cm` ConfigMap in the Application's namespace: rendered in this cluster, or in a peer cluster of the same mesh at the same chapter, since the primary's Argo CD syncs the remote's Applications); with none rendered, the stock Argo CD 3 defaults. The case that bites: istiod's `remote` profile with an IP `remotePilotAddress` renders a selector-less Service `istiod` plus an EndpointSlice (Endpoints in older charts); dropped, the injector webhook and xDS have no endpoints.",
  hint: "override `resource.exclusions` in the argo-cd release's values (configs.cm) so it no longer matches, limiting the entry to other clusters with `clusters`; or stop rendering the object (for istiod remote, give remotePilotAddress a DNS name, which renders an ExternalName Service)",
  check({ index }) {
    const model = argoModel(index);
    const out: Report[] = [];
    for (const a of model.apps) {
      if (a.objects.length === 0) continue;
      const cm = argocdCmFor(index, a);
      const filter = resourceFilter(cm);
      for (const r of a.objects) {
        const res = isExcluded(filter, r.group, r.kind, a.cluster.server);
        if (res.excluded !== true) continue;
        const why = res.by
          ? `matches resource.exclusions entry ${describeFiltered(res.by)} of ${filter.origin}`
          : `is not among the resource.inclusions of ${filter.origin} for this cluster`;
        const svc = selectorlessServiceOf(r, a.objects);
        out.push({
          resource: r,
          path: ["kind"],
          message: `${describe(r)} (Application ${a.name}) ${why}: Argo CD drops it and never applies it${svc ? `, so the selector-less ${describe(svc)} has no endpoints` : ""}`,
        });
      }
    }
    return out;
  },
});

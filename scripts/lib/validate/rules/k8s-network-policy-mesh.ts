import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Obj, type Resource } from "../resource.ts";
import { destinations, gatewayWorkloads, targetPortOf, vsGateways } from "../istio.ts";
import type { ResourceIndex, Workload } from "../resource-index.ts";
import { labelSelectorMatches } from "./k8s-image-auto-without-injection.ts";
import { inMesh } from "./mesh.ts";

/** A traffic source: pods with labels in a namespace, or the API server (host network, an IP). */
type Source =
  { ns: string; labels: Record<string, string>; what: string } | { apiServer: true; what: string };

function isIngressPolicy(np: Resource): boolean {
  const spec = asObj(np.object.spec);
  const types = asArray(spec.policyTypes);
  return types.length ? types.includes("Ingress") : true;
}

/** A namespace's labels as a namespaceSelector sees them (with the name label Kubernetes adds). */
function selectableLabels(index: ResourceIndex, ns: string): Record<string, string> {
  return { "kubernetes.io/metadata.name": ns, ...index.namespaceLabels(ns) };
}

function peerAdmits(index: ResourceIndex, np: Resource, peer: Obj, src: Source): boolean {
  if ("apiServer" in src) return peer.ipBlock !== undefined;
  if (peer.ipBlock !== undefined) return false; // pod IPs are not predictable offline: not counted
  const nsSel = peer.namespaceSelector;
  if (nsSel === undefined) {
    if (src.ns !== np.ns) return false;
  } else if (!labelSelectorMatches(nsSel, selectableLabels(index, src.ns))) return false;
  return peer.podSelector === undefined || labelSelectorMatches(peer.podSelector, src.labels);
}

function portAdmits(p: Obj, port: number, names: readonly string[]): boolean {
  if (p.port === undefined) return true;
  if (typeof p.port === "string" && !/^\d+$/.test(p.port)) return names.includes(p.port);
  const from = Number(p.port);
  const to = typeof p.endPort === "number" ? p.endPort : from;
  return port >= from && port <= to;
}

/**
 * Whether ingress from `src` to pod `target` on `port` is allowed: not isolated by any Ingress
 * policy, or admitted by one rule of one policy selecting it.
 */
function blockedBy(
  index: ResourceIndex,
  target: Workload,
  port: number,
  src: Source,
): Resource[] | undefined {
  const selecting = index
    .allOf("NetworkPolicy")
    .filter(
      (np) =>
        np.ns === target.ns &&
        isIngressPolicy(np) &&
        labelSelectorMatches(asObj(np.object.spec).podSelector ?? {}, target.labels),
    );
  if (selecting.length === 0) return undefined;
  const names = target.ports.filter((p) => p.port === port && p.name).map((p) => p.name!);
  const admitted = selecting.some((np) =>
    asArray(asObj(np.object.spec).ingress)
      .map(asObj)
      .some((rule) => {
        const from = asArray(rule.from).map(asObj);
        const ports = asArray(rule.ports).map(asObj);
        return (
          (from.length === 0 || from.some((peer) => peerAdmits(index, np, peer, src))) &&
          (ports.length === 0 || ports.some((p) => portAdmits(p, port, names)))
        );
      }),
  );
  return admitted ? undefined : selecting;
}

export default defineRule({
  code: "k8s/network-policy-blocks-mesh",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "NetworkPolicies let through what the mesh needs",
  description:
    "Ingress NetworkPolicies must admit the mesh's own traffic: sidecars to istiod on 15012 (certificates and configuration) and the API server to istiod's webhook on 15017 (an `ipBlock`, or a rule without `from`: the API server is not a pod); the gateway pods to the backends their VirtualServices route to, on the target port; Prometheus to every meshed pod's merged metrics on 15020. Sources and targets are the rendered pods (gateway pods modelled from their Helm release included); namespace selectors see the namespace's labels plus `kubernetes.io/metadata.name`. Rules on `ipBlock` are not taken to admit pods.",
  hint: "add an ingress rule admitting the source (namespaceSelector / podSelector) on that port",
  check({ index }) {
    if (index.allOf("NetworkPolicy").length === 0) return [];
    const out: Report[] = [];
    const seen = new Set<string>();
    const report = (target: Workload, port: number, src: Source, why: string) => {
      const blocking = blockedBy(index, target, port, src);
      if (!blocking) return;
      const np = blocking.find((b) => !b.peer);
      if (!np) return;
      const key = `${np.id}|${target.origin}|${port}|${src.what}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({
        resource: np,
        path: ["spec", "podSelector"],
        message: `${describe(np)} isolates ${target.origin} and no policy admits ${src.what} on port ${port} (${why})`,
      });
    };
    const meshed = index.workloads.filter((w) => w.resource && inMesh(index, w.resource));
    // istiod: xDS and certificates from every sidecar, the injection webhook from the API server.
    const istiod = index.workloadsSelected({ app: "istiod" }, index.platform.rootNamespace);
    for (const t of istiod) {
      const clientNs = [...new Set(meshed.map((w) => w.ns))];
      for (const ns of clientNs) {
        const w = meshed.find((x) => x.ns === ns)!;
        report(
          t,
          15012,
          { ns, labels: w.labels, what: `sidecars of namespace ${ns}` },
          "istiod's xDS and CA port",
        );
      }
      report(
        t,
        15017,
        { apiServer: true, what: "the API server" },
        "istiod's injection and validation webhooks",
      );
    }
    // Gateways to the backends of their routes.
    const byRef = new Map(index.allOf("Gateway").map((g) => [`${g.ns}/${g.name}`, g]));
    for (const vs of index.allOf("VirtualService")) {
      const gws = vsGateways(vs).flatMap((g) => byRef.get(g.ref) ?? []);
      const sources = gws.flatMap((gw) => gatewayWorkloads(index, gw));
      if (sources.length === 0) continue;
      for (const d of destinations(vs)) {
        const svc = index.service(index.fqdn(d.host, vs.ns));
        if (!svc) continue;
        const ports = asArray(asObj(svc.object.spec).ports).map((p) => asObj(p).port);
        const port = d.port ?? (ports.length === 1 && typeof ports[0] === "number" ? ports[0] : undefined);
        if (port === undefined) continue;
        for (const t of index.workloadsOfService(svc)) {
          const tp = targetPortOf(svc, port, t);
          if (tp === undefined) continue;
          for (const g of sources)
            report(
              t,
              tp,
              { ns: g.ns, labels: g.labels, what: `gateway ${g.origin}` },
              `${describe(vs)} routes there`,
            );
        }
      }
    }
    // Prometheus to the sidecars' merged metrics.
    const proms = index.workloads.filter(
      (w) => w.labels["app.kubernetes.io/name"] === "prometheus" || w.labels.app === "prometheus",
    );
    for (const p of proms)
      for (const t of meshed)
        report(
          t,
          15020,
          { ns: p.ns, labels: p.labels, what: p.origin },
          "the sidecar's merged Prometheus metrics",
        );
    return out;
  },
});

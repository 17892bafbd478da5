import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, visibleIn, type Resource } from "../resource.ts";
import { appliesToMesh, destinations, hasTargetRef, hostMatches, policySelector } from "../istio.ts";
import type { ResourceIndex } from "../resource-index.ts";

/** The namespace-wide Sidecar of `ns`: its own selector-less one, else the root namespace's. */
function defaultSidecar(index: ResourceIndex, ns: string): Resource | undefined {
  const own = (n: string) =>
    index.allOf("Sidecar").find((s) => s.ns === n && !policySelector(s) && !hasTargetRef(s));
  return own(ns) ?? own(index.platform.rootNamespace);
}

/** The namespaces whose config defines a host: the Service's own, or each ServiceEntry's. */
function hostNamespaces(index: ResourceIndex, fqdn: string): string[] {
  const svc = index.service(fqdn);
  return [...(svc ? [svc.ns] : []), ...index.serviceEntriesFor(fqdn).map((se) => se.ns)];
}

/** Whether the Sidecar's egress imports a host defined in one of `namespaces` (`ns/host` entries). */
function imports(sc: Resource, clientNs: string, fqdn: string, namespaces: string[]): boolean {
  const egress = asArray(asObj(sc.object.spec).egress);
  return egress.some((e) =>
    asArray(asObj(e).hosts).some((h) => {
      if (typeof h !== "string" || !h.includes("/")) return false;
      const [nsPart, host = ""] = h.split("/", 2) as [string, string];
      if (nsPart === "~") return false;
      const ns = nsPart === "." ? clientNs : nsPart;
      return (ns === "*" || namespaces.includes(ns)) && hostMatches(host, fqdn);
    }),
  );
}

export default defineRule({
  code: "sidecar/hides-destination",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Sidecar egress hosts import the destinations of the routes they import",
  description:
    "A namespace's Sidecar (its own without a selector, or the root namespace's default) limits which hosts its proxies know. When it imports a host whose mesh VirtualService routes to another host it does not import (a Service in another namespace, a ServiceEntry), the route points at a cluster those proxies do not have: 503 (no route / no healthy upstream). Checked for the namespaces that see the VirtualService (exportTo) and have such a Sidecar; hosts of namespaces not rendered here are not checked.",
  hint: "add the destination (`<namespace>/<host>`) to the Sidecar's egress hosts",
  check({ index }) {
    const out: Report[] = [];
    if (index.allOf("Sidecar").length === 0) return out;
    const namespaces = new Set(index.workloads.map((w) => w.ns));
    for (const vs of index.of("VirtualService")) {
      if (!appliesToMesh(vs)) continue;
      const hosts = asArray(asObj(vs.object.spec).hosts)
        .filter((h): h is string => typeof h === "string")
        .map((h) => index.fqdn(h, vs.ns));
      for (const ns of namespaces) {
        if (!visibleIn(vs, ns)) continue;
        const sc = defaultSidecar(index, ns);
        if (!sc) continue;
        // Only proxies that import the VirtualService's host use its routes.
        if (!hosts.some((h) => imports(sc, ns, h, [...hostNamespaces(index, h), vs.ns]))) continue;
        for (const d of destinations(vs)) {
          const fqdn = index.fqdn(d.host, vs.ns);
          const defined = hostNamespaces(index, fqdn);
          if (defined.length === 0 || defined.some((n) => index.isOpaque(n))) continue;
          if (imports(sc, ns, fqdn, defined)) continue;
          out.push({
            resource: vs,
            path: [...d.path, "host"],
            message: `${describe(vs)} routes to '${d.host}', which ${describe(sc)} does not import for namespace ${ns}: its proxies have no cluster for it`,
          });
        }
      }
    }
    return out;
  },
});

import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj, visibleIn, type Resource } from "../resource.ts";
import type { ResourceIndex } from "../resource-index.ts";
import { hostMatches } from "../istio.ts";

const istioMutual = (dr: Resource) =>
  asObj(asObj(asObj(dr.object.spec).trafficPolicy).tls).mode === "ISTIO_MUTUAL";

/** Any TLS settings: the trafficPolicy's own or one port's (Kiali's hasTLSSettings). */
function hasTls(dr: Resource): boolean {
  const tp = asObj(asObj(dr.object.spec).trafficPolicy);
  return isObj(tp.tls) || asArray(tp.portLevelSettings).some((p) => isObj(asObj(p).tls));
}

/**
 * The wildcard DestinationRules that turn on mTLS for many hosts: host `*`, `*.local`, or a
 * namespace's `*.<ns>.svc.<domain>` (the hosts Kiali's TrafficPolicyChecker treats as mesh- or
 * namespace-wide), with `tls.mode: ISTIO_MUTUAL`.
 */
function wideMtls(index: ResourceIndex, dr: Resource): string | undefined {
  const host = asString(asObj(dr.object.spec).host);
  if (!host || !istioMutual(dr)) return undefined;
  const suffix = `.svc.${index.platform.clusterDomain}`;
  if (host === "*" || host === "*.local" || (host.startsWith("*.") && host.endsWith(suffix))) return host;
  return undefined;
}

/** meshConfig.enableAutoMtls of the render's `istio` ConfigMap (Istio's default: on). */
function autoMtls(index: ResourceIndex): boolean {
  for (const cm of index.allOf("ConfigMap")) {
    if (cm.ns !== index.platform.rootNamespace || !/^istio(-.+)?$/.test(cm.name)) continue;
    try {
      const mesh = load(String(asObj(cm.object.data).mesh ?? ""));
      if (isObj(mesh) && mesh.enableAutoMtls === false) return false;
    } catch {
      /* malformed embedded YAML: istiod reports it */
    }
  }
  return true;
}

export default defineRule({
  code: "dr/mesh-mtls-overridden",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0204"],
  title: "A DestinationRule without TLS settings under a mesh-wide ISTIO_MUTUAL one",
  description:
    "Istio applies one DestinationRule per host, the most specific: a DestinationRule for `reviews` replaces the mesh-wide `*.local` (or `*`, or namespace-wide `*.<ns>.svc.<domain>`) DestinationRule that sets `tls.mode: ISTIO_MUTUAL`, all of it, TLS included (its settings are not merged). When the specific one has no TLS settings of its own (none on its trafficPolicy nor on a port), its clients stop being told to use mTLS (Kiali KIA0204). With auto mTLS (meshConfig `enableAutoMtls`, on by default) the proxies still pick mTLS for destinations with a sidecar, so the finding is an info there; with auto mTLS off it is a warning: the traffic goes out in plain text. Hosts are compared fully qualified; the wide one must be exported to the specific one's namespace (exportTo), as Kiali checks it. Unlike Kiali, a `*.local` rule is not taken to cover hosts outside `.local` (an external host's DestinationRule never inherited its TLS).",
  hint: "add `trafficPolicy.tls.mode: ISTIO_MUTUAL` to the specific DestinationRule (or remove the mesh-wide one and rely on auto mTLS)",
  check({ index }) {
    const drs = index.allOf("DestinationRule");
    const wide = drs.flatMap((dr) => {
      const host = wideMtls(index, dr);
      return host ? [{ dr, host }] : [];
    });
    if (wide.length === 0) return [];
    const severity = autoMtls(index) ? ("info" as const) : undefined;
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      const host = asString(asObj(dr.object.spec).host);
      if (!host || hasTls(dr)) continue;
      const fqdn = index.fqdn(host, dr.ns);
      // As Kiali: only a wide rule exported to the specific one's namespace counts (exportTo).
      const over = wide.filter((w) => w.dr !== dr && hostMatches(w.host, fqdn) && visibleIn(w.dr, dr.ns));
      if (over.length === 0) continue;
      const tp = asObj(dr.object.spec).trafficPolicy;
      out.push({
        resource: dr,
        path: isObj(tp) ? ["spec", "trafficPolicy"] : ["spec", "host"],
        ...(severity ? { severity } : {}),
        message: `${describe(dr)} for ${fqdn} has no TLS settings, so it overrides the ISTIO_MUTUAL of ${over.map((w) => `${describe(w.dr)} (host ${w.host})`).join(", ")} for that host`,
      });
    }
    return out;
  },
});

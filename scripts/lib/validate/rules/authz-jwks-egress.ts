import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj, type Resource } from "../resource.ts";
import { podTemplate, type ResourceIndex } from "../resource-index.ts";
import { policyWorkloads } from "./authz-util.ts";

/** istiod's PILOT_JWT_ENABLE_REMOTE_JWKS: "envoy" makes every proxy fetch JWKS itself. */
function proxiesFetchJwks(index: ResourceIndex): boolean {
  return index.allOf("Deployment").some((d) => {
    if (d.ns !== index.platform.rootNamespace || !/^istiod(-.+)?$/.test(d.name)) return false;
    const t = podTemplate(d);
    return asArray(t?.spec.containers).some((c) =>
      asArray(asObj(c).env).some(
        (e) => asObj(e).name === "PILOT_JWT_ENABLE_REMOTE_JWKS" && asString(asObj(e).value) === "envoy",
      ),
    );
  });
}

/** meshConfig.outboundTrafficPolicy.mode of the render's `istio` ConfigMap. */
function meshMode(index: ResourceIndex): string | undefined {
  for (const cm of index.allOf("ConfigMap")) {
    if (cm.ns !== index.platform.rootNamespace || !/^istio(-.+)?$/.test(cm.name)) continue;
    try {
      const mesh = load(String(asObj(cm.object.data).mesh ?? ""));
      if (isObj(mesh)) return asString(asObj(mesh.outboundTrafficPolicy).mode) ?? "ALLOW_ANY";
    } catch {
      /* malformed embedded YAML: istiod reports it */
    }
  }
  return undefined;
}

/** The mode a namespace's proxies use: its Sidecar's (or the root's), else the mesh's. */
function modeOf(index: ResourceIndex, ns: string, mesh: string): string {
  const sc = (n: string): Resource | undefined =>
    index.allOf("Sidecar").find((s) => s.ns === n && !asObj(asObj(s.object.spec).workloadSelector).labels);
  const s = sc(ns) ?? sc(index.platform.rootNamespace);
  return asString(asObj(asObj(s?.object.spec).outboundTrafficPolicy).mode) ?? mesh;
}

export default defineRule({
  code: "authz/jwks-egress-blocked",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Proxies that fetch JWKS themselves may reach the jwksUri host",
  description:
    "By default istiod fetches each RequestAuthentication's `jwksUri` and hands the keys to the proxies. With istiod's `PILOT_JWT_ENABLE_REMOTE_JWKS=envoy` every proxy fetches them itself, through its own egress rules: under REGISTRY_ONLY (meshConfig `outboundTrafficPolicy`, or the namespace's Sidecar) a jwksUri host outside the cluster needs a ServiceEntry, or the keys never arrive and every request with a token is refused (401).",
  hint: "add a ServiceEntry for the jwksUri host (port 443, resolution DNS), or let istiod fetch the keys",
  check({ index }) {
    const ras = index.of("RequestAuthentication");
    if (ras.length === 0 || !proxiesFetchJwks(index)) return [];
    const mesh = meshMode(index) ?? "ALLOW_ANY";
    const out: Report[] = [];
    for (const ra of ras) {
      const namespaces = new Set((policyWorkloads(index, ra) ?? []).map((w) => w.ns));
      const blocked = [...namespaces].filter((ns) => modeOf(index, ns, mesh) === "REGISTRY_ONLY");
      if (blocked.length === 0) continue;
      asArray(asObj(ra.object.spec).jwtRules).forEach((r, i) => {
        const uri = asString(asObj(r).jwksUri);
        if (!uri) return;
        let host: string;
        try {
          host = new URL(uri).hostname;
        } catch {
          return;
        }
        if (index.hostExists(index.fqdn(host, ra.ns))) return;
        out.push({
          resource: ra,
          path: ["spec", "jwtRules", i, "jwksUri"],
          message: `${describe(ra)} fetches keys from ${host}, which no ServiceEntry defines; the proxies of ${blocked.join(", ")} fetch JWKS themselves (PILOT_JWT_ENABLE_REMOTE_JWKS=envoy) under REGISTRY_ONLY and cannot reach it`,
        });
      });
    }
    return out;
  },
});

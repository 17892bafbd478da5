import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj } from "../resource.ts";
import { rulesOf } from "./authz-util.ts";

export default defineRule({
  code: "authz/foreign-trust-domain",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0108"],
  title: "AuthorizationPolicy principals use the mesh's trust domain",
  description:
    "A principal is `<trust domain>/ns/<namespace>/sa/<service account>`. Workloads of this mesh carry meshConfig's `trustDomain` (default `cluster.local`); a principal in another trust domain matches only peers from that domain, and only if it is listed in `trustDomainAliases` or comes from a federated mesh. A trust domain that is neither is usually a copy from another cluster's policy (or `cluster.local` after the mesh's domain changed): the rule never matches. Checked when the files contain istiod's mesh ConfigMap.",
  hint: "use the mesh's trust domain (meshConfig.trustDomain), or add the other one to meshConfig.trustDomainAliases",
  check({ index }) {
    const meshes = index.allOf("ConfigMap").flatMap((cm) => {
      if (cm.ns !== index.platform.rootNamespace || !/^istio(-.+)?$/.test(cm.name)) return [];
      try {
        const mesh = load(String(asObj(cm.object.data).mesh ?? ""));
        return isObj(mesh) ? [mesh] : [];
      } catch {
        return [];
      }
    });
    if (meshes.length === 0) return [];
    const known = new Set<string>();
    for (const m of meshes) {
      known.add(asString(m.trustDomain) ?? "cluster.local");
      for (const a of asArray(m.trustDomainAliases)) if (typeof a === "string") known.add(a);
    }
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      rulesOf(ap).forEach((rule, i) => {
        asArray(rule.from).forEach((f, j) => {
          const src = asObj(asObj(f).source);
          for (const field of ["principals", "notPrincipals"])
            asArray(src[field]).forEach((p, k) => {
              if (typeof p !== "string") return;
              const td = /^([^/*]+)\/ns\//.exec(p)?.[1];
              if (!td || known.has(td)) return;
              out.push({
                resource: ap,
                path: ["spec", "rules", i, "from", j, "source", field, k],
                message: `${describe(ap)} principal '${p}' is in trust domain ${td}, which is neither the mesh's nor an alias (${[...known].join(", ")})`,
              });
            });
        });
      });
    }
    return out;
  },
});

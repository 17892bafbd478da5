import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { appliesToMesh, exportOverlaps } from "../istio.ts";

export default defineRule({
  code: "vs/conflicting-mesh-hosts",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0109", "KIA1106"],
  title: "One mesh VirtualService per host",
  description:
    "Two VirtualServices bound to the mesh (sidecars) for the same host, visible together in some namespace (exportTo), are not merged; Istio picks one and silently ignores the other.",
  hint: "merge the routes into one VirtualService per host",
  check({ index }) {
    const byHost = new Map<string, Resource[]>();
    for (const vs of index.allOf("VirtualService")) {
      if (!appliesToMesh(vs)) continue;
      for (const h of asArray(asObj(vs.object.spec).hosts)) {
        if (typeof h !== "string") continue;
        const fqdn = index.fqdn(h, vs.ns);
        const list = byHost.get(fqdn) ?? [];
        if (!list.includes(vs)) list.push(vs);
        byHost.set(fqdn, list);
      }
    }
    const out: Report[] = [];
    for (const [host, list] of byHost) {
      if (list.length < 2) continue;
      for (const vs of list) {
        if (vs.peer) continue;
        const i = asArray(asObj(vs.object.spec).hosts).findIndex(
          (h) => typeof h === "string" && index.fqdn(h, vs.ns) === host,
        );
        // Only VirtualServices visible together somewhere (exportTo) conflict, as in IST0109.
        const others = list.filter((o) => o !== vs && exportOverlaps(vs, o)).map(describe);
        if (others.length === 0) continue;
        out.push({
          resource: vs,
          path: ["spec", "hosts", i],
          message: `${describe(vs)} and ${others.join(", ")} both route mesh traffic for host '${host}'`,
        });
      }
    }
    return out;
  },
});

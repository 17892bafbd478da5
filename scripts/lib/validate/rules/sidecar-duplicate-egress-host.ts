import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "sidecar/duplicate-egress-host",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0133"],
  title: "A Sidecar egress listener names each host once",
  description:
    "Within one `egress` listener, `ns/host` repeated, `ns/host` after `ns/*` (or `./*` in the Sidecar's namespace), `ns/*` after hosts of that namespace, or `*/*` beside anything else adds nothing: the broader entry already covers it. Usually a sign the author expected the narrower entry to restrict something.",
  hint: "keep either the wildcard or the specific hosts of that namespace, not both",
  check({ index }) {
    const out: Report[] = [];
    for (const sc of index.of("Sidecar")) {
      asArray(asObj(sc.object.spec).egress).forEach((e, i) => {
        // Istio's own bookkeeping (pkg/config/validation): namespace -> hosts seen in this listener.
        const seen = new Map<string, Set<string>>();
        asArray(asObj(e).hosts).forEach((h, j) => {
          if (typeof h !== "string" || !h.includes("/")) return;
          const [nsPart, host = ""] = h.split("/", 2) as [string, string];
          const ns = nsPart === "." ? sc.ns : nsPart;
          const hosts = seen.get(ns) ?? new Set<string>();
          const duplicate = host === "*" ? hosts.size > 0 : hosts.has(host) || hosts.has("*");
          if (duplicate)
            out.push({
              resource: sc,
              path: ["spec", "egress", i, "hosts", j],
              message: `${describe(sc)} egress[${i}] host '${h}' is already covered by an earlier entry for namespace '${ns}'`,
            });
          hosts.add(host);
          seen.set(ns, hosts);
        });
        if (seen.get("*")?.has("*") && seen.size > 1)
          out.push({
            resource: sc,
            path: ["spec", "egress", i, "hosts"],
            message: `${describe(sc)} egress[${i}] has '*/*', which selects everything; its other hosts add nothing`,
          });
      });
    }
    return out;
  },
});

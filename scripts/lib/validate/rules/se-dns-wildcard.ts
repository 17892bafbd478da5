import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "se/dns-wildcard-host",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0106"],
  title: "ServiceEntries with DNS resolution have no wildcard hosts",
  description:
    "With `resolution: DNS` (or DNS_ROUND_ROBIN) and no `endpoints`, the proxy resolves the host name itself to find the endpoints; `*.example.com` cannot be resolved, so the cluster has no endpoints and every request fails (503, no healthy upstream). A wildcard host needs `resolution: NONE` (the original destination), or explicit `endpoints`; istiod's validation refuses the object (istioctl: IST0106).",
  hint: "use `resolution: NONE` for a wildcard host, or list the concrete hosts",
  check({ index }) {
    const out: Report[] = [];
    for (const se of index.of("ServiceEntry")) {
      const spec = asObj(se.object.spec);
      if (spec.resolution !== "DNS" && spec.resolution !== "DNS_ROUND_ROBIN") continue;
      if (asArray(spec.endpoints).length || asObj(spec.workloadSelector).labels) continue;
      asArray(spec.hosts).forEach((h, i) => {
        if (typeof h !== "string" || !h.startsWith("*")) return;
        out.push({
          resource: se,
          path: ["spec", "hosts", i],
          message: `${describe(se)} resolves wildcard host '${h}' by DNS (resolution ${String(spec.resolution)}), which finds no endpoints`,
        });
      });
    }
    return out;
  },
});

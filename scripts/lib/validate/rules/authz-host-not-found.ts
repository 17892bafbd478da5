import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { rulesOf } from "./authz-util.ts";

export default defineRule({
  code: "authz/host-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0104"],
  title: "AuthorizationPolicy hosts of the cluster name existing Services",
  description:
    "A `to.operation.hosts` entry that is a Service name (a short name, resolved in the policy's namespace, or `name.namespace.svc.<cluster domain>`) must be a Service or ServiceEntry host, or the rule never matches. External host names (the ones clients put in the Host header at a gateway) are not checked. In path mode checked only when the files contain Services or ServiceEntries.",
  hint: "fix the host name (the Host header clients send)",
  check({ index }) {
    if (!index.knows("Service", "ServiceEntry")) return [];
    const out: Report[] = [];
    const suffix = `.svc.${index.platform.clusterDomain}`;
    for (const ap of index.of("AuthorizationPolicy")) {
      rulesOf(ap).forEach((rule, i) => {
        asArray(rule.to).forEach((t, j) => {
          asArray(asObj(asObj(t).operation).hosts).forEach((h, k) => {
            if (typeof h !== "string" || h.includes("*")) return;
            const host = h.replace(/:\d+$/, "");
            if (host.includes(".") && !host.endsWith(suffix)) return;
            const fqdn = index.fqdn(host, ap.ns);
            if (index.hostExists(fqdn)) return;
            out.push({
              resource: ap,
              path: ["spec", "rules", i, "to", j, "operation", "hosts", k],
              message: `${describe(ap)} matches host '${h}' (${fqdn}), which no Service or ServiceEntry defines`,
            });
          });
        });
      });
    }
    return out;
  },
});

import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";

export default defineRule({
  code: "dr/host-not-found",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0174", "KIA0202"],
  title: "DestinationRule hosts resolve to a Service or ServiceEntry",
  description:
    "A DestinationRule whose host is in no Service or ServiceEntry applies to nothing: its subsets and traffic policy are silently unused. Short names resolve in the DestinationRule's namespace; wildcard hosts must match at least one known host. In path mode the check runs only when the files contain at least one Service or ServiceEntry.",
  hint: "fix the host, or add the Service or ServiceEntry it is meant for",
  check({ index }) {
    if (!index.knows("Service", "ServiceEntry")) return [];
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      const host = asObj(dr.object.spec).host;
      if (typeof host !== "string") continue;
      const fqdn = index.fqdn(host, dr.ns);
      if (index.hostExists(fqdn)) continue;
      out.push({
        resource: dr,
        path: ["spec", "host"],
        message: `${describe(dr)} is for host '${host}'${fqdn !== host ? ` (${fqdn})` : ""}, which no Service or ServiceEntry defines`,
      });
    }
    return out;
  },
});

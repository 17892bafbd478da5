import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "sidecar/egress-host-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1004", "KIA0005"],
  title: "Sidecar egress hosts name existing namespaces and services",
  description:
    "Each `egress[].hosts` entry is `namespace/host`. The namespace (unless `*`, `.` or `~`) must exist, and a host that is not a wildcard must be in the registry as written (a fully qualified name: Istio does not expand short names here); otherwise the sidecar is cut off from what it was meant to reach. In path mode checked only when the files contain Namespaces (for namespaces) or Services/ServiceEntries (for hosts).",
  hint: "fix the namespace or host; `./*` allows everything in the Sidecar's own namespace",
  check({ index }) {
    const out: Report[] = [];
    for (const sc of index.of("Sidecar")) {
      asArray(asObj(sc.object.spec).egress).forEach((e, i) => {
        asArray(asObj(e).hosts).forEach((h, j) => {
          if (typeof h !== "string" || !h.includes("/")) return;
          const [nsPart, host = ""] = h.split("/", 2) as [string, string];
          const ns = nsPart === "." ? sc.ns : nsPart;
          const path = ["spec", "egress", i, "hosts", j];
          if (ns !== "*" && ns !== "~" && index.knows("Namespace") && !index.hasNamespace(ns)) {
            out.push({
              resource: sc,
              path,
              message: `${describe(sc)} egress host '${h}' names namespace '${ns}', which does not exist`,
              anchors: ["KIA0005"],
            });
            return;
          }
          if (host.includes("*") || ns === "~" || !index.knows("Service", "ServiceEntry")) return;
          // Istio matches egress hosts literally: `./reviews` is not expanded to the FQDN.
          if (!index.hostExists(host))
            out.push({
              resource: sc,
              path,
              message: `${describe(sc)} egress host '${h}' is not in the service registry`,
              anchors: ["KIA1004"],
            });
        });
      });
    }
    return out;
  },
});

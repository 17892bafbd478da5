import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "se/addresses-required",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0134"],
  title: "ServiceEntries with TCP ports have addresses",
  description:
    "A ServiceEntry port with protocol TCP (or unset) and no `addresses` cannot be told apart from other TCP traffic on the same port unless the proxy allocates virtual IPs (PILOT_ENABLE_IP_AUTOALLOCATE / DNS capture).",
  hint: "add `addresses`, or use an HTTP/TLS protocol where Istio can route by host",
  check({ index }) {
    const out: Report[] = [];
    for (const se of index.of("ServiceEntry")) {
      const spec = asObj(se.object.spec);
      if (asArray(spec.addresses).length) continue;
      asArray(spec.ports).forEach((p, i) => {
        const proto = String(asObj(p).protocol ?? "TCP").toUpperCase();
        if (proto !== "TCP") return;
        out.push({
          resource: se,
          path: ["spec", "ports", i],
          message: `${describe(se)} port ${String(asObj(p).number)} is TCP but the ServiceEntry has no addresses`,
        });
      });
    }
    return out;
  },
});

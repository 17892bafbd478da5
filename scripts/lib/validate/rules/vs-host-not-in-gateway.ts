import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Resource } from "../resource.ts";
import { hostMatches, serverHost, vsGateways } from "../istio.ts";
import { GWAPI } from "./gwapi-util.ts";

export default defineRule({
  code: "vs/host-not-in-gateway",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0132"],
  title: "VirtualService hosts are covered by the servers of the gateways it binds to",
  description:
    "For a VirtualService bound to a Gateway, each of its hosts must match a host of one of that Gateway's servers (wildcards and `namespace/host` forms included); otherwise the gateway never routes that host to it.",
  hint: "add the host to a server of the Gateway, or bind the VirtualService to the Gateway that serves the host",
  check({ index }) {
    const byRef = new Map<string, Resource>(
      index
        .allOf("Gateway")
        .filter((g) => g.group !== GWAPI)
        .map((g) => [`${g.ns}/${g.name}`, g]),
    );
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const bound = vsGateways(vs)
        .filter((g) => g.ref !== "mesh")
        .map((g) => byRef.get(g.ref))
        .filter((g): g is Resource => g !== undefined);
      if (bound.length === 0) continue;
      asArray(asObj(vs.object.spec).hosts).forEach((h, i) => {
        if (typeof h !== "string") return;
        const covered = bound.some((gw) =>
          asArray(asObj(gw.object.spec).servers).some((s) =>
            asArray(asObj(s).hosts).some((sh) => {
              if (typeof sh !== "string") return false;
              const { ns, host } = serverHost(sh, gw.ns);
              return (ns === "*" || ns === vs.ns) && hostMatches(host, h);
            }),
          ),
        );
        if (!covered) {
          out.push({
            resource: vs,
            path: ["spec", "hosts", i],
            message: `${describe(vs)} host '${h}' is not served by its gateway(s) ${bound.map((g) => `${g.ns}/${g.name}`).join(", ")}`,
          });
        }
      });
    }
    return out;
  },
});

import type { YamlPath } from "../../yaml-source.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { effectiveMtls, targetPortOf } from "../istio.ts";

export default defineRule({
  code: "dr/mtls-conflict",
  layer: "semantic",
  severity: "error",
  anchors: ["KIA0207", "KIA0208"],
  title: "DestinationRule TLS settings agree with the PeerAuthentication of the destination",
  description:
    "A DestinationRule with `tls.mode: DISABLE` towards workloads whose PeerAuthentication (workload, namespace or mesh level) is STRICT sends plain text to a server that only accepts mTLS: every request fails (connection reset).",
  hint: "remove the DISABLE setting (Istio's auto mTLS does the right thing), use ISTIO_MUTUAL, or make the PeerAuthentication PERMISSIVE",
  check({ index }) {
    if (index.allOf("PeerAuthentication").length === 0) return [];
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      const spec = asObj(dr.object.spec);
      if (typeof spec.host !== "string") continue;
      const svc = index.service(index.fqdn(spec.host, dr.ns));
      if (!svc) continue;
      const workloads = index.workloadsOfService(svc);
      const check = (mode: unknown, path: YamlPath, servicePort?: number) => {
        if (mode !== "DISABLE") return;
        for (const w of workloads) {
          // portLevelSettings name the Service port; portLevelMtls the workload (target) port.
          const port = servicePort === undefined ? undefined : targetPortOf(svc, servicePort, w);
          const eff = effectiveMtls(index, w, port);
          if (eff.mode !== "STRICT") continue;
          out.push({
            resource: dr,
            path,
            message: `${describe(dr)} disables TLS towards ${w.origin}, which ${eff.policy ? describe(eff.policy) : "a PeerAuthentication"} (${eff.level} level) makes STRICT mTLS`,
            anchors: [eff.level === "mesh" ? "KIA0208" : "KIA0207"],
          });
          return;
        }
      };
      const tp = asObj(spec.trafficPolicy);
      check(asObj(tp.tls).mode, ["spec", "trafficPolicy", "tls", "mode"]);
      asArray(tp.portLevelSettings).forEach((p, i) => {
        const po = asObj(p);
        const port = asObj(po.port).number;
        check(
          asObj(po.tls).mode,
          ["spec", "trafficPolicy", "portLevelSettings", i, "tls", "mode"],
          typeof port === "number" ? port : undefined,
        );
      });
      asArray(spec.subsets).forEach((s, i) =>
        check(asObj(asObj(asObj(s).trafficPolicy).tls).mode, [
          "spec",
          "subsets",
          i,
          "trafficPolicy",
          "tls",
          "mode",
        ]),
      );
    }
    return out;
  },
});

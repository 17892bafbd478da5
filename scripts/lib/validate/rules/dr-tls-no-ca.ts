import type { YamlPath } from "../../yaml-source.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe, type Obj } from "../resource.ts";

function tlsPolicies(spec: Obj): Array<{ tls: Obj; path: YamlPath; port: boolean }> {
  const out: Array<{ tls: Obj; path: YamlPath; port: boolean }> = [];
  const visit = (tp: Obj, base: YamlPath) => {
    if (tp.tls) out.push({ tls: asObj(tp.tls), path: [...base, "tls"], port: false });
    asArray(tp.portLevelSettings).forEach((p, i) => {
      const po = asObj(p);
      if (po.tls)
        out.push({ tls: asObj(po.tls), path: [...base, "portLevelSettings", i, "tls"], port: true });
    });
  };
  visit(asObj(spec.trafficPolicy), ["spec", "trafficPolicy"]);
  asArray(spec.subsets).forEach((s, i) =>
    visit(asObj(asObj(s).trafficPolicy), ["spec", "subsets", i, "trafficPolicy"]),
  );
  return out;
}

export default defineRule({
  code: "dr/tls-no-ca",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0128", "IST0129"],
  title: "TLS origination verifies the server certificate",
  description:
    "A DestinationRule with `tls.mode: SIMPLE` or `MUTUAL` and neither `caCertificates` nor `credentialName` (nor `insecureSkipVerify: true` said out loud) originates TLS without verifying who answers.",
  hint: "set `caCertificates` (or `credentialName` holding a CA), or `insecureSkipVerify: true` if that is really intended",
  check({ index }) {
    const out: Report[] = [];
    for (const dr of index.of("DestinationRule")) {
      for (const { tls, path, port } of tlsPolicies(asObj(dr.object.spec))) {
        if (tls.mode !== "SIMPLE" && tls.mode !== "MUTUAL") continue;
        if (tls.caCertificates || tls.credentialName || tls.insecureSkipVerify === true) continue;
        out.push({
          resource: dr,
          path: [...path, "mode"],
          message: `${describe(dr)} originates TLS (${String(tls.mode)}) without caCertificates: the server certificate is not verified${port ? " for this port" : ""}`,
          anchors: [port ? "IST0129" : "IST0128"],
        });
      }
    }
    return out;
  },
});

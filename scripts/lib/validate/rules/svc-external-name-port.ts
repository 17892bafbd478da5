import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { protocolOfAppProtocol, protocolOfPortName } from "../istio.ts";

export default defineRule({
  code: "svc/external-name-port-name",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0150"],
  title: "ExternalName Service ports name their protocol, and not plain `tcp`",
  description:
    "For an ExternalName Service the proxy cannot tell TCP connections to the external name apart by destination address; a port named `tcp`, or one whose name or appProtocol gives no protocol, is forwarded as plain TCP only when nothing else claims the port, and unmatched traffic can go elsewhere. Name the port after its real protocol (`http`, `https`, `tls`...).",
  hint: "name the port after its protocol (`https`, `tls`, `http`), or use a ServiceEntry",
  check({ index }) {
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      const spec = asObj(svc.object.spec);
      if (spec.type !== "ExternalName") continue;
      asArray(spec.ports).forEach((p, i) => {
        const po = asObj(p);
        const name = po.name;
        // As istioctl: plain `tcp`, or a port whose protocol neither name nor appProtocol gives.
        const known =
          (typeof po.appProtocol === "string" && protocolOfAppProtocol(po.appProtocol)) ||
          (typeof name === "string" && protocolOfPortName(name));
        if (known && name !== "tcp") return;
        out.push({
          resource: svc,
          path: ["spec", "ports", i, typeof name === "string" ? "name" : "port"],
          message: `${describe(svc)} (ExternalName) port ${String(asObj(p).port)} is ${typeof name === "string" ? `named '${name}'` : "unnamed"}: it is treated as plain TCP`,
        });
      });
    }
    return out;
  },
});

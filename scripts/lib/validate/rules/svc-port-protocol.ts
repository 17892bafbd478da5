import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { ISTIO_PROTOCOLS, protocolOfAppProtocol, protocolOfPortName } from "../istio.ts";

export default defineRule({
  code: "svc/port-protocol",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0118", "KIA0601", "KIA0602"],
  title: "Service ports declare their protocol (name prefix or appProtocol)",
  description:
    "Istio selects the protocol of a port from `appProtocol`, or else from the port name `<protocol>[-<suffix>]` (http, http2, https, grpc, grpc-web, tcp, tls, mongo, mysql, redis, udp...). Without either, Istio falls back to protocol sniffing, which breaks server-first protocols and loses HTTP features.",
  hint: `name the port \`http\`, \`http-web\`, \`grpc\`... or set appProtocol (one of ${ISTIO_PROTOCOLS.join(", ")})`,
  check({ index }) {
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      if (index.isOpaque(svc.ns) || asObj(svc.object.spec).type === "ExternalName") continue;
      asArray(asObj(svc.object.spec).ports).forEach((p, i) => {
        const po = asObj(p);
        if (typeof po.appProtocol === "string") {
          if (!protocolOfAppProtocol(po.appProtocol)) {
            out.push({
              resource: svc,
              path: ["spec", "ports", i, "appProtocol"],
              message: `${describe(svc)} port ${String(po.port)} has appProtocol '${po.appProtocol}', which Istio does not recognize`,
              anchors: ["KIA0602"],
            });
          }
          return;
        }
        const name = typeof po.name === "string" ? po.name : "";
        if (protocolOfPortName(name)) return;
        out.push({
          resource: svc,
          path: ["spec", "ports", i, name ? "name" : "port"],
          message: `${describe(svc)} port ${String(po.port)} ${name ? `is named '${name}', which` : "has no name and"} does not follow Istio's <protocol>[-suffix] convention`,
          anchors: ["IST0118", "KIA0601"],
        });
      });
    }
    return out;
  },
});

import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { gatewaySelector, gatewayWorkloads } from "../istio.ts";

export default defineRule({
  code: "gw/selector-no-workload",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0101", "KIA0302"],
  title: "Gateway selectors match a gateway workload",
  description:
    "`spec.selector` of a Gateway picks the gateway pods (in any namespace) that serve it. The classic miss: `istio: ingressgateway` (the istioctl/IstioOperator label) against pods installed by the `istio/gateway` Helm chart, which are labelled `istio: <release name without istio->` (release `istio-ingress` gives `istio: ingress`). In repo mode the gateway pods of every enabled `istio/gateway` release are known; in path mode declare platform gateways in .validate.yaml, and the check runs only when the files contain workloads or platform gateways are declared.",
  hint: "use the labels of the gateway pods, e.g. `istio: ingress` for the Helm release istio-ingress",
  check({ index }) {
    if (!index.knowsWorkloads()) return [];
    const out: Report[] = [];
    for (const gw of index.of("Gateway")) {
      const sel = gatewaySelector(gw);
      if (Object.keys(sel).length === 0) continue;
      if (gatewayWorkloads(index, gw).length) continue;
      const known = index.platform.gateways.map(
        (g) =>
          `${g.origin}: ${Object.entries(g.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(",")}`,
      );
      out.push({
        resource: gw,
        path: ["spec", "selector"],
        message: `${describe(gw)} selects ${Object.entries(sel)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ", ",
          )}, which matches no gateway workload${known.length ? ` (known gateways: ${known.join("; ")})` : ""}`,
      });
    }
    return out;
  },
});

import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, type Resource } from "../resource.ts";
import { clusterGateways } from "./gwapi-util.ts";

export default defineRule({
  code: "gwapi/duplicate-address",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1502"],
  title: "No two Gateway API Gateways request the same address",
  description:
    "Kiali's k8sgateways.multimatch.ip: two Gateways (in any namespaces) whose `spec.addresses` have an entry of the same type and value ask for one address twice: for an IPAddress, one load balancer IP for the two Services istiod creates, of which only one can get it. The type defaults to IPAddress, as the API server fills it in. Unlike Kiali, Hostname addresses are not compared: pointing several Gateways at one existing gateway Service is Istio's manual deployment, which shares those pods on purpose.",
  hint: "give each Gateway its own address, or merge the listeners into one Gateway",
  check({ index }) {
    const gateways = clusterGateways(index);
    const keyOf = (a: Record<string, unknown>) => {
      const value = asString(a.value);
      const type = asString(a.type) ?? "IPAddress";
      return value && type !== "Hostname" ? `${type}|${value}` : undefined;
    };
    const byKey = new Map<string, Set<Resource>>();
    for (const gw of gateways)
      for (const a of asArray(asObj(gw.object.spec).addresses).map(asObj)) {
        const key = keyOf(a);
        if (key) byKey.set(key, (byKey.get(key) ?? new Set()).add(gw));
      }
    const out: Report[] = [];
    for (const gw of gateways)
      asArray(asObj(gw.object.spec).addresses).forEach((a, i) => {
        const ao = asObj(a);
        const key = keyOf(ao);
        const others = [...(key ? (byKey.get(key) ?? []) : [])].filter((g) => g !== gw);
        if (others.length === 0) return;
        out.push({
          resource: gw,
          path: ["spec", "addresses", i, "value"],
          message: `${describe(gw)} requests address ${String(ao.value)} (${asString(ao.type) ?? "IPAddress"}), as ${others.map(describe).join(", ")} also does`,
        });
      });
    return out;
  },
});

import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, type Resource } from "../resource.ts";
import { clusterGateways } from "./gwapi-util.ts";

export default defineRule({
  code: "gwapi/duplicate-listener",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1501"],
  title: "No two Gateway API Gateways have a listener for the same hostname, port and protocol",
  description:
    "Kiali's k8sgateways.multimatch.listener: two Gateways (in any namespaces) with listeners of the same `hostname`, `port` and `protocol` both claim that host; clients reach whichever one DNS points at, and the routes attached to the other never see its traffic. Listeners without a hostname are not compared (as Kiali). Unlike Kiali, which skips Gateways of the same name in other namespaces, every other Gateway counts. Listeners of one Gateway that collide are the Gateway CRD's own CEL rules' (KIA1503).",
  hint: "serve the hostname from one Gateway (more listeners, or a ListenerSet), or give one of the listeners another hostname or port",
  check({ index }) {
    const gateways = clusterGateways(index);
    // hostname|port|protocol -> the Gateways that have such a listener.
    const byKey = new Map<string, Set<Resource>>();
    const keyOf = (l: Record<string, unknown>) => {
      const host = asString(l.hostname);
      return host ? `${host}|${String(l.port)}|${String(l.protocol)}` : undefined;
    };
    for (const gw of gateways)
      for (const l of asArray(asObj(gw.object.spec).listeners).map(asObj)) {
        const key = keyOf(l);
        if (key) byKey.set(key, (byKey.get(key) ?? new Set()).add(gw));
      }
    const out: Report[] = [];
    for (const gw of gateways)
      asArray(asObj(gw.object.spec).listeners).forEach((l, i) => {
        const lo = asObj(l);
        const key = keyOf(lo);
        const others = [...(key ? (byKey.get(key) ?? []) : [])].filter((g) => g !== gw);
        if (others.length === 0) return;
        out.push({
          resource: gw,
          path: ["spec", "listeners", i, "hostname"],
          message: `${describe(gw)} listener '${asString(lo.name) ?? i}' serves ${String(lo.hostname)} on port ${String(lo.port)} (${String(lo.protocol)}), as ${others.map(describe).join(", ")} also does`,
        });
      });
    return out;
  },
});

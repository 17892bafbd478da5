import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, type Resource } from "../resource.ts";
import { gatewaySelector, policySelector } from "../istio.ts";
import { selects, type ResourceIndex, type Workload } from "../resource-index.ts";

/** The workloads an EnvoyFilter patches: its selector in its namespace (anywhere from the root namespace). */
function targets(index: ResourceIndex, ef: Resource): Workload[] {
  const root = ef.ns === index.platform.rootNamespace;
  const sel = policySelector(ef);
  if (sel) return index.workloadsSelected(sel.labels, root ? undefined : ef.ns);
  return root ? index.workloads : index.workloads.filter((w) => w.ns === ef.ns);
}

/** Ports a listener can have on these workloads, for the context; undefined when not known. */
function listenerPorts(index: ResourceIndex, context: string, ws: Workload[]): Set<number> | undefined {
  if (context === "SIDECAR_INBOUND") {
    if (ws.some((w) => !w.resource || w.portsUnknown)) return undefined;
    return new Set(ws.flatMap((w) => w.ports.map((p) => p.port)));
  }
  if (context === "GATEWAY") {
    if (!index.knows("Gateway")) return undefined;
    const ports = new Set<number>();
    for (const gw of index.allOf("Gateway")) {
      const sel = gatewaySelector(gw);
      if (!Object.keys(sel).length || !ws.some((w) => selects(sel, w.labels))) continue;
      for (const s of asArray(asObj(gw.object.spec).servers)) {
        const n = asObj(asObj(s).port).number;
        if (typeof n === "number") ports.add(n);
      }
    }
    return ports;
  }
  return undefined;
}

export default defineRule({
  code: "envoyfilter/match-nothing",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "EnvoyFilter listener matches name ports and gateways the workloads have",
  description:
    "An EnvoyFilter patch whose match names nothing in the configuration istiod generates is silently not applied. Checked without a live proxy (old filter names are `envoyfilter/renamed-filter`): a `listener.portNumber` in context SIDECAR_INBOUND that no selected workload's container declares; one in context GATEWAY that no Gateway bound to the selected gateway pods listens on; and a GATEWAY context whose workloads are no gateway pods of any Gateway. Workloads whose ports the manifest does not show (injected gateways, operator-made pods) are not checked for inbound ports.",
  hint: "match the listener port and filter names the proxy has (`istioctl proxy-config listeners <pod> -o json` on a live cluster)",
  check({ index }) {
    const out: Report[] = [];
    for (const ef of index.of("EnvoyFilter")) {
      const ws = targets(index, ef);
      asArray(asObj(ef.object.spec).configPatches).forEach((cp, i) => {
        const match = asObj(asObj(cp).match);
        const context = asString(match.context) ?? "ANY";
        const listener = asObj(match.listener);
        const base = ["spec", "configPatches", i, "match"];
        if (!index.knowsWorkloads() || ws.length === 0) return;
        const port = listener.portNumber;
        if (context === "GATEWAY" && listenerPorts(index, "GATEWAY", ws)?.size === 0 && port === undefined) {
          out.push({
            resource: ef,
            path: [...base, "context"],
            message: `${describe(ef)} configPatches[${i}] has context GATEWAY, but none of its workloads (${ws.map((w) => w.origin).join(", ")}) is the pod of a Gateway`,
          });
          return;
        }
        if (typeof port !== "number") return;
        const ports = listenerPorts(index, context, ws);
        if (!ports || ports.has(port)) return;
        out.push({
          resource: ef,
          path: [...base, "listener", "portNumber"],
          message: `${describe(ef)} configPatches[${i}] matches ${context} listener port ${port}, which ${context === "GATEWAY" ? "no Gateway of its gateway pods listens on" : "no selected workload declares"} (${[...ports].sort((a, b) => a - b).join(", ") || "none"})`,
        });
      });
    }
    return out;
  },
});

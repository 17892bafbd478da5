import { defineRule, type GeneratedConfig, type Report } from "../rule.ts";
import type { SimEnvoyFilter } from "../../behaviour/protocol.ts";
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

/** What a patch of this kind would have changed, for the message. */
function patchedObjects(applyTo: string): string {
  if (applyTo === "CLUSTER") return "clusters";
  if (["ROUTE_CONFIGURATION", "VIRTUAL_HOST", "HTTP_ROUTE"].includes(applyTo)) return "routes";
  return "listeners";
}

/**
 * The helper's verdict on patch i, when it has one: a report when the patch changes nothing,
 * null when it applies, undefined when the manifests must decide (no verdict, not evaluable, or
 * the filter attaches to no proxy, which `policy/selector-no-workload` reports).
 */
function generatedVerdict(
  generated: GeneratedConfig | undefined,
  ef: Resource,
  i: number,
  hasMatch: boolean,
  operation: string | undefined,
): Report | null | undefined {
  const verdict: SimEnvoyFilter | undefined = generated?.envoyFilters.get(`${ef.ns}/${ef.name}`);
  const patch = verdict?.patches.find((p) => p.index === i);
  if (!verdict || !patch || patch.notEvaluated || !verdict.proxies.length) return undefined;
  if (patch.applied) return null;
  const proxies = verdict.proxies.join(", ");
  const already = operation === "MERGE" ? " (or only merges values they already have)" : "";
  return {
    resource: ef,
    path: hasMatch ? ["spec", "configPatches", i, "match"] : ["spec", "configPatches", i],
    message: `${describe(ef)} configPatches[${i}] (${patch.applyTo}, context ${patch.context}) matches nothing in the configuration istiod generates for ${proxies}: generated with and without the patch, their ${patchedObjects(patch.applyTo)} are the same${already}`,
    detail: [
      "what the generated configuration has (Istio's own generation, in the mesh simulation helper):",
      ...(patch.contains ?? []),
    ].join("\n  "),
  };
}

export default defineRule({
  code: "envoyfilter/match-nothing",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "EnvoyFilter patches match something in the configuration istiod generates",
  description:
    "An EnvoyFilter patch whose match names nothing in the configuration istiod generates is silently not applied. In repo mode, when the mesh simulation helper is built (`pnpm tools mesh-sim`, the behaviour layer), the generated configuration decides: for every proxy Istio attaches the filter to (workloadSelector or targetRefs, its namespace, or every proxy for the root namespace), the helper generates the listeners, clusters or routes the patch applies to with and without it, with Istio's own code; a patch that changes nothing on any of them is reported at its `match`, with the listener ports, filter names, clusters or routes those proxies do have as detail. That covers every field of the match (context, port, listener and filter names, cluster, route configuration, virtual host) and every operation; a MERGE that only sets values already there reads as matching nothing too. BOOTSTRAP and EXTENSION_CONFIG patches, patches with a proxy version or metadata match, and filters that attach to no proxy (`policy/selector-no-workload`) get no verdict from it. Without the helper (not built, path mode) the manifests are read instead (old filter names are `envoyfilter/renamed-filter`): a `listener.portNumber` in context SIDECAR_INBOUND that no selected workload's container declares; one in context GATEWAY that no Gateway bound to the selected gateway pods listens on; and a GATEWAY context whose workloads are no gateway pods of any Gateway. Workloads whose ports the manifest does not show (injected gateways, operator-made pods) are not checked for inbound ports then.",
  hint: "match the listener port and filter names the proxy has (the finding's detail lists them when the helper generated them; `istioctl proxy-config listeners <pod> -o json` on a live cluster)",
  check({ index, generated }) {
    const out: Report[] = [];
    for (const ef of index.of("EnvoyFilter")) {
      const ws = targets(index, ef);
      asArray(asObj(ef.object.spec).configPatches).forEach((cp, i) => {
        const match = asObj(asObj(cp).match);
        const context = asString(match.context) ?? "ANY";
        const listener = asObj(match.listener);
        const base = ["spec", "configPatches", i, "match"];
        // The generated configuration decides when the helper judged the patch; the guesses
        // below are for when it did not (helper not built, path mode, a patch it cannot judge).
        const op = asString(asObj(asObj(cp).patch).operation);
        const verdict = generatedVerdict(generated, ef, i, asObj(cp).match !== undefined, op);
        if (verdict !== undefined) {
          if (verdict) out.push(verdict);
          return;
        }
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

import { load } from "js-yaml";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe, isObj, type Resource } from "../resource.ts";

/** Providers istiod always adds to meshConfig.extensionProviders (pkg/config/mesh DefaultMeshConfig). */
const BUILT_IN = ["prometheus", "stackdriver", "envoy"];

/** The meshConfig documents of the render: the `mesh` key of istiod's `istio` / `istio-<rev>` ConfigMaps. */
function meshConfigs(
  all: readonly Resource[],
  rootNs: string,
): Array<{ cm: Resource; mesh: Record<string, unknown> }> {
  return all.flatMap((cm) => {
    if (cm.kind !== "ConfigMap" || cm.ns !== rootNs || !/^istio(-.+)?$/.test(cm.name)) return [];
    const text = asObj(cm.object.data).mesh;
    if (typeof text !== "string") return [];
    try {
      const mesh = load(text);
      return isObj(mesh) ? [{ cm, mesh }] : [];
    } catch {
      return [];
    }
  });
}

export default defineRule({
  code: "telemetry/provider-not-found",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Telemetry and meshConfig name providers that meshConfig defines",
  description:
    "A Telemetry's `tracing`, `metrics` and `accessLogging` `providers[].name`, and meshConfig's `defaultProviders`, must be the name of one of meshConfig's `extensionProviders` (the `mesh` key of istiod's `istio` ConfigMap in the root namespace) or of the providers istiod always has (`prometheus`, `stackdriver`, `envoy`). An unknown name is dropped by istiod with a log line only: no traces, no access log. Checked when the files contain istiod's mesh ConfigMap.",
  hint: "use the name of an extensionProviders entry (meshConfig in istiod's values), or define the provider there",
  check({ index }) {
    const configs = meshConfigs(index.all, index.platform.rootNamespace);
    if (configs.length === 0) return [];
    const known = new Set(BUILT_IN);
    for (const { mesh } of configs)
      for (const p of asArray(mesh.extensionProviders)) {
        const n = asString(asObj(p).name);
        if (n) known.add(n);
      }
    const list = [...known].sort().join(", ");
    const out: Report[] = [];
    for (const t of index.of("Telemetry")) {
      const spec = asObj(t.object.spec);
      for (const section of ["tracing", "metrics", "accessLogging"]) {
        asArray(spec[section]).forEach((s, i) => {
          asArray(asObj(s).providers).forEach((p, j) => {
            const name = asString(asObj(p).name);
            if (!name || known.has(name)) return;
            out.push({
              resource: t,
              path: ["spec", section, i, "providers", j, "name"],
              message: `${describe(t)} ${section} provider '${name}' is not defined in meshConfig (known: ${list})`,
            });
          });
        });
      }
    }
    for (const { cm, mesh } of configs) {
      if (cm.peer) continue;
      for (const [kind, names] of Object.entries(asObj(mesh.defaultProviders)))
        for (const name of asArray(names))
          if (typeof name === "string" && !known.has(name))
            out.push({
              resource: cm,
              path: ["data", "mesh"],
              message: `${describe(cm)} meshConfig defaultProviders.${kind} names '${name}', which extensionProviders does not define (known: ${list})`,
            });
    }
    return out;
  },
});

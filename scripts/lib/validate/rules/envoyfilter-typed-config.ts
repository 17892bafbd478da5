import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

/** Patches whose value is one filter (`name` plus its configuration). */
const FILTER_TARGETS = new Set(["HTTP_FILTER", "NETWORK_FILTER", "LISTENER_FILTER"]);

export default defineRule({
  code: "envoyfilter/typed-config",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0133"],
  title: "EnvoyFilter filters carry a typed_config",
  description:
    "Envoy no longer looks filters up by name alone: a filter added or replaced without `typed_config` (or `config_discovery`) relies on deprecated name-based typing and may be rejected by newer proxies. Istio warns about it when it validates the EnvoyFilter.",
  hint: "add `typed_config` with the filter's `@type` (for example type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua)",
  check({ index }) {
    const out: Report[] = [];
    for (const ef of index.of("EnvoyFilter")) {
      asArray(asObj(ef.object.spec).configPatches).forEach((cp, i) => {
        const c = asObj(cp);
        if (!FILTER_TARGETS.has(String(c.applyTo ?? ""))) return;
        const value = asObj(asObj(c.patch).value);
        if (typeof value.name !== "string") return;
        const typed = ["typed_config", "typedConfig", "config_discovery", "configDiscovery"].some(
          (k) => value[k] !== undefined,
        );
        if (typed) return;
        out.push({
          resource: ef,
          path: ["spec", "configPatches", i, "patch", "value"],
          message: `${describe(ef)} configPatches[${i}] adds filter '${value.name}' without typed_config`,
        });
      });
    }
    return out;
  },
});

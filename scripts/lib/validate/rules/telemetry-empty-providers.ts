import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "telemetry/empty-providers",
  layer: "semantic",
  severity: "warning",
  anchors: ["IST0157"],
  title: "Telemetry providers lists are not empty",
  description:
    "A `providers: []` in accessLogging, metrics or tracing makes Istio ignore that part of the Telemetry resource.",
  hint: "name a provider (e.g. `- name: prometheus`) or drop the empty list",
  check({ index }) {
    const out: Report[] = [];
    for (const t of index.of("Telemetry")) {
      const spec = asObj(t.object.spec);
      for (const section of ["accessLogging", "metrics", "tracing"]) {
        asArray(spec[section]).forEach((e, i) => {
          const p = asObj(e).providers;
          if (Array.isArray(p) && p.length === 0) {
            out.push({
              resource: t,
              path: ["spec", section, i, "providers"],
              message: `${describe(t)} ${section}[${i}] has an empty providers list and is ignored`,
            });
          }
        });
      }
    }
    return out;
  },
});

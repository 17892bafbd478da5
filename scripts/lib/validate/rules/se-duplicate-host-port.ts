import { defineRule, type Report } from "../rule.ts";
import { describe, type Resource } from "../resource.ts";
import { exportOverlaps } from "../istio.ts";
import { seEntries } from "./se-conflicting-protocol.ts";

export default defineRule({
  code: "se/duplicate-host-port",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA1211"],
  title: "One ServiceEntry per host and port",
  description:
    "Two ServiceEntries visible together (exportTo) for the same host and port are merged by Istio in an order you do not control: endpoints, resolution and location of the later one may be dropped. Keep each external host and port in one ServiceEntry.",
  hint: "merge the two ServiceEntries, or export them to different namespaces",
  check({ index }) {
    const out: Report[] = [];
    const reported = new Set<Resource>();
    for (const entries of seEntries(index.allOf("ServiceEntry")).values()) {
      for (const e of entries) {
        if (e.se.peer || reported.has(e.se)) continue;
        const others = entries.filter((o) => o.se !== e.se && exportOverlaps(o.se, e.se));
        if (others.length === 0) continue;
        reported.add(e.se);
        out.push({
          resource: e.se,
          path: ["spec", "hosts", e.hostIndex],
          message: `${describe(e.se)} and ${[...new Set(others.map((o) => describe(o.se)))].join(", ")} both define ${e.host}:${e.port}`,
        });
      }
    }
    return out;
  },
});

import { defineRule, type Report } from "../rule.ts";
import { describe, type Resource } from "../resource.ts";

export default defineRule({
  code: "k8s/duplicate-object",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Each object is defined once",
  description:
    "Two documents with the same group, kind, namespace and name are the same object: the one applied last wins (and Argo CD reports a shared resource), so one of the definitions is silently lost.",
  hint: "keep one definition; change it with a patch instead of redefining it",
  check({ index }) {
    const seen = new Map<string, Resource>();
    const out: Report[] = [];
    for (const r of index.all) {
      if (!r.name) continue;
      const key = `${r.group}|${r.kind}|${r.ns}|${r.name}`;
      const first = seen.get(key);
      if (!first) {
        seen.set(key, r);
        continue;
      }
      if (r.peer) continue;
      out.push({
        resource: r,
        path: ["metadata", "name"],
        message: `${describe(r)} is defined twice: also in ${first.file}:${first.doc.positionOf([]).line}`,
      });
    }
    return out;
  },
});

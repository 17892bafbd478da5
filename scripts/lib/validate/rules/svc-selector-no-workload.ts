import { defineRule, type Report } from "../rule.ts";
import { asObj, asStringMap, describe } from "../resource.ts";
import type { Workload } from "../resource-index.ts";

/**
 * The workload the selector was most likely meant for, and what differs: a label key misspelt
 * (`ap: reviews` against `app: reviews`) or a value (`version: v1` against `version: v2`).
 */
function closest(workloads: readonly Workload[], sel: Record<string, string>): string {
  let best: { w: Workload; diffs: string[] } | undefined;
  for (const w of workloads) {
    const diffs: string[] = [];
    for (const [k, v] of Object.entries(sel)) {
      if (w.labels[k] === v) continue;
      if (w.labels[k] !== undefined) diffs.push(`${k}=${w.labels[k]} (not ${v})`);
      else {
        const key = Object.keys(w.labels).find((l) => w.labels[l] === v && !(l in sel));
        diffs.push(key ? `label key '${key}' (not '${k}')` : `no label ${k}`);
      }
    }
    if (!best || diffs.length < best.diffs.length) best = { w, diffs };
  }
  // Nothing in common at all: no workload to point at.
  if (!best || best.diffs.every((d) => d.startsWith("no label"))) return "";
  return `; closest: ${best.w.origin}, which has ${best.diffs.join(", ")}`;
}

export default defineRule({
  code: "svc/selector-no-workload",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "Service selectors match at least one workload",
  description:
    "A Service whose selector matches no pod template in its namespace has no endpoints: every request to it fails. Services without selector (manual Endpoints, ExternalName) are not checked. The message names the closest pod template and what differs (a misspelt label key, or a value). In path mode checked only when the files contain workloads.",
  hint: "align the selector with the pod template labels of the Deployment/StatefulSet",
  check({ index }) {
    if (!index.knowsWorkloads()) return [];
    const out: Report[] = [];
    for (const svc of index.of("Service")) {
      const sel = asStringMap(asObj(svc.object.spec).selector);
      if (Object.keys(sel).length === 0 || index.isOpaque(svc.ns)) continue;
      if (index.workloadsOfService(svc).length) continue;
      out.push({
        resource: svc,
        path: ["spec", "selector"],
        message: `${describe(svc)} selects ${Object.entries(sel)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")}, which matches no workload in namespace ${svc.ns}${closest(
          index.workloads.filter((w) => w.ns === svc.ns),
          sel,
        )}`,
      });
    }
    return out;
  },
});

import { KNOWN_SYNC_OPTIONS } from "../../render/argocd-policy.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { isApplication } from "./argocd-util.ts";

const KNOWN = new Set(KNOWN_SYNC_OPTIONS);

export default defineRule({
  code: "argocd/sync-option",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Sync options are ones Argo CD knows",
  description:
    "Argo CD ignores unknown sync options silently (a typo such as `ServerSideApply=True` or `CreateNamespaces=true` just does nothing). Checked in Application `syncPolicy.syncOptions` and in the `argocd.argoproj.io/sync-options` annotation of any resource.",
  hint: `use one of: ${KNOWN_SYNC_OPTIONS.join(", ")}`,
  check({ index }) {
    const out: Report[] = [];
    for (const r of index.local) {
      if (isApplication(r)) {
        asArray(asObj(asObj(r.object.spec).syncPolicy).syncOptions).forEach((o, i) => {
          if (typeof o === "string" && !KNOWN.has(o))
            out.push({
              resource: r,
              path: ["spec", "syncPolicy", "syncOptions", i],
              message: `${describe(r)} has unknown sync option '${o}'`,
            });
        });
      }
      const ann = asObj(asObj(r.object.metadata).annotations)["argocd.argoproj.io/sync-options"];
      if (typeof ann !== "string") continue;
      for (const o of ann
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)) {
        if (!KNOWN.has(o))
          out.push({
            resource: r,
            path: ["metadata", "annotations", "argocd.argoproj.io/sync-options"],
            message: `${describe(r)} has unknown sync option '${o}' in its annotation`,
          });
      }
    }
    return out;
  },
});

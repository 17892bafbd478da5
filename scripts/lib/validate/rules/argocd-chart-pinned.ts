import { defineRule, type Report } from "../rule.ts";
import { describe } from "../resource.ts";
import { isApplication, sources } from "./argocd-util.ts";

const EXACT = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

export default defineRule({
  code: "argocd/chart-pinned",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Helm chart sources pin an exact chart version",
  description:
    "An Application source with `chart:` must set `targetRevision` to one exact version. A range (`^1.2`, `1.*`, `>=1.0`) or an empty revision makes Argo CD pick up new chart releases without a commit, so the cluster drifts from what was reviewed. (helmfile.yaml pins are checked by the model: `model/helmfile`.)",
  hint: "set targetRevision to an exact version, e.g. 1.30.3",
  check({ index }) {
    const out: Report[] = [];
    for (const app of index.local.filter(isApplication)) {
      for (const { source, path } of sources(app)) {
        if (typeof source.chart !== "string") continue;
        const rev = typeof source.targetRevision === "string" ? source.targetRevision : "";
        if (EXACT.test(rev)) continue;
        out.push({
          resource: app,
          path: [...path, source.targetRevision === undefined ? "chart" : "targetRevision"],
          message: `${describe(app)} uses chart '${source.chart}' at '${rev || "(latest)"}', not an exact version`,
        });
      }
    }
    return out;
  },
});

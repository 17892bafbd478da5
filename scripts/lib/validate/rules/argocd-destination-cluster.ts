import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { IN_CLUSTER_SERVER, isApplication } from "./argocd-util.ts";

export default defineRule({
  code: "argocd/destination-cluster",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Application destinations are declared clusters",
  description:
    "`spec.destination.name` (or `server`) must be a cluster declared in clusters/*/cluster.yaml (or Argo CD's built-in in-cluster). Repo mode only.",
  hint: "use the argocd.destination of a declared cluster; register new clusters with `pnpm cluster:register`",
  check({ index, repo }) {
    if (!repo) return [];
    const out: Report[] = [];
    for (const app of index.local.filter(isApplication)) {
      const d = asObj(asObj(app.object.spec).destination);
      if (typeof d.name === "string" && d.name !== "in-cluster" && !repo.clusterNames.has(d.name)) {
        out.push({
          resource: app,
          path: ["spec", "destination", "name"],
          message: `${describe(app)} deploys to cluster '${d.name}', which no cluster.yaml declares (known: ${["in-cluster", ...repo.clusterNames].join(", ")})`,
        });
      }
      if (
        typeof d.server === "string" &&
        d.server !== IN_CLUSTER_SERVER &&
        !repo.clusterServers.has(d.server)
      ) {
        out.push({
          resource: app,
          path: ["spec", "destination", "server"],
          message: `${describe(app)} deploys to server '${d.server}', which no cluster.yaml declares`,
        });
      }
    }
    return out;
  },
});

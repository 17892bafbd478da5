import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { destinationCluster, destinationPermitted } from "./argocd-model.ts";
import { glob, isApplication, sources } from "./argocd-util.ts";

export default defineRule({
  code: "argocd/project-permits",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "The AppProject exists and allows the Application's sources and destination",
  description:
    "An Application's `spec.project` must be an AppProject (or `default`) whose `sourceRepos` match every source repoURL and whose `destinations` match the destination (name or server, and namespace). Otherwise Argo CD refuses to sync (`application destination ... is not permitted in project`). In path mode checked only when the files contain an AppProject.",
  hint: "add the repository to sourceRepos or the namespace to destinations of the AppProject, or use the right project",
  check({ index }) {
    if (!index.knows("AppProject")) return [];
    const projects = new Map(index.allOf("AppProject").map((p) => [p.name, p] as const));
    const out: Report[] = [];
    for (const app of index.local.filter(isApplication)) {
      const spec = asObj(app.object.spec);
      const projectName = typeof spec.project === "string" ? spec.project : "default";
      const project = projects.get(projectName);
      if (!project) {
        if (projectName !== "default")
          out.push({
            resource: app,
            path: ["spec", "project"],
            message: `${describe(app)} belongs to project '${projectName}', which does not exist`,
          });
        continue;
      }
      const ps = asObj(project.object.spec);
      const repos = asArray(ps.sourceRepos).filter((r): r is string => typeof r === "string");
      for (const { source, path } of sources(app)) {
        if (typeof source.repoURL !== "string") continue;
        if (!repos.some((r) => glob(r, source.repoURL as string))) {
          out.push({
            resource: app,
            path: [...path, "repoURL"],
            message: `${describe(app)} uses repository ${source.repoURL}, which project '${projectName}' does not allow`,
          });
        }
      }
      const dest = asObj(spec.destination);
      // Argo CD's isDestinationMatched (argocd-model.ts); a cluster half unknown offline may go either way.
      if (destinationPermitted(project, destinationCluster(dest), String(dest.namespace ?? "")) === false) {
        out.push({
          resource: app,
          path: ["spec", "destination"],
          message: `${describe(app)} deploys to ${String(dest.name ?? dest.server)}/${String(dest.namespace ?? "")}, which project '${projectName}' does not allow`,
        });
      }
    }
    return out;
  },
});

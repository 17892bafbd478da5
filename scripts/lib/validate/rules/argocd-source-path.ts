import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { isApplication, sources } from "./argocd-util.ts";

export default defineRule({
  code: "argocd/source-path",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Application source paths and value files exist in this repository",
  description:
    "A source of this repository with `path:` (and every `$values/...` value file) must exist at the rendered chapter, or Argo CD reports `app path does not exist` and syncs nothing. Repo mode only (path mode does not know the repository).",
  hint: "fix the path, or render the cluster so the folder exists (`pnpm render`)",
  check({ index, repo }) {
    if (!repo) return [];
    const out: Report[] = [];
    for (const app of index.local.filter(isApplication)) {
      for (const { source, path } of sources(app)) {
        if (
          typeof source.path === "string" &&
          typeof source.repoURL === "string" &&
          repo.repoURLs.has(source.repoURL) &&
          !repo.pathExists(source.path)
        ) {
          out.push({
            resource: app,
            path: [...path, "path"],
            message: `${describe(app)} syncs path '${source.path}', which does not exist in the repository`,
          });
        }
        asArray(asObj(source.helm).valueFiles).forEach((v, i) => {
          if (typeof v !== "string" || !v.startsWith("$values/")) return;
          const p = v.slice("$values/".length);
          if (!repo.pathExists(p))
            out.push({
              resource: app,
              path: [...path, "helm", "valueFiles", i],
              message: `${describe(app)} reads value file '${p}', which does not exist in the repository`,
            });
        });
      }
    }
    return out;
  },
});

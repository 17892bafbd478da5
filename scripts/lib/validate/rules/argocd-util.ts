/** Argo CD helpers shared by the argocd/* rules. */
import type { YamlPath } from "../../yaml-source.ts";
import { asArray, asObj, type Obj, type Resource } from "../resource.ts";

export const IN_CLUSTER_SERVER = "https://kubernetes.default.svc";
export const WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave";

export function isApplication(r: Resource): boolean {
  return r.kind === "Application" && r.group === "argoproj.io";
}

export function sources(app: Resource): Array<{ source: Obj; path: YamlPath }> {
  const spec = asObj(app.object.spec);
  const out: Array<{ source: Obj; path: YamlPath }> = [];
  if (spec.source) out.push({ source: asObj(spec.source), path: ["spec", "source"] });
  asArray(spec.sources).forEach((s, i) => out.push({ source: asObj(s), path: ["spec", "sources", i] }));
  return out;
}

export function wave(r: Resource): number {
  const v = asObj(asObj(r.object.metadata).annotations)[WAVE_ANNOTATION];
  const n = Number(v ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export function glob(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return re.test(value);
}

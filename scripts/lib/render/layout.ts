/**
 * Where each rendered object lands under clusters/<name>/rendered/. One object per file, named by
 * namespace, kind and name, so a pull request's diff reads as a list of changed resources.
 */
export const RENDERED_DIRS = {
  bootstrap: "bootstrap",
  argocd: "argocd",
  values: "values",
  app: "app",
  mesh: "mesh",
} as const;

const CLUSTER_SCOPED = "_cluster";

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9.-]+/g, "-");
}

export function objectFileName(obj: {
  kind: string;
  metadata: { name: string; namespace?: string };
}): string {
  const ns = obj.metadata.namespace ? slug(obj.metadata.namespace) : CLUSTER_SCOPED;
  return `${ns}/${slug(obj.kind)}-${slug(obj.metadata.name)}.yaml`;
}

export function renderedRoot(cluster: string): string {
  return `clusters/${cluster}/rendered`;
}

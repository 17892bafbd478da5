/**
 * The rendered tree's diff read as resources: `mesh/workshop/virtualservice-reviews.yaml` becomes
 * "VirtualService workshop/reviews". Pure: trees in, a sorted list of changes out.
 */
import { isDeepStrictEqual } from "node:util";
import { parseAllDocuments } from "yaml";
import { diffTrees, type FileTree } from "../fs/tree.ts";

export type ChangeKind = "added" | "changed" | "removed";

export interface ResourceChange {
  change: ChangeKind;
  /** Path relative to clusters/<cluster>/rendered/. */
  file: string;
  /** "VirtualService workshop/reviews", "Helm values of istiod", or the file path. */
  resource: string;
}

export function describeRenderedFile(file: string, content: string | undefined): string {
  const values = /^values\/(.+)\.ya?ml$/.exec(file);
  if (values) return `Helm values of ${values[1]}`;
  if (file === "helmfile-environment.yaml") return "helmfile environment";
  if (content !== undefined) {
    try {
      const described: string[] = [];
      for (const doc of parseAllDocuments(content)) {
        if (!("toJS" in doc) || doc.errors.length) continue;
        const obj = doc.toJS({ maxAliasCount: 100 }) as {
          kind?: unknown;
          metadata?: { name?: unknown; namespace?: unknown };
        } | null;
        if (!obj || typeof obj.kind !== "string" || typeof obj.metadata?.name !== "string") continue;
        const ns = typeof obj.metadata.namespace === "string" ? `${obj.metadata.namespace}/` : "";
        described.push(`${obj.kind} ${ns}${obj.metadata.name}`);
      }
      if (described.length) return described.join(", ");
    } catch {
      // not YAML: fall back to the path
    }
  }
  return file;
}

/**
 * Whether two versions of a file hold the same objects: a change of comments only (a rendered
 * file's `# source:` header) is no change for the cluster, and the PR body does not list it.
 */
export function sameObjects(a: string, b: string): boolean {
  try {
    const load = (text: string) =>
      parseAllDocuments(text).map((doc) => {
        if (!("toJS" in doc) || doc.errors.length) throw new Error("not YAML");
        return doc.toJS({ maxAliasCount: 100 }) as unknown;
      });
    return isDeepStrictEqual(load(a), load(b));
  } catch {
    return false;
  }
}

export function resourceChanges(before: FileTree, after: FileTree): ResourceChange[] {
  const d = diffTrees(before, after);
  return [
    ...d.added.map((file) => ({
      change: "added" as const,
      file,
      resource: describeRenderedFile(file, after.get(file)),
    })),
    ...d.changed
      .filter((file) => !sameObjects(before.get(file)!, after.get(file)!))
      .map((file) => ({
        change: "changed" as const,
        file,
        resource: describeRenderedFile(file, after.get(file)),
      })),
    ...d.removed.map((file) => ({
      change: "removed" as const,
      file,
      resource: describeRenderedFile(file, before.get(file)),
    })),
  ].sort((a, b) => a.file.localeCompare(b.file));
}

export function countChanges(changes: readonly ResourceChange[]): Record<ChangeKind, number> {
  const counts = { added: 0, changed: 0, removed: 0 };
  for (const c of changes) counts[c.change]++;
  return counts;
}

/**
 * Composition: "cluster X at chapter N" is chapters 00..N applied in order. Pure: every input is
 * handed in (the model and the parsed mesh files), the output is data plus findings.
 */
import fastJsonPatch from "fast-json-patch";
import type { Finding, SourcePosition } from "../findings.ts";
import type { ParsedFile } from "../yaml-source.ts";
import type { HelmRelease } from "../model/helmfile.ts";
import {
  appliesTo,
  type Chapter,
  type Cluster,
  type NamespaceMetadata,
  type PatchTarget,
} from "../model/types.ts";
import { mergeValues, type Values } from "./values.ts";
import { clusterVariables, substitute } from "./substitute.ts";

const { applyPatch, JsonPatchError } = fastJsonPatch;

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface MeshResource {
  object: KubeObject;
  /** The mesh file (under mesh/) and document it came from, and the chapter that added it. */
  source: { file: string; document: number; chapter: string };
  /** Chapters whose patches changed it, in order. */
  patchedBy: string[];
}

export interface ComposedRelease {
  release: HelmRelease;
  values: Values;
  /** Metadata Argo CD sets on the release namespace it creates (managedNamespaceMetadata). */
  namespaceMetadata?: NamespaceMetadata;
  /** Chapters that enabled or re-valued it. */
  chapters: string[];
}

export interface Composition {
  cluster: Cluster;
  chapter: Chapter;
  chapters: Chapter[];
  releases: ComposedRelease[];
  mesh: MeshResource[];
}

export interface ComposeInput {
  cluster: Cluster;
  /** All chapters, sorted by id. */
  chapters: readonly Chapter[];
  /** The chapter to compose up to (usually the cluster's pin). */
  target: Chapter;
  releases: readonly HelmRelease[];
  meshFiles: ReadonlyMap<string, ParsedFile>;
}

export function identity(o: {
  apiVersion: string;
  kind: string;
  metadata?: { namespace?: string; name?: string };
}): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

function targetIdentity(t: PatchTarget): string {
  return `${t.apiVersion}/${t.kind}/${t.namespace ?? ""}/${t.name}`;
}

export function compose(input: ComposeInput): { composition?: Composition; findings: Finding[] } {
  const { cluster, target } = input;
  const findings: Finding[] = [];
  const err = (pos: SourcePosition, rule: string, message: string, hint: string) =>
    findings.push({ ...pos, rule, severity: "error", anchors: [], message, hint });
  const vars = clusterVariables(cluster);
  const knownReleases = new Map(input.releases.map((r) => [r.name, r]));
  const state = new Map<
    string,
    { enabled: boolean; values: Values; chapters: string[]; namespaceMetadata?: NamespaceMetadata }
  >();
  // Mesh resources keyed by identity; insertion order is chapter order.
  const mesh = new Map<string, MeshResource>();
  const meshFilesAdded = new Map<string, string>();

  const chapters = input.chapters.filter((c) => c.id <= target.id);
  for (const ch of chapters) {
    for (const rc of ch.releases) {
      if (!appliesTo(rc.roles, cluster.role)) continue;
      if (!knownReleases.has(rc.name)) {
        err(
          rc.position,
          "compose/unknown-release",
          `chapter ${ch.dir} refers to release '${rc.name}', which helmfile.yaml does not declare`,
          `declare it in helmfile.yaml or use one of: ${[...knownReleases.keys()].join(", ")}`,
        );
        continue;
      }
      const s = state.get(rc.name) ?? { enabled: false, values: {}, chapters: [] };
      if (rc.enabled !== undefined) s.enabled = rc.enabled;
      /** `${cluster.*}` substituted, each unknown placeholder reported at the release entry. */
      const substituted = (v: unknown, where: string) => {
        const { value, unknown } = substitute(v, vars);
        for (const u of unknown)
          err(
            rc.position,
            "compose/unknown-placeholder",
            u === "${cluster.images.registry}"
              ? `chapter ${ch.dir} uses ${u} in the ${where} of '${rc.name}', but cluster ${cluster.name} has no images.registry and its argocd.repoURL is not a GitHub repository to derive one from`
              : `chapter ${ch.dir} uses ${u} in the ${where} of '${rc.name}', which names no cluster field`,
            u === "${cluster.images.registry}"
              ? `set images.registry in ${cluster.file} to the registry you push the app images to`
              : `use one of: ${Object.keys(vars)
                  .map((k) => "${" + k + "}")
                  .join(", ")}`,
          );
        return value;
      };
      if (rc.values) s.values = mergeValues(s.values, substituted(rc.values, "values") as Values);
      if (rc.namespaceMetadata) {
        const m = substituted(rc.namespaceMetadata, "namespaceMetadata") as NamespaceMetadata;
        const prev = s.namespaceMetadata ?? {};
        s.namespaceMetadata = {
          ...((prev.labels ?? m.labels) ? { labels: { ...prev.labels, ...m.labels } } : {}),
          ...((prev.annotations ?? m.annotations)
            ? { annotations: { ...prev.annotations, ...m.annotations } }
            : {}),
        };
      }
      s.chapters.push(ch.dir);
      state.set(rc.name, s);
    }

    for (const rm of ch.mesh.remove) {
      if (!meshFilesAdded.has(rm.path)) {
        err(
          rm.position,
          "compose/mesh-remove",
          `chapter ${ch.dir} removes mesh/${rm.path}, which no earlier chapter added for a ${cluster.role} cluster`,
          "remove the entry or fix the path",
        );
        continue;
      }
      meshFilesAdded.delete(rm.path);
      for (const [id, r] of mesh) if (r.source.file === `mesh/${rm.path}`) mesh.delete(id);
    }
    for (const add of ch.mesh.add) {
      if (!appliesTo(add.roles, cluster.role)) continue;
      const earlier = meshFilesAdded.get(add.path);
      if (earlier) {
        err(
          add.position,
          "compose/mesh-add",
          `chapter ${ch.dir} adds mesh/${add.path}, already added by ${earlier}`,
          "add a file once; change it later with patches",
        );
        continue;
      }
      const parsed = input.meshFiles.get(add.path);
      if (!parsed) {
        err(
          add.position,
          "compose/mesh-missing",
          `chapter ${ch.dir} adds mesh/${add.path}, which does not exist`,
          "create the file under mesh/ or fix the path",
        );
        continue;
      }
      if (parsed.findings.length) {
        findings.push(...parsed.findings);
        continue;
      }
      meshFilesAdded.set(add.path, ch.dir);
      for (const doc of parsed.documents) {
        if (doc.value === undefined || doc.value === null) continue;
        const obj = doc.value as KubeObject;
        if (
          typeof obj !== "object" ||
          typeof obj.apiVersion !== "string" ||
          typeof obj.kind !== "string" ||
          typeof obj.metadata?.name !== "string"
        ) {
          err(
            doc.positionOf([]),
            "compose/not-a-resource",
            `document ${doc.index + 1} of mesh/${add.path} is not a Kubernetes object with apiVersion, kind and metadata.name`,
            "complete the object or remove the document",
          );
          continue;
        }
        const { value, unknown } = substitute(obj, vars);
        for (const u of unknown)
          err(
            doc.positionOf([]),
            "compose/unknown-placeholder",
            `mesh/${add.path} uses ${u}, which names no cluster field`,
            `use one of: ${Object.keys(vars)
              .map((k) => "${" + k + "}")
              .join(", ")}`,
          );
        const id = identity(value);
        const dup = mesh.get(id);
        if (dup) {
          err(
            doc.positionOf(["metadata", "name"], "value"),
            "compose/duplicate-resource",
            `${value.kind} ${value.metadata.namespace ?? ""}/${value.metadata.name} in mesh/${add.path} is already defined in ${dup.source.file}`,
            "define each resource once; change it later with patches",
          );
          continue;
        }
        mesh.set(id, {
          object: value,
          source: { file: `mesh/${add.path}`, document: doc.index, chapter: ch.dir },
          patchedBy: [],
        });
      }
    }

    ch.patches.forEach((p, patchIndex) => {
      if (!appliesTo(p.roles, cluster.role)) return;
      const label = `chapter ${ch.dir}, patch ${patchIndex + 1}${p.description ? ` (${p.description})` : ""}`;
      const res = mesh.get(targetIdentity(p.target));
      if (!res) {
        err(
          p.position,
          "compose/patch-target",
          `${label}: no ${p.target.kind} '${p.target.namespace ? p.target.namespace + "/" : ""}${p.target.name}' (${p.target.apiVersion}) exists at this point for a ${cluster.role} cluster`,
          "patch a resource that an earlier chapter (or this one) adds under mesh/, with matching apiVersion, kind, namespace and name",
        );
        return;
      }
      const { value: ops, unknown } = substitute(p.patch, vars);
      for (const u of unknown)
        err(
          p.position,
          "compose/unknown-placeholder",
          `${label} uses ${u}, which names no cluster field`,
          "use a field of cluster.yaml",
        );
      try {
        const doc = structuredClone(res.object);
        const result = applyPatch(doc, ops as fastJsonPatch.Operation[], true, true);
        const patched = result.newDocument as KubeObject;
        if (identity(patched) !== identity(res.object)) {
          err(
            p.position,
            "compose/patch-identity",
            `${label} changes the identity (apiVersion, kind, namespace or name) of its target`,
            "add a new mesh file instead of renaming a resource with a patch",
          );
          return;
        }
        res.object = patched;
        res.patchedBy.push(ch.dir);
      } catch (e) {
        const detail = e instanceof JsonPatchError ? describePatchError(e) : (e as Error).message;
        err(
          p.position,
          "compose/patch-failed",
          `${label} does not apply to ${p.target.kind} '${p.target.name}': ${detail}`,
          "check the op's path against the resource as the earlier chapters leave it (render the chapter before and look)",
        );
      }
    });
  }

  const releases: ComposedRelease[] = [];
  for (const r of input.releases) {
    const s = state.get(r.name);
    if (!s?.enabled) continue;
    for (const need of r.needs) {
      if (!state.get(need)?.enabled) {
        err(
          r.position,
          "compose/missing-need",
          `release '${r.name}' needs '${need}', which is not enabled for a ${cluster.role} cluster at this point`,
          `enable '${need}' in the same or an earlier chapter`,
        );
      }
    }
    releases.push({
      release: r,
      values: s.values,
      chapters: s.chapters,
      ...(s.namespaceMetadata ? { namespaceMetadata: s.namespaceMetadata } : {}),
    });
  }
  if (findings.length) return { findings };
  return {
    composition: { cluster, chapter: target, chapters, releases, mesh: [...mesh.values()] },
    findings,
  };
}

function describePatchError(e: InstanceType<typeof JsonPatchError>): string {
  const op = e.operation as { op?: string; path?: string } | undefined;
  const where = op ? ` (operation ${(e.index ?? 0) + 1}: ${op.op} ${op.path})` : "";
  switch (e.name) {
    case "TEST_OPERATION_FAILED":
      return `the test operation failed: the value is not what the patch expects${where}`;
    case "OPERATION_PATH_UNRESOLVABLE":
      return `the path does not exist${where}`;
    case "OPERATION_FROM_UNRESOLVABLE":
      return `the 'from' path does not exist${where}`;
    case "OPERATION_VALUE_OUT_OF_BOUNDS":
      return `the array index is out of bounds${where}`;
    default:
      return `${e.name}${where}`;
  }
}

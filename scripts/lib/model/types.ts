/** The typed model of the repository: clusters pin chapters; chapters overlay each other. */
import type { SourcePosition } from "../findings.ts";

export type ClusterRole = "primary" | "remote";

export interface Cluster {
  name: string;
  role: ClusterRole;
  /** Folder name of the pinned chapter, e.g. `05-installing-istio`. */
  chapter: string;
  kubernetesVersion: string;
  istio: { meshID: string; clusterName: string; network: string; primaryCluster?: string };
  argocd: {
    destination: { name?: string; server?: string };
    repoURL: string;
    targetRevision: string;
    namespace: string;
  };
  /**
   * Where the demo application's images come from (cluster.yaml `images`, optional). Without a
   * registry, the one this repository's images workflow pushes to is used (`ghcr.io/<owner>` of a
   * GitHub repoURL); without a tag, the app chart's appVersion, which that workflow pushes from main.
   */
  images?: { registry?: string; tag?: string };
  /** Where cluster.yaml lives, relative to the repo root. */
  file: string;
  /** Position of the `chapter:` value, for findings about the pin. */
  chapterPosition: SourcePosition;
}

export interface ReleaseChange {
  name: string;
  enabled?: boolean;
  roles?: ClusterRole[];
  values?: Record<string, unknown>;
  /** Labels and annotations of the release namespace, set by Argo CD when it creates it. */
  namespaceMetadata?: NamespaceMetadata;
  position: SourcePosition;
}

export interface NamespaceMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface MeshAddition {
  path: string;
  roles?: ClusterRole[];
  position: SourcePosition;
}

export interface PatchTarget {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

export interface ChapterPatch {
  description?: string;
  target: PatchTarget;
  roles?: ClusterRole[];
  patch: JsonPatchOperation[];
  position: SourcePosition;
}

export interface Chapter {
  id: number;
  /** Folder name, e.g. `09-traffic-splitting-basic`. */
  dir: string;
  title: string;
  summary: string;
  releases: ReleaseChange[];
  mesh: { add: MeshAddition[]; remove: Array<{ path: string; position: SourcePosition }> };
  patches: ChapterPatch[];
  expect: ChapterExpect;
  file: string;
}

/** A workload the lesson starts by hand (chapter.yaml `expect.clients`). */
export interface ExpectClient {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  serviceAccount: string;
  sidecar?: boolean;
  roles?: ClusterRole[];
  position: SourcePosition;
}

export interface ExpectJwt {
  claims?: Record<string, unknown>;
  forged?: boolean;
  expired?: boolean;
  cookie?: string;
}

/** What must hold for one request (chapter.yaml `expect.requests[].then`); see chapter.schema.json. */
export interface ExpectThen {
  at?: string;
  outcome?: "delivered" | "denied" | "refused" | "no-route" | "blackhole" | "passthrough" | "aborted";
  status?: number;
  allowed?: boolean;
  destination?: string;
  route?: string;
  subset?: string;
  weights?: Record<string, number>;
  endpoints?: number;
  fault?:
    | false
    | {
        delay?: { fixedDelay: string; percent: number };
        abort?: { status: number; percent: number };
      };
  mirror?: false | { subset: string; percent: number };
  timeout?: string;
  retries?: false | { attempts?: number; perTryTimeout?: string; retryOn?: string };
  hashPolicy?: false | { cookie?: string; header?: string; queryParameter?: string; sourceIp?: true };
  upstreamTls?: "ISTIO_MUTUAL" | "MUTUAL" | "SIMPLE" | "DISABLE";
  egress?: { gateway?: string; tlsOrigination?: boolean };
}

export interface ExpectRequest {
  name: string;
  lesson: string;
  roles?: ClusterRole[];
  from: { kind: "workload" | "gateway"; namespace: string; name: string };
  request: {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    cookies?: Record<string, string>;
    jwt?: ExpectJwt;
  };
  then: ExpectThen;
  /** The chapter that (last) defined it, and where: findings point here. */
  file: string;
  chapter: string;
  position: SourcePosition;
  /** Where each `then` field is, so a failed check points at its own line. */
  thenPositions: Partial<Record<keyof ExpectThen, SourcePosition>>;
}

export interface ExpectReasoned {
  name: string;
  reason: string;
  position: SourcePosition;
}

/** chapter.yaml `expect`: cumulative over the chapters, see behaviour/expectations.ts. */
export interface ChapterExpect {
  none?: string;
  clients: ExpectClient[];
  requests: ExpectRequest[];
  changes: ExpectReasoned[];
  drops: ExpectReasoned[];
}

export function appliesTo(roles: readonly ClusterRole[] | undefined, role: ClusterRole): boolean {
  return roles === undefined || roles.includes(role);
}

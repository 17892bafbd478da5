/**
 * What a rule is: metadata (code, severity, anchors, message, hint) and a pure function from an
 * indexed resource set to reports. The engine turns reports into located findings.
 */
import type { Severity } from "../findings.ts";
import type { SimEnvoyFilter } from "../behaviour/protocol.ts";
import type { PublishedImages } from "./images-workflow.ts";
import type { YamlPath } from "../yaml-source.ts";
import type { Resource } from "./resource.ts";
import type { ResourceIndex } from "./resource-index.ts";

export type Layer = "yaml" | "schema" | "cel" | "semantic" | "server" | "behaviour" | "repo";

export interface RuleMeta {
  /** Stable code, `area/name`. */
  code: string;
  layer: Layer;
  severity: Severity;
  /** Codes of peers that report the same thing: IST0101, KIA1107, kubeconform, CEL. */
  anchors: string[];
  /** One line: what the rule checks. */
  title: string;
  /** Longer explanation for RULES.md and SARIF help. */
  description: string;
  /** What to do about a finding. */
  hint: string;
}

export interface Report {
  resource: Resource;
  /** Path of the offending node inside the resource. */
  path?: YamlPath;
  message: string;
  severity?: Severity;
  hint?: string;
  /** Overrides the rule's anchors (a rule covering two peer codes). */
  anchors?: string[];
  /** More than a line can say (what the generated configuration holds), printed under the message. */
  detail?: string;
}

/** Facts about the world beyond the resources: the repo, its clusters, Argo CD. */
export interface RepoFacts {
  /** Whether a path (relative to the repo root, or a rendered path of this cluster) exists. */
  pathExists(p: string): boolean;
  /** Destinations Argo CD knows: cluster names and server URLs. */
  clusterNames: Set<string>;
  clusterServers: Set<string>;
  /** URLs of this repository (the clusters' argocd.repoURL). */
  repoURLs: Set<string>;
  /**
   * The images this repository's images workflow publishes for this cluster's owner (absent when
   * there is no such workflow): `k8s/image-not-published` checks the app images against it.
   */
  publishedImages?: PublishedImages;
  /**
   * The cluster IDs (cluster.yaml `istio.clusterName`) of every cluster of this cluster's mesh
   * (same meshID), itself included: the service registries its istiod has once the remote
   * secrets, created at install time and never rendered, are in place.
   */
  meshClusterIDs?: ReadonlySet<string>;
}

/** What the behaviour layer's helper learnt from Istio's own config generation for this scope. */
export interface GeneratedConfig {
  /** Its verdicts on the scope's EnvoyFilters, by "<namespace>/<name>" (only those istiod accepts). */
  envoyFilters: ReadonlyMap<string, SimEnvoyFilter>;
}

export interface RuleContext {
  index: ResourceIndex;
  /** Present in repo mode. */
  repo?: RepoFacts;
  /** Present in repo mode when the mesh simulation helper ran for this cluster x chapter. */
  generated?: GeneratedConfig;
}

export interface Rule extends RuleMeta {
  check(ctx: RuleContext): Report[];
}

export function defineRule(rule: Rule): Rule {
  return rule;
}

/**
 * Renders "cluster X at chapter N" once per test file and shares the result between assertions.
 * Rendering a chapter that enables the demo app runs `helm template` (a few hundred ms), so every
 * suite asks this module instead of calling the pipeline itself.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { KubeObject } from "../../scripts/lib/compose/compose.ts";
import { loadRepoOrThrow, type RepoModel } from "../../scripts/lib/model/repo.ts";
import { renderClusters, type ClusterRender } from "../../scripts/lib/render/pipeline.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type ClusterName = "primary" | "remote";

/** The demo application's services, as apps/chart names their Services and ServiceAccounts. */
export const SERVICES = [
  "frontend-portal",
  "auth-service",
  "content-generator",
  "image-processor",
  "mailing-service",
] as const;

/** Loose access to a parsed YAML object; the assertions say what they expect. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = any;

let model: Promise<RepoModel> | undefined;
const renders = new Map<string, Promise<Rendered>>();

export function repoModel(): Promise<RepoModel> {
  model ??= loadRepoOrThrow(ROOT);
  return model;
}

/** The chapter folder of an id, e.g. 9 -> `09-traffic-splitting-basic`. */
export async function chapterDir(id: number): Promise<string> {
  const chapter = (await repoModel()).chapters.find((c) => c.id === id);
  if (!chapter) throw new Error(`no chapter ${id}`);
  return chapter.dir;
}

export function rendered(cluster: ClusterName, chapter: number): Promise<Rendered> {
  const key = `${cluster}@${chapter}`;
  let entry = renders.get(key);
  if (!entry) {
    entry = repoModel().then(async (m) => {
      const [result] = await renderClusters(
        ROOT,
        { clusters: [cluster], chapter: String(chapter) },
        undefined,
        m,
      );
      if (!result) throw new Error(`rendering ${key} returned nothing`);
      return new Rendered(result);
    });
    renders.set(key, entry);
  }
  return entry;
}

/**
 * Renders every chapter for every cluster up front, two at a time (the machine has two cores and
 * `helm template` is CPU bound). Call it from a `beforeAll` with a generous timeout.
 */
export async function renderAll(
  chapters: readonly number[],
  clusters: readonly ClusterName[],
): Promise<void> {
  const queue = chapters.flatMap((ch) => clusters.map((c) => [c, ch] as const));
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await rendered(next[0], next[1]);
  };
  await Promise.all([worker(), worker()]);
}

export class Rendered {
  constructor(readonly result: ClusterRender) {}

  get files(): Map<string, string> {
    return this.result.files;
  }

  /** Names of the enabled releases. */
  releases(): string[] {
    return this.result.composition.releases.map((r) => r.release.name);
  }

  /** The rendered values file of a release (what Argo CD and helmfile hand to the chart). */
  values(release: string): Loose {
    return this.yaml(`values/${release}.yaml`);
  }

  /** The Argo CD Application of a release. */
  application(release: string): Loose {
    return this.yaml(`argocd/${release}.yaml`);
  }

  /** Every mesh resource (the composed objects, after the chapters' patches). */
  meshObjects(): KubeObject[] {
    return this.result.composition.mesh.map((m) => m.object);
  }

  hasMesh(kind: string, namespace: string | undefined, name: string): boolean {
    return this.meshObjects().some(
      (o) => o.kind === kind && o.metadata.name === name && o.metadata.namespace === namespace,
    );
  }

  /** A mesh resource as rendered to mesh/<ns>/<kind>-<name>.yaml. */
  mesh(kind: string, namespace: string | undefined, name: string): Loose {
    const file = `mesh/${namespace ?? "_cluster"}/${kind.toLowerCase()}-${name}.yaml`;
    return this.yaml(file);
  }

  meshOfKind(kind: string): Loose[] {
    return this.meshObjects().filter((o) => o.kind === kind);
  }

  /** An object of the demo app chart's output. */
  app(kind: string, name: string, namespace = "workshop"): Loose {
    return this.yaml(`app/workshop-app/${namespace}/${kind.toLowerCase()}-${name}.yaml`);
  }

  hasApp(kind: string, name: string, namespace = "workshop"): boolean {
    return this.files.has(`app/workshop-app/${namespace}/${kind.toLowerCase()}-${name}.yaml`);
  }

  appFiles(): string[] {
    return [...this.files.keys()].filter((f) => f.startsWith("app/workshop-app/"));
  }

  yaml(file: string): Loose {
    const text = this.files.get(file);
    if (text === undefined) {
      const near = [...this.files.keys()].filter((f) => f.startsWith(file.split("/")[0] ?? "")).join(", ");
      throw new Error(`${this.result.cluster.name}: no rendered file ${file} (have: ${near})`);
    }
    return parse(text);
  }
}

/** The env of a container as a map. */
export function envOf(deployment: Loose, container?: string): Record<string, string> {
  const containers: Loose[] = deployment.spec.template.spec.containers;
  const c = container ? containers.find((x) => x.name === container) : containers[0];
  return Object.fromEntries(
    (c?.env ?? []).filter((e: Loose) => "value" in e).map((e: Loose) => [e.name, e.value]),
  );
}

/** An HTTP route of a VirtualService by name. */
export function route(vs: Loose, name: string): Loose {
  const r = (vs.spec.http as Loose[]).find((x) => x.name === name);
  if (!r) throw new Error(`VirtualService ${vs.metadata.name} has no route '${name}'`);
  return r;
}

export function routeNames(vs: Loose): string[] {
  return (vs.spec.http as Loose[]).map((r) => r.name);
}

/** Go-style duration (`2500ms`, `2s`, `1.5s`) in milliseconds. */
export function durationMs(d: string): number {
  const m = /^([0-9.]+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * factor;
}

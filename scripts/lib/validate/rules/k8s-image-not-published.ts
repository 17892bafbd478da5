/**
 * Every container image is one somebody publishes: either this repository's images workflow
 * pushes it (that repository, that tag), or it is a pinned upstream image. A placeholder registry
 * or a tag nothing pushes renders and validates fine and fails on the cluster as ImagePullBackOff.
 */
import type { PublishedImages } from "../images-workflow.ts";
import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, asString, describe } from "../resource.ts";
import { podTemplate, WORKLOAD_KINDS } from "../resource-index.ts";

export interface ImageRef {
  /** Registry host, when the reference names one (`ghcr.io`, `localhost:5000`). */
  host?: string;
  /** Everything before the tag and digest: `ghcr.io/acme/web`. */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Splits `host/path:tag@digest` the way container runtimes do (the first part is a host if it has a dot, a port or is localhost). */
export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split("/")[0]!;
  const host =
    rest.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
      ? first
      : undefined;
  return {
    repository: rest,
    ...(host ? { host } : {}),
    ...(tag !== undefined ? { tag } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** Hosts nobody can pull from: documentation names (RFC 2606/6761), local names, loopback. */
export function placeholderHost(host: string): boolean {
  const h = host.toLowerCase().replace(/:\d+$/, "");
  if (h === "localhost" || h === "127.0.0.1" || h === "[::1]") return true;
  if (/(^|\.)example\.(com|org|net)$/.test(h)) return true;
  return /\.(example|invalid|test|local|localhost)$/.test(h);
}

function tagPublished(tag: string, images: PublishedImages): boolean {
  return images.tags.some((t) => ("tag" in t ? t.tag === tag : new RegExp(`^(?:${t.pattern})$`).test(tag)));
}

function describeTags(images: PublishedImages): string {
  const list = images.tags.map((t) => ("tag" in t ? `${t.tag} (${t.why})` : `/${t.pattern}/ (${t.why})`));
  return list.length ? list.join(", ") : "no tag";
}

const CONTAINER_LISTS = ["containers", "initContainers", "ephemeralContainers"] as const;

export default defineRule({
  code: "k8s/image-not-published",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Container images are published: by this repository's images workflow, or pinned upstream",
  description:
    "Every image of the containers, initContainers and ephemeralContainers of Pods and workload templates (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) must be pullable. A placeholder registry (`example.com`, `registry.local`, `localhost:5000`, `.invalid`, `.example`, `.test`, `.local` names) is an error. In repo mode the images workflow (`.github/workflows/images.yaml`) is read for what it pushes (`ghcr.io/<owner of the cluster's repoURL>/<service>` and its tag rules: the chart's appVersion and `main` from main, `sha-<commit>`, the version of each `v*` git tag that exists): an image in one of those repositories needs a tag it pushes, and an image named after one of its services in another repository is one it does not push (unless cluster.yaml `images.registry` names that registry: images pushed by hand). Any other image must be pinned: a tag other than `latest`, or a digest (a warning otherwise). Without the repository (path mode) only the placeholder and pinning checks apply.",
  hint: "build and push the image (the images workflow, or docker build + push), set cluster.yaml `images` to where it is, or pin an upstream image by tag or digest",
  check({ index, repo }) {
    const out: Report[] = [];
    const images = repo?.publishedImages;
    const services = new Map<string, string>();
    for (const r of images?.repositories ?? []) services.set(r.slice(r.lastIndexOf("/") + 1), r);
    for (const r of index.local) {
      if (!WORKLOAD_KINDS.has(r.kind)) continue;
      const t = podTemplate(r);
      if (!t) continue;
      for (const list of CONTAINER_LISTS) {
        asArray(t.spec[list]).forEach((c, i) => {
          const container = asObj(c);
          const image = asString(container.image);
          const path = [...t.path, list, i, "image"];
          const where = `${describe(r)} ${list === "containers" ? "container" : list.slice(0, -1)} '${asString(container.name) ?? i}'`;
          // Required by the schema, reported there. `auto` is Istio's gateway injection: the
          // injector puts the proxy image in its place.
          if (image === undefined || image === "auto") return;
          const ref = parseImage(image);
          if (ref.host && placeholderHost(ref.host)) {
            out.push({
              resource: r,
              path,
              message: `${where} pulls '${image}' from the placeholder registry ${ref.host}, which no cluster can pull from`,
            });
            return;
          }
          if (images) {
            const ours = images.repositories.includes(ref.repository);
            const byHand =
              images.ownRegistry !== undefined && ref.repository.startsWith(`${images.ownRegistry}/`);
            const name = ref.repository.slice(ref.repository.lastIndexOf("/") + 1);
            const unresolved = images.unresolved.length
              ? ` (could not resolve in ${images.workflow}: ${images.unresolved.join("; ")})`
              : "";
            if (ours && !ref.digest) {
              if (!tagPublished(ref.tag ?? "latest", images))
                out.push({
                  resource: r,
                  path,
                  message: `${where} pulls '${image}', but ${images.workflow} never pushes the tag '${ref.tag ?? "latest"}' to ${ref.repository}; it pushes: ${describeTags(images)}${unresolved}`,
                });
              return;
            }
            if (!ours && !byHand && services.has(name)) {
              out.push({
                resource: r,
                path,
                message: `${where} pulls '${image}', but ${images.workflow} pushes ${name} as ${services.get(name)}, not ${ref.repository}${unresolved}`,
              });
              return;
            }
            if (ours) return;
          }
          if (!ref.digest && (ref.tag === undefined || ref.tag === "" || ref.tag === "latest"))
            out.push({
              resource: r,
              path,
              severity: "warning",
              message: `${where} pulls '${image}' without a pinned tag (${ref.tag ? "'latest'" : "no tag means 'latest'"}): what runs changes whenever the upstream pushes`,
            });
        });
      }
    }
    return out;
  },
});

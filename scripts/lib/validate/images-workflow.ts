/**
 * What this repository's images workflow (.github/workflows/images.yaml) publishes: which image
 * repositories and which tags, read from the workflow itself so that the validator and the
 * workflow cannot drift apart. Pure: the caller hands in the file, the owner (from the cluster's
 * GitHub repoURL), a reader for repository files and the repository's git tags.
 *
 * The workflow is read the way GitHub would run it, for the constructs it uses: a build matrix,
 * `docker/metadata-action` (images and tag rules) feeding `docker/build-push-action`, and step
 * outputs written with `echo "name=value" >> "$GITHUB_OUTPUT"` whose value may use step `env`
 * (`${VAR}`, `${VAR,,}`), `${{ github.repository_owner }}`, `${{ matrix.x }}` and
 * `$(yq -r '.path' file)`. Anything else is listed as unresolved, never guessed.
 */
import { load } from "js-yaml";
import { asArray, asObj, asString, isObj, type Obj } from "./resource.ts";

export const IMAGES_WORKFLOW = ".github/workflows/images.yaml";

export type PublishedTag =
  | { tag: string; why: string }
  /** A family of tags (one per commit): a regular expression over the whole tag. */
  | { pattern: string; why: string };

export interface PublishedImages {
  workflow: string;
  /** Image repositories it pushes, e.g. ghcr.io/acme/frontend-portal. */
  repositories: string[];
  /** Tags it pushes to each of them. */
  tags: PublishedTag[];
  /** What could not be resolved offline (reported with the findings it affects). */
  unresolved: string[];
  /** cluster.yaml `images.registry` when set: images under it are pushed by hand, not by the workflow. */
  ownRegistry?: string;
}

export interface WorkflowContext {
  /** Owner of the GitHub repository (`github.repository_owner`); undefined for other hosts. */
  owner?: string;
  readFile(rel: string): string | undefined;
  /** The repository's git tags (a `v*` tag triggers the semver tags). */
  gitTags: readonly string[];
}

const EXPR = /\$\{\{\s*([^}]+?)\s*\}\}/g;

/** One value per matrix combination of the keys used, as `matrix.<key>` -> value. */
function matrixRows(job: Obj): Array<Record<string, string>> {
  let rows: Array<Record<string, string>> = [{}];
  for (const [key, values] of Object.entries(asObj(asObj(job.strategy).matrix))) {
    if (key === "include" || key === "exclude" || !Array.isArray(values)) continue;
    const next: Array<Record<string, string>> = [];
    for (const row of rows)
      for (const v of values) if (typeof v === "string") next.push({ ...row, [`matrix.${key}`]: v });
    rows = next;
  }
  return rows;
}

class Resolver {
  constructor(
    private readonly steps: Obj[],
    private readonly row: Record<string, string>,
    private readonly ctx: WorkflowContext,
    private readonly unresolved: Set<string>,
  ) {}

  /** A `${{ ... }}` expression; undefined when it is not one of the understood forms. */
  expression(expr: string): string | undefined {
    if (expr === "github.repository_owner") return this.ctx.owner;
    if (expr in this.row) return this.row[expr];
    const out = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
    if (out) return this.stepOutput(out[1]!, out[2]!);
    return undefined;
  }

  /** Replaces every `${{ }}` of a string; undefined when one of them cannot be resolved. */
  text(s: string): string | undefined {
    let ok = true;
    const r = s.replace(EXPR, (whole, expr: string) => {
      const v = this.expression(expr);
      if (v === undefined) {
        ok = false;
        this.unresolved.add(whole);
        return whole;
      }
      return v;
    });
    return ok ? r : undefined;
  }

  private stepOutput(id: string, name: string): string | undefined {
    const step = this.steps.find((s) => s.id === id);
    const run = asString(step?.run);
    if (!step || !run) return undefined;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(asObj(step.env))) {
      const val = typeof v === "string" ? this.text(v) : String(v);
      if (val !== undefined) env[k] = val;
    }
    const re = new RegExp(`^\\s*echo\\s+"${name}=(.*)"\\s*>>\\s*"?\\$GITHUB_OUTPUT"?\\s*$`);
    for (const line of run.split("\n")) {
      const m = re.exec(line);
      if (m) return this.shell(m[1]!, env);
    }
    return undefined;
  }

  /** The shell inside double quotes: `${VAR}`, `${VAR,,}`, `$VAR`, `$(yq -r '.a.b' file)`. */
  private shell(s: string, env: Record<string, string>): string | undefined {
    let ok = true;
    const fail = (what: string) => {
      ok = false;
      this.unresolved.add(what);
      return "";
    };
    const r = s
      .replace(/\$\(yq (?:-r |-e )*'(\.[\w.]+)' ([\w./-]+)\)/g, (whole, expr: string, file: string) => {
        const text = this.ctx.readFile(file);
        if (text === undefined) return fail(whole);
        let v: unknown;
        try {
          v = load(text);
        } catch {
          return fail(whole);
        }
        for (const k of expr.slice(1).split(".")) v = asObj(v)[k];
        return typeof v === "string" || typeof v === "number" ? String(v) : fail(whole);
      })
      .replace(/\$\{(\w+)(,,)?\}|\$(\w+)/g, (whole, a?: string, lower?: string, b?: string) => {
        const v = env[(a ?? b)!];
        if (v === undefined) return fail(whole);
        return lower ? v.toLowerCase() : v;
      });
    if (!ok) return undefined;
    // Shell this reader does not evaluate (another command, arithmetic): named as a whole.
    if (r.includes("$")) {
      fail(s);
      return undefined;
    }
    return r;
  }
}

/** Tag rules of docker/metadata-action (`type=...,key=value` lines), as published tags. */
function metadataTags(
  rules: string,
  pushOn: { branches: string[]; tags: boolean; pullRequests: boolean },
  resolver: Resolver,
  ctx: WorkflowContext,
  unresolved: Set<string>,
): PublishedTag[] {
  const out: PublishedTag[] = [];
  for (const line of rules.split("\n").map((l) => l.trim())) {
    if (!line) continue;
    const attrs: Record<string, string> = {};
    for (const part of line.split(",")) {
      const eq = part.indexOf("=");
      if (eq > 0) attrs[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
    }
    const prefix = attrs.prefix ?? "";
    const suffix = attrs.suffix ?? "";
    // enable={{is_default_branch}} holds on a push to the default branch, which pushes.
    if (attrs.enable === "false") continue;
    switch (attrs.type) {
      case "raw": {
        const v = resolver.text(attrs.value ?? "");
        if (v)
          out.push({
            tag: `${prefix}${v}${suffix}`,
            why: `every push to ${pushOn.branches.join(", ") || "the default branch"}, from ${attrs.value}`,
          });
        break;
      }
      case "ref":
        if (attrs.event === "branch")
          for (const b of pushOn.branches)
            out.push({ tag: `${prefix}${b.replace(/[^\w.-]/g, "-")}${suffix}`, why: `every push to ${b}` });
        if (attrs.event === "tag" && pushOn.tags)
          for (const t of ctx.gitTags) out.push({ tag: `${prefix}${t}${suffix}`, why: `git tag ${t}` });
        if (attrs.event === "pr" && pushOn.pullRequests)
          out.push({ pattern: `${prefix}pr-[0-9]+${suffix}`, why: "every pull request" });
        break;
      case "sha": {
        const len = attrs.format === "long" ? 40 : 7;
        out.push({
          pattern: `${attrs.prefix ?? "sha-"}[0-9a-f]{${len}}${suffix}`,
          why: "every pushed commit",
        });
        break;
      }
      case "semver": {
        if (!pushOn.tags) break;
        for (const t of ctx.gitTags) {
          const m = /^v?(\d+)\.(\d+)\.(\d+)(-[\w.-]+)?$/.exec(t);
          if (!m) continue;
          const tag = (attrs.pattern ?? "{{version}}")
            .replace("{{version}}", `${m[1]}.${m[2]}.${m[3]}${m[4] ?? ""}`)
            .replace("{{major}}", m[1]!)
            .replace("{{minor}}", m[2]!)
            .replace("{{patch}}", m[3]!);
          out.push({ tag: `${prefix}${tag}${suffix}`, why: `git tag ${t}` });
        }
        break;
      }
      case "edge":
        out.push({ tag: `${prefix}edge${suffix}`, why: "every push to the default branch" });
        break;
      default:
        unresolved.add(`metadata-action tag rule '${line}'`);
    }
  }
  return out;
}

/** The images and tags a workflow file publishes; `ownRegistry` is added by the caller. */
export function publishedImages(text: string, ctx: WorkflowContext): PublishedImages {
  const unresolved = new Set<string>();
  const repositories = new Set<string>();
  const tags = new Map<string, PublishedTag>();
  let wf: unknown;
  try {
    wf = load(text);
  } catch (e) {
    return { workflow: IMAGES_WORKFLOW, repositories: [], tags: [], unresolved: [(e as Error).message] };
  }
  const w = asObj(wf);
  // js-yaml reads the key `on` as the string "on" (YAML 1.2 core schema).
  const on = asObj(w.on);
  const push = asObj(on.push);
  const pushOn = {
    branches: asArray(push.branches).filter((b): b is string => typeof b === "string" && !/[*?[\]!]/.test(b)),
    tags: Array.isArray(push.tags),
    pullRequests: false,
  };
  for (const job of Object.values(asObj(w.jobs))) {
    if (!isObj(job)) continue;
    const steps = asArray(job.steps).filter(isObj);
    for (const build of steps.filter((s) => asString(s.uses)?.startsWith("docker/build-push-action@"))) {
      const withs = asObj(build.with);
      const pushExpr = String(withs.push ?? "false");
      if (pushExpr === "false") continue;
      // `push: ${{ github.event_name != 'pull_request' }}`: pull requests build without pushing.
      pushOn.pullRequests = isObj(on.pull_request) && !/!=\s*'pull_request'/.test(pushExpr);
      for (const row of matrixRows(job)) {
        const resolver = new Resolver(steps, row, ctx, unresolved);
        const tagsRef = /^\$\{\{\s*steps\.([\w-]+)\.outputs\.tags\s*\}\}$/.exec(
          String(withs.tags ?? "").trim(),
        );
        const meta = tagsRef && steps.find((s) => s.id === tagsRef[1]);
        if (meta && asString(meta.uses)?.startsWith("docker/metadata-action@")) {
          const mw = asObj(meta.with);
          const images = String(mw.images ?? "")
            .split(/[\n,]/)
            .map((l) => l.trim())
            .filter(Boolean)
            .map((l) => resolver.text(l));
          for (const img of images) if (img) repositories.add(img);
          for (const t of metadataTags(String(mw.tags ?? ""), pushOn, resolver, ctx, unresolved))
            tags.set("tag" in t ? t.tag : t.pattern, t);
        } else {
          // Literal tags: `registry/name:tag` per line or comma.
          for (const ref of String(withs.tags ?? "").split(/[\n,]/)) {
            const full = resolver.text(ref.trim());
            const m = full && /^(.+):([\w][\w.-]*)$/.exec(full);
            if (m) {
              repositories.add(m[1]!);
              tags.set(m[2]!, { tag: m[2]!, why: `tags of ${IMAGES_WORKFLOW}` });
            } else if (ref.trim()) unresolved.add(`build-push-action tags '${ref.trim()}'`);
          }
        }
      }
    }
  }
  return {
    workflow: IMAGES_WORKFLOW,
    repositories: [...repositories].sort(),
    tags: [...tags.values()],
    unresolved: [...unresolved],
  };
}

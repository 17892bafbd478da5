/**
 * `pnpm promote <cluster>`: bump the chapter pin, re-render, validate, commit on
 * `promote/<cluster>/<chapter>`, push, and open the pull request. All or nothing up to the push.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { readTree } from "../fs/tree.ts";
import { loadRepoOrThrow } from "../model/repo.ts";
import { renderedRoot } from "../render/layout.ts";
import { composeCluster, renderClusters } from "../render/pipeline.ts";
import type { Composition } from "../compose/compose.ts";
import { FindingsError } from "../findings.ts";
import type { RepoModel } from "../model/repo.ts";
import { renderPlatform } from "../render/platform.ts";
import { platformChanges, type PlatformChange } from "../render/platform-diff.ts";
import { openPlatform } from "../render/platform-input.ts";
import { validateCacheRoot } from "../validate/schema-cache.ts";
import { helmTemplateDeps } from "../render/helm-template.ts";
import { setClusterChapter } from "./cluster-yaml.ts";
import { Git } from "./git.ts";
import { ChangeGuard } from "./interrupt.ts";
import { promotionBody, promotionCommitMessage, promotionTitle, type PromotionText } from "./messages.ts";
import { pairedClusters, planPromotion, withChapter, type PromotionPlan } from "./plan.ts";
import { publishBranch, type PublishResult } from "./publish.ts";
import { resourceChanges, type ResourceChange } from "./resources.ts";
import { validateStep, validatorModule, writeAndValidate, type ValidationOutcome } from "./validate-step.ts";
import { promotionServerOptions } from "../validate/server-step.ts";
import { commitChange, preflight, type ChangeCommandOptions } from "./workspace.ts";

export interface PromoteOptions extends ChangeCommandOptions {
  cluster: string;
  /** Target chapter (`5`, `05`, `05-slug`); one step when absent. */
  to?: string;
}

export interface PromoteResult {
  plan: PromotionPlan;
  branch: string;
  changes: ResourceChange[];
  validation: ValidationOutcome;
  title: string;
  body: string;
  dryRun: boolean;
  commit?: string;
  publish?: PublishResult;
}

/**
 * The platform render before and after, compared per Application; undefined (with a log line)
 * when the repository has no usable chart lock.
 */
async function platformDiff(
  root: string,
  model: RepoModel,
  plan: PromotionPlan,
  after: Composition,
  env: NodeJS.ProcessEnv | undefined,
  log: (line: string) => void,
): Promise<PlatformChange[] | undefined> {
  let input;
  try {
    input = await openPlatform(root, {
      ...(env ? { env } : {}),
      cacheRoot: validateCacheRoot(env),
    });
  } catch (e) {
    if (!(e instanceof FindingsError)) throw e;
    log(`platform charts not compared: ${e.findings.map((f) => f.message).join("; ")}`);
    return undefined;
  }
  log("rendering the platform charts before and after ...");
  const before = await composeCluster(model, plan.cluster, plan.from.dir);
  const [a, b] = [
    await renderPlatform(before, input.packages, input.deps, input.cache),
    await renderPlatform(after, input.packages, input.deps, input.cache),
  ];
  return platformChanges(a, b);
}

export function promotionBranch(cluster: string, chapter: string): string {
  return `promote/${cluster}/${chapter}`;
}

export async function promote(root: string, o: PromoteOptions): Promise<PromoteResult> {
  const log = o.log ?? (() => {});
  // From here until the result, a signal undoes everything (interrupt.ts); a dry run writes nothing.
  const guard = o.dryRun ? undefined : new ChangeGuard(log);
  try {
    return await promoteGuarded(root, o, log, guard);
  } finally {
    guard?.finish();
  }
}

async function promoteGuarded(
  root: string,
  o: PromoteOptions,
  log: (line: string) => void,
  guard: ChangeGuard | undefined,
): Promise<PromoteResult> {
  const git = new Git(root, o.env ?? process.env, guard);
  const deps = o.renderDeps ?? helmTemplateDeps(root);
  const model = await loadRepoOrThrow(root);
  const plan = planPromotion(model, o.cluster, o.to);
  const branch = promotionBranch(plan.cluster.name, plan.to.dir);
  const pre = o.dryRun
    ? undefined
    : await preflight(git, {
        guardClusters: [plan.cluster.name, ...pairedClusters(model, plan.cluster.name)],
        newBranch: branch,
        replacedDirs: [renderedRoot(plan.cluster.name)],
        log,
      });

  log(`rendering ${plan.cluster.name} at ${plan.to.dir} ...`);
  const [rendered] = await renderClusters(
    root,
    { clusters: [plan.cluster.name] },
    deps,
    withChapter(model, plan.cluster.name, plan.to.dir),
  );
  const files = rendered!.files;
  const renderedDir = path.join(root, renderedRoot(plan.cluster.name));
  const changes = resourceChanges(await readTree(renderedDir), files);
  const clusterFile = path.join(root, plan.cluster.file);
  const clusterText = setClusterChapter(await readFile(clusterFile, "utf8"), plan.to.dir);
  const validatorOptions = {
    clusters: [plan.cluster.name],
    chapter: plan.to.dir,
    renderDeps: deps,
    ...(o.env ? { env: o.env } : {}),
    ...validatorModule(o),
    ...(await promotionServerOptions(plan.from.dir, o.env)),
  };

  const platform = await platformDiff(root, model, plan, rendered!.composition, o.env, log);
  const text = (validation: ValidationOutcome): PromotionText => ({
    cluster: plan.cluster.name,
    from: plan.from,
    to: plan.to,
    passed: plan.passed,
    changes,
    validation,
    ...(platform ? { platform } : {}),
  });

  if (!pre) {
    const validation = await validateStep(root, validatorOptions);
    return {
      plan,
      branch,
      changes,
      validation,
      title: promotionTitle({ cluster: plan.cluster.name, to: plan.to }),
      body: promotionBody(text(validation)),
      dryRun: true,
    };
  }

  let validation: ValidationOutcome | undefined;
  const commit = await commitChange(git, {
    pre,
    branch,
    paths: [`clusters/${plan.cluster.name}`],
    log,
    ...(guard ? { guard } : {}),
    apply: async () => {
      validation = await writeAndValidate(
        root,
        { clusterFile, clusterText, renderedDir, files },
        validatorOptions,
        "promotion",
        log,
        guard,
      );
      return promotionCommitMessage(text(validation));
    },
  });
  log(`committed ${commit.slice(0, 12)} on ${branch}`);
  const body = promotionBody(text(validation!));
  const title = promotionTitle({ cluster: plan.cluster.name, to: plan.to });
  const publish = await publishBranch(git, {
    pre,
    guardClusters: [plan.cluster.name, ...pairedClusters(model, plan.cluster.name)],
    branch,
    title,
    body,
    noPr: o.noPr,
    env: o.env,
    fetchImpl: o.fetchImpl,
    log,
    commit,
    ...(guard ? { guard } : {}),
  });
  return { plan, branch, changes, validation: validation!, title, body, dryRun: false, commit, publish };
}

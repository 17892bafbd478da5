/**
 * Whether a promotion's (or rollback's) validation step runs the server layer, and from which
 * chapter: promote and rollback call this, so their change stays one line.
 *
 * - `GITOPS_SERVER_LAYER=0`: never; `=1`: always (building kube-apiserver and etcd if missing, as CI does);
 * - otherwise: when both pinned binaries are already there (`pnpm tools kube-apiserver etcd`),
 *   since a first build costs minutes a promotion should not silently spend.
 */
import { resolveTool } from "../tools/resolve.ts";
import type { ServerLayerOptions } from "./server-layer.ts";

export async function serverLayerAvailable(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  try {
    await resolveTool("kube-apiserver", { env, install: false });
    await resolveTool("etcd", { env, install: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Validate-step options for a promotion from `fromChapter`: the server layer applies that chapter
 * for real, then dry-runs the target on top (immutable fields, deletions), as the sync would.
 */
export async function promotionServerOptions(
  fromChapter: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ server?: ServerLayerOptions }> {
  const flag = env.GITOPS_SERVER_LAYER;
  if (flag === "0") return {};
  if (flag !== "1" && !(await serverLayerAvailable(env))) return {};
  return { server: { env, promotionFrom: fromChapter } };
}
